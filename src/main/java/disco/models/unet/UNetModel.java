package disco.models.unet;

import disco.models.layers.Modules;
import disco.models.layers.Conv;
import disco.models.layers.GroupNorm32;
import disco.models.layers.Linear;
import disco.models.layers.Params;
import disco.models.checkpoint.TorchCheckpoint;
import disco.torch.Tensors;
import disco.torch.Torch;
import org.bytedeco.pytorch.AutoGradMode;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Set;
import java.util.function.Supplier;
import java.util.function.UnaryOperator;

/**
 * guided-diffusion's {@code UNetModel} (unconditional, 2-D) in LibTorch's {@code nn} API, with the upstream parameter
 * names: {@code time_embed.{0,2}}, {@code input_blocks.N.M}, {@code middle_block.{0,1,2}}, {@code output_blocks.N.M},
 * {@code out.{0,2}}. Runs in eval mode (no dropout). {@link #forward} allocates its intermediates in the caller's
 * {@code PointerScope}; it records autograd when grad mode is on, so gradients can flow back to {@code x}.
 */
public final class UNetModel extends Module {
    private final UNetConfig config;
    private final Linear timeEmbed0;
    private final Linear timeEmbed2;
    private final List<EmbedSequential> inputBlocks = new ArrayList<>();
    private final EmbedSequential middleBlock;
    private final List<EmbedSequential> outputBlocks = new ArrayList<>();
    private final GroupNorm32 outNorm;
    private final Conv outConv;
    private ScalarType torsoDtype = ScalarType.Float;

    public UNetModel(UNetConfig c) {
        Torch.init();
        c.validate("UNet config");
        this.config = c;
        int mc = c.numChannels();
        int embDim = mc * 4;
        Module te = Modules.register(this, "time_embed", new Module());
        timeEmbed0 = Modules.register(te, "0", new Linear(mc, embDim));
        timeEmbed2 = Modules.register(te, "2", new Linear(embDim, embDim));

        double[] mult = c.channelMult();
        Module inputs = Modules.register(this, "input_blocks", new Module());
        int ch = c.channels(mult[0]);
        int inputCh = ch;
        addBlock(inputs, inputBlocks, new EmbedSequential().add(Conv.conv2d(3, ch, 3, 1)));
        Deque<Integer> skipChans = new ArrayDeque<>();
        skipChans.push(ch);
        int ds = 1;
        for (int level = 0; level < mult.length; level++) {
            for (int i = 0; i < c.numResBlocks(); i++) {
                int outCh = c.channels(mult[level]);
                EmbedSequential seq = new EmbedSequential()
                        .add(new ResBlock(ch, embDim, outCh, c.useScaleShiftNorm(), ResBlock.Resample.NONE));
                ch = outCh;
                if (c.attentionAt(ds)) {
                    seq.add(new AttentionBlock(ch, c.numHeads(), c.numHeadChannels(), c.useNewAttentionOrder()));
                }
                addBlock(inputs, inputBlocks, seq);
                skipChans.push(ch);
            }
            if (level != mult.length - 1) {
                EmbedSequential seq = new EmbedSequential();
                if (c.resblockUpdown()) {
                    seq.add(new ResBlock(ch, embDim, ch, c.useScaleShiftNorm(), ResBlock.Resample.DOWN));
                } else {
                    seq.add(new Resampling(ResBlock.Resample.DOWN, ch, true, ch));
                }
                addBlock(inputs, inputBlocks, seq);
                skipChans.push(ch);
                ds *= 2;
            }
        }
        middleBlock = Modules.register(this, "middle_block", new EmbedSequential()
                .add(new ResBlock(ch, embDim, ch, c.useScaleShiftNorm(), ResBlock.Resample.NONE))
                .add(new AttentionBlock(ch, c.numHeads(), c.numHeadChannels(), c.useNewAttentionOrder()))
                .add(new ResBlock(ch, embDim, ch, c.useScaleShiftNorm(), ResBlock.Resample.NONE)));

        Module outputs = Modules.register(this, "output_blocks", new Module());
        for (int level = mult.length - 1; level >= 0; level--) {
            for (int i = 0; i <= c.numResBlocks(); i++) {
                int ich = skipChans.pop();
                int outCh = c.channels(mult[level]);
                EmbedSequential seq = new EmbedSequential()
                        .add(new ResBlock(ch + ich, embDim, outCh, c.useScaleShiftNorm(), ResBlock.Resample.NONE));
                ch = outCh;
                if (c.attentionAt(ds)) {
                    seq.add(new AttentionBlock(ch, c.numHeadsUpsample(), c.numHeadChannels(), c.useNewAttentionOrder()));
                }
                if (level > 0 && i == c.numResBlocks()) {
                    if (c.resblockUpdown()) {
                        seq.add(new ResBlock(ch, embDim, ch, c.useScaleShiftNorm(), ResBlock.Resample.UP));
                    } else {
                        seq.add(new Resampling(ResBlock.Resample.UP, ch, true, ch));
                    }
                    ds /= 2;
                }
                addBlock(outputs, outputBlocks, seq);
            }
        }
        Module out = Modules.register(this, "out", new Module());
        outNorm = Modules.register(out, "0", new GroupNorm32(ch));
        outConv = Modules.register(out, "2", Conv.conv2d(inputCh, c.outChannels(), 3, 1));
    }

