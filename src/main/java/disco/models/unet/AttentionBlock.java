package disco.models.unet;

import disco.models.layers.Modules;
import disco.models.layers.Conv;
import disco.models.layers.GroupNorm32;
import org.bytedeco.pytorch.DoubleOptional;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;

/**
 * guided-diffusion's {@code AttentionBlock}: {@code norm}, {@code qkv} (1x1 conv1d to 3C), attention over the
 * spatial positions, {@code proj_out}; residual. Legacy order (QKVAttentionLegacy) splits heads then q/k/v; the
 * new order (QKVAttention) splits q/k/v then heads. Both scale q and k by ch^-1/4 and take the softmax in float32.
 */
final class AttentionBlock extends Module implements Block {
    private final GroupNorm32 norm;
    private final Conv qkv;
    private final Conv projOut;
    private final int heads;
    private final boolean newOrder;

    AttentionBlock(int channels, int numHeads, int numHeadChannels, boolean newOrder) {
        this.heads = numHeadChannels == -1 ? numHeads : channels / numHeadChannels;
        this.newOrder = newOrder;
        norm = Modules.register(this, "norm", new GroupNorm32(channels));
        qkv = Modules.register(this, "qkv", new Conv(1, channels, channels * 3L, 1, 1, 0));
        projOut = Modules.register(this, "proj_out", new Conv(1, channels, channels, 1, 1, 0));
    }

    @Override
    public java.util.List<Conv> convs() {
        return java.util.List.of(qkv, projOut);
    }

    @Override
    public Tensor forward(Tensor x, Tensor emb) {
        long b = x.size(0), c = x.size(1), hgt = x.size(2), wid = x.size(3);
        long t = hgt * wid;
        Tensor flat = x.reshape(b, c, t);
        Tensor h = attention(qkv.forward(norm.forward(flat)), heads, newOrder);
        h = projOut.forward(h);
        return flat.add(h).reshape(b, c, hgt, wid);
    }

    /** QKVAttention(Legacy) on {@code qkvOut} [B, 3 * heads * ch, T]: returns [B, heads * ch, T]. */
    static Tensor attention(Tensor qkvOut, int heads, boolean newOrder) {
        long b = qkvOut.size(0), width = qkvOut.size(1), t = qkvOut.size(2);
        long ch = width / (3L * heads);
        Scalar scale = new Scalar(1.0 / Math.sqrt(Math.sqrt(ch)));
        Tensor q, k, v;
        if (newOrder) {
            TensorVector parts = qkvOut.chunk(3, 1);
            q = parts.get(0).mul(scale).reshape(b * heads, ch, t);
            k = parts.get(1).mul(scale).reshape(b * heads, ch, t);
            v = parts.get(2).reshape(b * heads, ch, t);
        } else {
            TensorVector parts = qkvOut.reshape(b * heads, ch * 3, t).split(ch, 1);
            q = parts.get(0).mul(scale);
            k = parts.get(1).mul(scale);
            v = parts.get(2);
        }
        // softmax((q s)^T (k s)) v^T with s = ch^-1/4, i.e. scale 1/sqrt(ch) on q.k: LibTorch's fused attention
        // (flash / memory-efficient kernels; no [t, t] matrix in memory), on [bh, t, ch] layouts
        Tensor a = torch.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2),
                new TensorOptional(), 0.0, false, new DoubleOptional(1.0), false).transpose(1, 2);
        return a.reshape(b, -1, t);
    }
}
