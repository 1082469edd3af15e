package disco.models.clip;

import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.DoubleOptional;
import org.bytedeco.pytorch.LongOptional;
import org.bytedeco.pytorch.global.torch;

import java.util.ArrayList;
import java.util.List;

import static disco.models.clip.Ops.opt;

/** The layers CLIP is made of, computed with LibTorch's functional ops, named as in {@code clip/model.py}. */
final class Nn {
    private Nn() {}

    /** {@code nn.Conv2d} (square kernel). */
    static final class Conv2d extends ClipModule {
        final Tensor weight;
        final Tensor bias;
        final long stride, padding;

        Conv2d(Device d, long in, long out, long kernel, long stride, long padding, boolean bias) {
            super(d);
            this.weight = param("weight", out, in, kernel, kernel);
            this.bias = bias ? param("bias", out) : null;
            this.stride = stride;
            this.padding = padding;
        }

        /** The bias of a norm folded into this convolution ({@link #absorb}); null before. */
        private Tensor foldedBias;

        Tensor forward(Tensor x) {
            return torch.conv2d(x, weight, opt(bias != null ? bias : foldedBias), new long[] {stride, stride},
                    new long[] {padding, padding}, new long[] {1, 1}, 1);
        }

        /**
         * Folds the eval-mode norm that follows this bias-free convolution into it: the weights become {@code W *
         * alpha} per output channel and the norm's shift {@code beta} the convolution's bias (oneDNN adds it inside
         * the convolution), so neither the forward nor the backward makes a pass over the activation for the norm.
         * The norm keeps a state that describes the same function: weight 1, running mean 0, running variance
         * {@code 1 - eps} and bias {@code beta}, which this convolution then uses as its bias (the same tensor, so a
         * move of the module moves it). The same function; the products are rounded once more (float32).
         */
        void absorb(BatchNorm2d bn) {
            if (bias != null) throw new IllegalStateException("absorb: this convolution has a bias of its own");
            if (bn.folded()) throw new IllegalStateException("absorb: the norm is folded already");
            try (org.bytedeco.pytorch.NoGradGuard g = new org.bytedeco.pytorch.NoGradGuard();
                 org.bytedeco.javacpp.PointerScope scope = new org.bytedeco.javacpp.PointerScope()) {
                Tensor alpha = bn.alpha();
                Tensor beta = bn.bias.sub(bn.runningMean.mul(alpha));
                weight.mul_(alpha.view(-1, 1, 1, 1).to(weight.scalar_type())); // in place: keeps the memory format
                bn.bias.copy_(beta);
                bn.weight.fill_(new Scalar(1.0));
                bn.runningMean.zero_();
                bn.runningVar.fill_(new Scalar(1.0 - BatchNorm2d.EPS));
            }
            bn.folded = true;
            foldedBias = bn.bias;
        }
    }

    /** {@code nn.BatchNorm2d} in eval mode (running statistics), eps 1e-5. */
    static final class BatchNorm2d extends ClipModule {
        final Tensor weight, bias, runningMean, runningVar;

        BatchNorm2d(Device d, long n) {
            super(d);
            weight = param("weight", n);
            bias = param("bias", n);
            runningMean = buffer("running_mean", torch.ScalarType.Float, n);
            runningVar = buffer("running_var", torch.ScalarType.Float, n);
            buffer("num_batches_tracked", torch.ScalarType.Long);
        }

        static final double EPS = 1e-5;
        /** Whether the convolution before this norm computes it ({@link Conv2d#absorb}): then this is the identity. */
        private boolean folded;

        boolean folded() {
            return folded;
        }

        /** {@code weight / sqrt(running_var + eps)}, per channel. */
        Tensor alpha() {
            return weight.mul(runningVar.add(new Scalar(EPS)).rsqrt());
        }

        /**
         * {@code x * alpha + beta} with {@code alpha = weight / sqrt(running_var + eps)} and {@code beta = bias -
         * running_mean * alpha}, per channel: what PyTorch's eval-mode {@code batch_norm} computes, in one op
         * whose autograd keeps only {@code alpha} (the weights are frozen; {@code batch_norm} would keep its whole
         * input for their gradients, a full activation per norm). Once folded, the identity.
         */
        Tensor forward(Tensor x) {
            if (folded) return x;
            Tensor alpha = alpha();
            Tensor beta = bias.sub(runningMean.mul(alpha));
            torch.ScalarType t = x.scalar_type();
            return torch.addcmul(beta.view(-1, 1, 1).to(t), x, alpha.view(-1, 1, 1).to(t), new Scalar(1.0));
        }
    }

    /** {@code nn.Linear}. */
    static final class Linear extends ClipModule {
        final Tensor weight, bias;

        Linear(Device d, long in, long out) {
            super(d);
            weight = param("weight", out, in);
            bias = param("bias", out);
        }