    private static void addBlock(Module parent, List<EmbedSequential> list, EmbedSequential seq) {
        Modules.register(parent, Integer.toString(list.size()), seq);
        list.add(seq);
    }

    public UNetConfig config() {
        return config;
    }

    /**
     * guided-diffusion's {@code convert_to_fp16} (what DD does when {@code use_fp16}): the convolutions of the input,
     * middle and output blocks become {@code dtype} (e.g. Half on a GPU); the time embedding, the norms (statistics
     * in float32 anyway) and the output head stay float32. {@link #forward} then runs the torso in that dtype and
     * returns float32, as upstream does.
     */
    public UNetModel convertTorsoTo(ScalarType dtype) {
        List<EmbedSequential> torso = new ArrayList<>(inputBlocks);
        torso.add(middleBlock);
        torso.addAll(outputBlocks);
        for (EmbedSequential s : torso) for (Conv c : s.convs()) c.convertTo(dtype);
        torsoDtype = dtype.intern();
        return this;
    }

    /** The dtype the input, middle and output blocks compute in (Float unless {@link #convertTorsoTo}). */
    public ScalarType torsoDtype() {
        return torsoDtype;
    }

    /**
     * The model output for images {@code x} [N, 3, H, W] at {@code timesteps} [N] (the values the model is fed, i.e.
     * already rescaled to the 1000-step scale when rescale_timesteps is on): [N, 6, H, W] with learn_sigma (eps first),
     * else [N, 3, H, W]. H and W must be multiples of {@link UNetConfig#sizeMultiple()}.
     */
    public Tensor forward(Tensor x, Tensor timesteps) {
        if (x.dim() != 4 || x.size(1) != 3) {
            throw new IllegalArgumentException("UNet input must be [N, 3, H, W], got " + java.util.Arrays.toString(Tensors.shape(x)));
        }
        int m = config.sizeMultiple();
        if (x.size(2) % m != 0 || x.size(3) % m != 0) {
            throw new IllegalArgumentException("UNet input height and width must be multiples of " + m + ", got "
                    + x.size(2) + "x" + x.size(3));
        }
        Tensor emb = timeEmbed2.forward(torch.silu(timeEmbed0.forward(timestepEmbedding(timesteps, config.numChannels()))));
        List<Tensor> hs = new ArrayList<>();
        ScalarType inDtype = x.scalar_type().intern();
        Tensor h = inDtype == torsoDtype ? x : x.to(torsoDtype);
        for (EmbedSequential b : inputBlocks) {
            h = b.forward(h, emb);
            hs.add(h);
        }
        h = middleBlock.forward(h, emb);
        for (EmbedSequential b : outputBlocks) {
            h = torch.cat(new TensorVector(h, hs.remove(hs.size() - 1)), 1);
            h = b.forward(h, emb);
        }
        if (torsoDtype != inDtype) h = h.to(inDtype);
        return outConv.forward(torch.silu(outNorm.forward(h)));
    }

