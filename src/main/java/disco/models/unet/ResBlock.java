package disco.models.unet;

import disco.models.layers.Modules;
import disco.models.layers.Conv;
import disco.models.layers.GroupNorm32;
import disco.models.layers.Linear;
import disco.torch.Tensors;
import org.bytedeco.pytorch.AutoGradMode;
import org.bytedeco.pytorch.GradMode;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;

/**
 * guided-diffusion's {@code ResBlock}. Keys: {@code in_layers.0} (norm), {@code in_layers.2} (conv),
 * {@code emb_layers.1} (linear), {@code out_layers.0} (norm), {@code out_layers.3} (conv; index 2 is dropout),
 * {@code skip_connection} (a 1x1 conv when the channel count changes).
 */
final class ResBlock extends Module implements Block {
    enum Resample { NONE, UP, DOWN }

    private final GroupNorm32 inNorm;
    private final Conv inConv;
    private final Linear embLinear;
    private final GroupNorm32 outNorm;
    private final Conv outConv;
    private final Conv skip;
    private final boolean scaleShift;
    private final Resample resample;

    ResBlock(int channels, int embChannels, int outChannels, boolean useScaleShiftNorm, Resample resample) {
        this.scaleShift = useScaleShiftNorm;
        this.resample = resample;
        Module in = Modules.register(this, "in_layers", new Module());
        inNorm = Modules.register(in, "0", new GroupNorm32(channels));
        inConv = Modules.register(in, "2", Conv.conv2d(channels, outChannels, 3, 1));
        Module emb = Modules.register(this, "emb_layers", new Module());
        embLinear = Modules.register(emb, "1", new Linear(embChannels, useScaleShiftNorm ? 2L * outChannels : outChannels));
        Module out = Modules.register(this, "out_layers", new Module());
        outNorm = Modules.register(out, "0", new GroupNorm32(outChannels));
        outConv = Modules.register(out, "3", Conv.conv2d(outChannels, outChannels, 3, 1));
        skip = outChannels == channels ? null : Modules.register(this, "skip_connection", Conv.conv2d(channels, outChannels, 1, 0));
    }

    @Override
    public java.util.List<Conv> convs() {
        return skip == null ? java.util.List.of(inConv, outConv) : java.util.List.of(inConv, outConv, skip);
    }

    @Override
    public Tensor forward(Tensor x, Tensor emb) {
        Tensor h1 = inConv.forward(inPart(x));
        return skipPart(x).add(outConv.forward(outPart(h1, embPart(emb, h1))));
    }

    /**
     * {@code silu(t)} for a {@code t} that nothing else holds (a norm's fresh output): in place when grad mode is
     * off (the no-grad forward and the lean trace, which recomputes it in the pull-back), one activation-sized
     * allocation and write fewer; with autograd on, a new tensor (silu's backward reads its input).
     */
    static Tensor siluOfTemporary(Tensor t) {
        return GradMode.is_enabled() ? torch.silu(t) : torch.silu_(t);
    }

    /** {@code silu(norm(x))}, resampled. */
    private Tensor inPart(Tensor x) {
        Tensor h = siluOfTemporary(inNorm.forward(x));
        return resample == Resample.NONE ? h : Resampling.apply(h, resample);
    }

    /** The embedding's projection, [N, C or 2C, 1, 1] in {@code h1}'s dtype. */
    private Tensor embPart(Tensor emb, Tensor h1) {
        return embLinear.forward(torch.silu(emb)).to(h1.scalar_type()).unsqueeze(-1).unsqueeze(-1);
    }

    /** What the second conv sees: {@code silu(norm(h1) * (1 + scale) + shift)}, or {@code silu(norm(h1 + e))}. */
    private Tensor outPart(Tensor h1, Tensor e) {
        if (scaleShift) {
            TensorVector ss = e.chunk(2, 1);
            Tensor scale1 = ss.get(0).add(new org.bytedeco.pytorch.Scalar(1.0));
            Tensor y = outNorm.forward(h1);
            return siluOfTemporary(GradMode.is_enabled() ? y.mul(scale1).add(ss.get(1)) : y.mul_(scale1).add_(ss.get(1)));
        }
        return siluOfTemporary(outNorm.forward(h1.add(e)));
    }