        Tensor forward(Tensor x) {
            return linear(x, weight, bias);
        }
    }

    /**
     * {@code x W^T + b} over the last dimension of {@code x}. On the CPU (float32 or bfloat16, {@code x}
     * contiguous) it runs as a 1x1 convolution over the rows of {@code x}, viewed without a copy as a channels-last
     * image [1, in, rows, 1], so oneDNN computes it: with the OpenBLAS that LibTorch bundles, a matrix product's
     * input gradient ({@code g W}, the weight untransposed) runs 10-25 % slower than its forward (bench/README.md,
     * "The ViT's linear layers"), and the ViT's backward with it was slower than PyTorch's. Same sums in another
     * order; elsewhere LibTorch's {@code linear}.
     */
    static Tensor linear(Tensor x, Tensor w, Tensor b) {
        torch.ScalarType t = x.scalar_type().intern();
        if (!x.is_cpu() || x.dim() < 2 || !x.is_contiguous() || (t != torch.ScalarType.Float && t != torch.ScalarType.BFloat16)) {
            return torch.linear(x, w, opt(b));
        }
        long in = w.size(1), out = w.size(0), rows = x.numel() / in;
        Tensor img = x.view(1, rows, 1, in).permute(0, 3, 1, 2);
        Tensor y = torch.conv2d(img, w.view(out, in, 1, 1), opt(b), new long[] {1, 1}, new long[] {0, 0},
                new long[] {1, 1}, 1);
        long[] shape = x.sizes().vec().get();
        shape[shape.length - 1] = out;
        return y.permute(0, 2, 3, 1).reshape(shape);
    }

    /** CLIP's {@code LayerNorm}: half-precision activations are normalised in float32 (as CLIP does); eps 1e-5. */
    static final class LayerNorm extends ClipModule {
        final Tensor weight, bias;
        final long width;

        LayerNorm(Device d, long width) {
            super(d);
            this.width = width;
            weight = param("weight", width);
            bias = param("bias", width);
        }

        Tensor forward(Tensor x) {
            torch.ScalarType t = x.scalar_type().intern();
            boolean low = t == torch.ScalarType.Half || t == torch.ScalarType.BFloat16;
            Tensor xs = low ? x.to(torch.ScalarType.Float) : x;
            Tensor y = torch.layer_norm(xs, new long[] {width}, opt(weight), opt(bias), 1e-5, true);
            return low ? y.to(t) : y;
        }
    }

    static Tensor quickGelu(Tensor x) {
        // x·σ(1.702x) = silu(1.702x) / 1.702: one op whose autograd keeps one tensor (x·σ(…) keeps three)
        return torch.silu(x.mul(new Scalar(1.702))).div(new Scalar(1.702));
    }

    /** The MLP activation: OpenAI's (and open_clip's {@code quick_gelu: true}) QuickGELU, or exact (erf) GELU. */
    static Tensor activation(Tensor x, boolean quickGelu) {
        return quickGelu ? quickGelu(x) : torch.gelu(x);
    }

    /**
     * Multi-head attention of batch-first [N, L, D] inputs with heads of width {@code D / heads}: q/k/v split
     * into heads, softmax(q k^T / sqrt(head_dim) [+ causal mask]) v, heads merged. Returns [N, Lq, D].
     */
    static Tensor attention(Tensor q, Tensor k, Tensor v, long heads, boolean causal) {
        long n = q.size(0), lq = q.size(1), lk = k.size(1), dModel = q.size(2), hd = dModel / heads;
        Tensor qh = q.reshape(n, lq, heads, hd).transpose(1, 2);
        Tensor kh = k.reshape(n, lk, heads, hd).transpose(1, 2);
        Tensor vh = v.reshape(n, lk, heads, hd).transpose(1, 2);
        Tensor o = torch.scaled_dot_product_attention(qh, kh, vh, opt(null), 0.0, causal, new DoubleOptional(), false);
        return o.transpose(1, 2).reshape(n, lq, dModel);
    }

    /** {@code nn.MultiheadAttention} self-attention (packed in_proj, out_proj), batch first. */
    static final class MultiheadAttention extends ClipModule {
        final Tensor inProjWeight, inProjBias;
        final Linear outProj;
        final long heads;

        MultiheadAttention(Device d, long width, long heads) {
            super(d);
            this.heads = heads;
            inProjWeight = param("in_proj_weight", 3 * width, width);
            inProjBias = param("in_proj_bias", 3 * width);
            outProj = child("out_proj", new Linear(d, width, width));
        }

        Tensor forward(Tensor x, boolean causal) {
            Tensor qkv = linear(x, inProjWeight, inProjBias);
            var parts = qkv.chunk(3, -1);
            Tensor o = attention(parts.get(0), parts.get(1), parts.get(2), heads, causal);
            return outProj.forward(o);
        }