    /**
     * The forward of {@link #forward} kept for one vector-Jacobian product with block checkpointing, as
     * guided-diffusion's {@code use_checkpoint} (DD as shipped): the forward runs without autograd and keeps only
     * the outputs of the input, middle and output blocks; {@link Traced#vjp} recomputes each block with autograd,
     * pulls the gradient back through it and frees its graph before the next one, so at most one block's
     * activations are held at a time. Same values as {@link #forward}; the gradient differs only in the order in
     * which the skip connections' gradients are summed.
     *
     * @param wrap runs each block computation (the forward and every recompute), e.g. inside an autocast region
     */
    public Traced trace(Tensor x, Tensor timesteps, UnaryOperator<Supplier<Tensor>> wrap) {
        ScalarType inDtype = x.scalar_type().intern();
        List<Tensor> kept = new ArrayList<>(); // outputs of the input blocks (the skips), the middle block, the output blocks
        try (NoGradGuard ng = new NoGradGuard()) {
            Tensor emb = keep(Tensors.scoped(() -> timeEmbed2.forward(torch.silu(timeEmbed0.forward(
                    timestepEmbedding(timesteps, config.numChannels()))))));
            Tensor h = inDtype == torsoDtype ? x : x.to(torsoDtype);
            for (EmbedSequential b : inputBlocks) {
                Tensor in = h;
                h = keep(Tensors.scoped(wrap.apply(() -> b.forward(in, emb))));
                kept.add(h);
            }
            Tensor mid = h;
            h = keep(Tensors.scoped(wrap.apply(() -> middleBlock.forward(mid, emb))));
            kept.add(h);
            int nIn = inputBlocks.size();
            for (int j = 0; j < outputBlocks.size(); j++) {
                EmbedSequential b = outputBlocks.get(j);
                Tensor in = h, skip = kept.get(nIn - 1 - j);
                h = keep(Tensors.scoped(wrap.apply(() -> b.forward(torch.cat(new TensorVector(in, skip), 1), emb))));
                kept.add(h);
            }
            Tensor last = h;
            Tensor out = Tensors.scoped(wrap.apply(() -> head(last, inDtype)));
            return new Traced(out, x, emb, kept, wrap, inDtype);
        }
    }

    private static Tensor keep(Tensor t) {
        t.retainReference();
        return t;
    }

    private Tensor head(Tensor h, ScalarType inDtype) {
        if (torsoDtype != inDtype) h = h.to(inDtype);
        return outConv.forward(torch.silu(outNorm.forward(h)));
    }

    /** A checkpointed forward ({@link #trace}): its output, and one pull-back to the input. */
    public final class Traced implements AutoCloseable {
        private final Tensor out, x, emb;
        private final List<Tensor> kept;
        private final UnaryOperator<Supplier<Tensor>> wrap;
        private final ScalarType inDtype;
        private boolean open = true;

        private Traced(Tensor out, Tensor x, Tensor emb, List<Tensor> kept, UnaryOperator<Supplier<Tensor>> wrap,
                       ScalarType inDtype) {
            this.out = out;
            this.x = x;
            this.emb = emb;
            this.kept = kept;
            this.wrap = wrap;
            this.inDtype = inDtype;
        }

        /** The network output (no graph). */
        public Tensor output() {
            return out;
        }

        /** {@code (d out / d x)^T g}, recomputing block by block, in the caller's scope; once. */
        public Tensor vjp(Tensor gOut) {
            if (!open) throw new IllegalStateException("checkpointed UNet forward already pulled back");
            int nIn = inputBlocks.size(), nOut = outputBlocks.size();
            Tensor[] skipGrad = new Tensor[nIn];
            try {
                Tensor g = grad(kept.get(nIn + nOut), h -> head(h, inDtype), gOut);
                for (int j = nOut - 1; j >= 0; j--) {
                    EmbedSequential b = outputBlocks.get(j);
                    int skip = nIn - 1 - j;
                    Tensor h = kept.get(nIn + j), sk = kept.get(skip);
                    // the block's input is cat(h, skip): its gradient splits back along the channels
                    Tensor gIn = grad(torch.cat(new TensorVector(h, sk), 1), in -> b.forward(in, emb), g);
                    g = gIn.narrow(1, 0, h.size(1));
                    skipGrad[skip] = gIn.narrow(1, h.size(1), sk.size(1));
                }
                g = grad(kept.get(nIn - 1), h -> middleBlock.forward(h, emb), g);
                for (int i = nIn - 1; i >= 0; i--) {
                    Tensor gi = g.add(skipGrad[i]);
                    EmbedSequential b = inputBlocks.get(i);
                    if (i > 0) {
                        g = grad(kept.get(i - 1), h -> b.forward(h, emb), gi);
                    } else {
                        g = grad(x, h -> b.forward(inDtype == torsoDtype ? h : h.to(torsoDtype), emb), gi);
                    }
                }
                return g;
            } finally {
                close();
            }
        }