    /**
     * {@link #outPart} pulled back from {@code g} to {@code h1} by hand: the norm's statistics and the activation's
     * input are recomputed, the activation's output is not (autograd would recompute and keep it too).
     */
    private Tensor outPartBackward(Tensor h1, Tensor e, Tensor g) {
        if (scaleShift) {
            TensorVector ss = e.chunk(2, 1);
            Tensor scale1 = ss.get(0).add(new org.bytedeco.pytorch.Scalar(1.0));
            GroupNorm32.Stats st = outNorm.stats(h1);
            // the norm's output is not read again (its backward takes h1 and the statistics): scaled in place
            Tensor a = st.y().mul_(scale1).add_(ss.get(1));
            Tensor gY = torch.silu_backward(g.to(a.scalar_type()), a).mul_(scale1);
            return outNorm.backward(gY, h1, st);
        }
        Tensor z = h1.add(e);
        GroupNorm32.Stats st = outNorm.stats(z);
        return outNorm.backward(torch.silu_backward(g.to(st.y().scalar_type()), st.y()), z, st);
    }

    /** {@code silu(norm(x))} (before resampling) pulled back from {@code g} to {@code x} by hand. */
    private Tensor inPartBackward(Tensor x, Tensor g) {
        GroupNorm32.Stats st = inNorm.stats(x);
        return inNorm.backward(torch.silu_backward(g.to(st.y().scalar_type()), st.y()), x, st);
    }

    /** The skip path: the (resampled) input, through the 1x1 conv when the channel count changes. */
    private Tensor skipPart(Tensor x) {
        Tensor xr = resample == Resample.NONE ? x : Resampling.apply(x, resample);
        return skip == null ? xr : skip.forward(xr);
    }

    /**
     * The forward without autograd that keeps only what {@link Kept#pullBack} needs besides the input (which the
     * caller keeps and hands to the pull-back): the first convolution's output and the embedding's projection. The
     * pull-back recomputes the norms and activations (cheap, elementwise) and takes the convolutions' input gradients
     * from their weights, so a block holds one activation of its own instead of the six autograd saves. Call with
     * grad mode off.
     */
    Kept forwardKept(Tensor x, Tensor emb) {
        Tensor h1 = inConv.forward(inPart(x));
        Tensor e = embPart(emb, h1);
        Tensor out = skipPart(x).add(outConv.forward(outPart(h1, e)));
        return new Kept(h1, e, out);
    }

    /** A {@link #forwardKept}: the output, and the pull-back to the input. */
    final class Kept implements AutoCloseable {
        private final Tensor h1, e, out;

        private Kept(Tensor h1, Tensor e, Tensor out) {
            this.h1 = hold(h1);
            this.e = hold(e);
            this.out = hold(out);
        }

        private static Tensor hold(Tensor t) {
            Tensor r = new Tensor(t);
            r.retainReference();
            return r;
        }

        Tensor output() {
            return out;
        }

        /**
         * {@code (d out / d x)^T g} at the block's input {@code x}, in the caller's scope; {@code wrap} runs each
         * computation (e.g. in an autocast region). Only the resampling's pull-back uses autograd.
         */
        Tensor pullBack(Tensor x, Tensor g, java.util.function.UnaryOperator<java.util.function.Supplier<Tensor>> wrap) {
            Tensor gA2 = Tensors.scoped(wrap.apply(() -> outConv.inputGrad(g)));
            Tensor gH1 = Tensors.scoped(wrap.apply(() -> outPartBackward(h1, e, gA2)));
            Tensor gA1 = Tensors.scoped(wrap.apply(() -> inConv.inputGrad(gH1)));
            Tensor gPre = resample == Resample.NONE ? gA1 : segment(x, t -> Resampling.apply(t, resample), gA1, wrap);
            Tensor gX = Tensors.scoped(wrap.apply(() -> inPartBackward(x, gPre)));
            Tensor gS = skip == null ? g : Tensors.scoped(wrap.apply(() -> skip.inputGrad(g)));
            if (resample != Resample.NONE) gS = segment(x, t -> Resampling.apply(t, resample), gS, wrap);
            return gX.add(gS.to(gX.scalar_type()));
        }

        private static Tensor segment(Tensor input, java.util.function.UnaryOperator<Tensor> f, Tensor g,
                                      java.util.function.UnaryOperator<java.util.function.Supplier<Tensor>> wrap) {
            return Tensors.scoped(() -> {
                try (AutoGradMode on = new AutoGradMode(true)) {
                    Tensor leaf = input.detach().requires_grad_(true);
                    Tensor y = wrap.apply(() -> f.apply(leaf)).get();
                    return Tensors.vjp(y, leaf, g.to(y.scalar_type()));
                }
            });
        }

        private boolean closed;

        @Override
        public void close() {
            if (closed) return;
            closed = true;
            h1.close();
            e.close();
            out.close();
        }
    }
}