        /**
         * {@link #forward} (not causal) at the first token only: its query against every token's key and value,
         * [N, L, D] to [N, 1, D]. The other tokens' queries are not computed.
         */
        Tensor forwardFirst(Tensor x) {
            long w = inProjWeight.size(1);
            Tensor q = linear(x.narrow(1, 0, 1).contiguous(), inProjWeight.narrow(0, 0, w), inProjBias.narrow(0, 0, w));
            var kv = linear(x, inProjWeight.narrow(0, w, 2 * w), inProjBias.narrow(0, w, 2 * w)).chunk(2, -1);
            return outProj.forward(attention(q, kv.get(0), kv.get(1), heads, false));
        }
    }

    /**
     * CLIP's {@code ResidualAttentionBlock}: pre-LN attention and an MLP ({@code mlpWidth} hidden units, QuickGELU or
     * GELU), both residual.
     */
    static final class ResidualAttentionBlock extends ClipModule {
        final MultiheadAttention attn;
        final LayerNorm ln1, ln2;
        final Mlp mlp;

        ResidualAttentionBlock(Device d, long width, long heads, long mlpWidth, boolean quickGelu) {
            super(d);
            attn = child("attn", new MultiheadAttention(d, width, heads));
            ln1 = child("ln_1", new LayerNorm(d, width));
            mlp = child("mlp", new Mlp(d, width, mlpWidth, quickGelu));
            ln2 = child("ln_2", new LayerNorm(d, width));
        }

        Tensor forward(Tensor x, boolean causal) {
            x = x.add(attn.forward(ln1.forward(x), causal));
            return x.add(mlp.forward(ln2.forward(x)));
        }

        /**
         * {@link #forward} (not causal) of the first token alone, [N, L, D] to [N, 1, D]: every row of the block is
         * a function of its own token except the attention's keys and values, so the first token's output needs the
         * other tokens only there (CLIP's image tower reads the class token alone after the last block).
         */
        Tensor forwardFirst(Tensor x) {
            Tensor first = x.narrow(1, 0, 1).add(attn.forwardFirst(ln1.forward(x)));
            return first.add(mlp.forward(ln2.forward(first)));
        }
    }

    static final class Mlp extends ClipModule {
        final Linear cFc, cProj;
        final boolean quickGelu;

        Mlp(Device d, long width, long hidden, boolean quickGelu) {
            super(d);
            this.quickGelu = quickGelu;
            cFc = child("c_fc", new Linear(d, width, hidden));
            cProj = child("c_proj", new Linear(d, hidden, width));
        }

        Tensor forward(Tensor x) {
            return cProj.forward(activation(cFc.forward(x), quickGelu));
        }
    }

    /** CLIP's {@code Transformer}: {@code resblocks.<i>}; batch-first [N, L, D]. */
    static final class Transformer extends ClipModule {
        final List<ResidualAttentionBlock> blocks = new ArrayList<>();
        final ClipModule resblocks;

        Transformer(Device d, long width, long layers, long heads, long mlpWidth, boolean quickGelu) {
            super(d);
            resblocks = child("resblocks", new Container(d));
            for (int i = 0; i < layers; i++) {
                blocks.add(resblocks.child(Integer.toString(i),
                        new ResidualAttentionBlock(d, width, heads, mlpWidth, quickGelu)));
            }
        }

        Tensor forward(Tensor x, boolean causal) {
            for (ResidualAttentionBlock b : blocks) {
                Tensor in = x;
                x = disco.torch.Tensors.scoped(() -> b.forward(in, causal));
            }
            return x;
        }

        /**
         * {@link #forward} (not causal) where only the first token's output is read: [N, L, D] to [N, 1, D], the
         * last block computing that token alone (its queries, attention output and MLP for one row instead of L).
         */
        Tensor forwardFirst(Tensor x) {
            for (int i = 0; i < blocks.size(); i++) {
                ResidualAttentionBlock b = blocks.get(i);
                Tensor in = x;
                x = i == blocks.size() - 1
                        ? disco.torch.Tensors.scoped(() -> b.forwardFirst(in))
                        : disco.torch.Tensors.scoped(() -> b.forward(in, false));
            }
            return blocks.isEmpty() ? x.narrow(1, 0, 1) : x;
        }
    }

    /** A parameterless holder of numbered children ({@code nn.Sequential}). */
    static final class Container extends ClipModule {
        Container(Device d) {
            super(d);
        }
    }

    /** {@code nn.AvgPool2d(k)}: kernel = stride = k, no padding. */
    static Tensor avgPool(Tensor x, long k) {
        return torch.avg_pool2d(x, new long[] {k, k}, new long[] {k, k}, new long[] {0, 0}, false, true,
                new LongOptional());
    }
}