        /** {@code (d f(input) / d input)^T g} with f's graph made and freed inside a scope of its own. */
        private Tensor grad(Tensor input, UnaryOperator<Tensor> f, Tensor g) {
            return Tensors.scoped(() -> {
                try (AutoGradMode on = new AutoGradMode(true)) {
                    Tensor leaf = input.detach().requires_grad_(true);
                    Tensor y = wrap.apply(() -> f.apply(leaf)).get();
                    return Tensors.vjp(y, leaf, g.to(y.scalar_type()));
                }
            });
        }

        /** Releases the kept block outputs (also after a pull-back). */
        @Override
        public void close() {
            if (!open) return;
            open = false;
            for (Tensor t : kept) t.close();
            kept.clear();
            emb.close();
        }
    }

    /**
     * guided-diffusion's {@code timestep_embedding}: [cos(t * f), sin(t * f)] with
     * f = exp(-ln(10000) * arange(dim/2) / (dim/2)) in float32, zero-padded when dim is odd.
     */
    public static Tensor timestepEmbedding(Tensor timesteps, int dim) {
        int half = dim / 2;
        Tensor freqs = torch.arange(new Scalar(0), new Scalar(half), new TensorOptions(ScalarType.Float))
                .mul(new Scalar(-Math.log(10000))).div(new Scalar((double) half)).exp()
                .to(timesteps.device(), ScalarType.Float);
        Tensor args = timesteps.to(ScalarType.Float).unsqueeze(1).mul(freqs.unsqueeze(0));
        Tensor e = torch.cat(new TensorVector(args.cos(), args.sin()), -1);
        if (dim % 2 == 1) e = torch.cat(new TensorVector(e, torch.zeros_like(e.narrow(1, 0, 1))), -1);
        return e;
    }

    /**
     * Builds the network for {@code config} and loads {@code checkpoint} into it (strict; float16 converted); its
     * parameters are frozen (gradients flow to inputs only).
     */
    public static UNetModel load(UNetConfig config, Path checkpoint) {
        UNetModel m = new UNetModel(config);
        TorchCheckpoint.load(m, checkpoint, Set.of()); // streamed: one storage in memory at a time
        m.eval();
        Params.freeze(m);
        return m;
    }

    /** Fills the parameters deterministically from {@code seed} (see {@link Params#randomInit}). */
    public UNetModel randomInit(long seed) {
        Params.randomInit(this, seed, Set.of());
        return this;
    }

    /**
     * The demo UNet: 64x64, 32 channels, channel_mult 1,2,2, one residual block per level, attention at 16 and 8,
     * scale-shift norm, resblock up/down, learn_sigma; random-initialised from a fixed seed (no download).
     */
    public static UNetConfig demoConfig() {
        return new UNetConfig(64, 32, 1, new double[] {1, 2, 2}, new int[] {4, 8}, 4, 16, -1, true, true, true,
                false, false, 0.0);
    }

    /** The demo network (see {@link #demoConfig()}), seed 20221126, parameters frozen. */
    public static UNetModel demo() {
        UNetModel m = new UNetModel(demoConfig()).randomInit(20221126L);
        m.eval();
        Params.freeze(m);
        return m;
    }

    /** Number of parameters. */
    public long parameterCount() {
        long n = 0;
        for (Tensor t : TorchCheckpoint.stateDict(this).values()) n += t.numel();
        return n;
    }
}
