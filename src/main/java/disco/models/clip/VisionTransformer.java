package disco.models.clip;

import disco.models.clip.Nn.Conv2d;
import disco.models.clip.Nn.LayerNorm;
import disco.models.clip.Nn.Transformer;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;

/**
 * CLIP's {@code VisionTransformer}: patch conv, class token, positional embedding, {@code ln_pre}, transformer,
 * {@code ln_post} on the class token, then {@code proj}.
 */
final class VisionTransformer extends ClipModule implements ClipModel.ImageTower {
    private final int inputResolution;
    private final Conv2d conv1;
    private final Tensor classEmbedding, positionalEmbedding, proj;
    private final LayerNorm lnPre, lnPost;
    private final Transformer transformer;

    VisionTransformer(Device d, int inputResolution, int patchSize, int width, int layers, int heads, int mlpWidth,
                      boolean quickGelu, int outputDim) {
        super(d);
        this.inputResolution = inputResolution;
        int grid = inputResolution / patchSize;
        conv1 = child("conv1", new Conv2d(d, 3, width, patchSize, patchSize, 0, false));
        classEmbedding = param("class_embedding", width);
        positionalEmbedding = param("positional_embedding", (long) grid * grid + 1, width);
        lnPre = child("ln_pre", new LayerNorm(d, width));
        transformer = child("transformer", new Transformer(d, width, layers, heads, mlpWidth, quickGelu));
        lnPost = child("ln_post", new LayerNorm(d, width));
        proj = param("proj", width, outputDim);
    }

    @Override
    public Tensor forward(Tensor x) {
        Tensor tokens = patchEmbed(x); // [N, g*g, W]
        long n = tokens.size(0), w = tokens.size(2);
        Tensor cls = classEmbedding.reshape(1, 1, w).expand(n, 1, w);
        Tensor seq = torch.cat(new TensorVector(cls, tokens), 1).add(positionalEmbedding);
        seq = lnPre.forward(seq);
        // only the class token is read after the last block: that block computes it alone
        Tensor first = lnPost.forward(transformer.forwardFirst(seq).select(1, 0));
        return first.matmul(proj);
    }

    /**
     * {@code conv1} (kernel = stride = patch, no padding, no bias) as one matrix product over the unfolded patches,
     * [N, 3, R, R] to [N, g*g, W] in the conv's token order. Same sums; its backward is a matrix product too, where
     * the stride-32 convolution's input gradient took several times the forward's time.
     */
    private Tensor patchEmbed(Tensor x) {
        long n = x.size(0), c = x.size(1), ps = conv1.weight.size(2), gh = x.size(2) / ps, gw = x.size(3) / ps;
        Tensor xc = x.size(2) == gh * ps && x.size(3) == gw * ps ? x : x.narrow(2, 0, gh * ps).narrow(3, 0, gw * ps);
        Tensor patches = xc.reshape(n, c, gh, ps, gw, ps).permute(0, 2, 4, 1, 3, 5).reshape(n, gh * gw, c * ps * ps);
        return patches.matmul(conv1.weight.reshape(conv1.weight.size(0), c * ps * ps).t());
    }

    @Override
    public int inputResolution() {
        return inputResolution;
    }
}
