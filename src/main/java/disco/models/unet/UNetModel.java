package disco.models.unet;

import disco.models.layers.Modules;
import disco.models.layers.Conv;
import disco.models.layers.GroupNorm32;
import disco.models.layers.Linear;
import disco.models.layers.Params;
import disco.models.checkpoint.TorchCheckpoint;
import disco.torch.Tensors;
import disco.torch.Torch;
import org.bytedeco.javacpp.PointerScope;
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
        return outConv.forward(ResBlock.siluOfTemporary(outNorm.forward(h)));
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
            return new BlockTraced(out, x, emb, kept, wrap, inDtype);
        }
    }

    private static Tensor keep(Tensor t) {
        t.retainReference();
        return t;
    }

    private Tensor head(Tensor h, ScalarType inDtype) {
        if (torsoDtype != inDtype) h = h.to(inDtype);
        return outConv.forward(ResBlock.siluOfTemporary(outNorm.forward(h)));
    }

    /** A checkpointed forward ({@link #trace}): its output, and one pull-back to the input. */
    private final class BlockTraced implements Traced {
        private final Tensor out, x, emb;
        private final List<Tensor> kept;
        private final UnaryOperator<Supplier<Tensor>> wrap;
        private final ScalarType inDtype;
        private boolean open = true;

        private BlockTraced(Tensor out, Tensor x, Tensor emb, List<Tensor> kept, UnaryOperator<Supplier<Tensor>> wrap,
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
     * The forward of {@link #forward} kept for one vector-Jacobian product at a fraction of autograd's memory, the
     * same values and (to rounding) the same gradient. The residual blocks run without autograd and keep only their
     * first convolution's output besides the values between layers ({@link ResBlock#forwardKept}; the pull-back
     * joins a decoder block's concatenated input again, recomputes the norms and activations and takes each
     * convolution's input gradient from its weight); every other layer (the input convolution, attention, plain
     * resampling, the output head) keeps its autograd graph. No convolution is run twice, unlike {@link #trace}.
     *
     * @param wrap runs each layer computation (the forward and every recompute), e.g. inside an autocast region
     */
    public Traced traceLean(Tensor x, Tensor timesteps, UnaryOperator<Supplier<Tensor>> wrap) {
        ScalarType inDtype = x.scalar_type().intern();
        LeanTraced tr = new LeanTraced(x);
        boolean done = false;
        try {
            try (NoGradGuard ng = new NoGradGuard()) {
                tr.emb = keep(Tensors.scoped(() -> timeEmbed2.forward(torch.silu(timeEmbed0.forward(
                        timestepEmbedding(timesteps, config.numChannels()))))));
            }
            int cur = 0;
            List<Integer> skips = new ArrayList<>();
            for (int i = 0; i < inputBlocks.size(); i++) {
                List<Block> layers = inputBlocks.get(i).layers();
                for (int j = 0; j < layers.size(); j++) {
                    boolean first = i == 0 && j == 0 && inDtype != torsoDtype;
                    cur = tr.add(layers.get(j), new int[] {cur}, wrap, first ? t -> t.to(torsoDtype) : null);
                }
                skips.add(cur);
            }
            for (Block b : middleBlock.layers()) cur = tr.add(b, new int[] {cur}, wrap, null);
            for (EmbedSequential seq : outputBlocks) {
                List<Block> layers = seq.layers();
                for (int j = 0; j < layers.size(); j++) {
                    int[] in = j == 0 ? new int[] {cur, skips.remove(skips.size() - 1)} : new int[] {cur};
                    cur = tr.add(layers.get(j), in, wrap, null);
                }
            }
            cur = tr.addGraph((h, e) -> head(h, inDtype), new int[] {cur}, wrap, null);
            tr.out = cur;
            done = true;
            return tr;
        } finally {
            if (!done) tr.close();
        }
    }

    /** A forward kept for one pull-back: its output, and the vector-Jacobian product to the input. */
    public interface Traced extends AutoCloseable {
        /** The network output (no graph); until the pull-back or {@link #close}. */
        Tensor output();

        /** {@code (d out / d x)^T g}, in the caller's scope; once. */
        Tensor vjp(Tensor gOut);

        /** Releases what the pull-back would have needed (also after it). */
        @Override
        void close();
    }

    /** {@link #traceLean}: the values between layers, and per layer what its pull-back needs. */
    private final class LeanTraced implements Traced {
        /** A layer's pull-back: the gradient of its output to the gradient of each of its inputs. */
        private interface Back extends AutoCloseable {
            Tensor[] pullBack(Tensor g);

            @Override
            void close();
        }

        private record Node(int[] in, int out, Back back) {}

        private final List<Tensor> values = new ArrayList<>(); // value 0: the caller's input (not owned)
        private final List<Node> nodes = new ArrayList<>();
        private Tensor emb;
        private int out = -1;
        private boolean open = true;

        LeanTraced(Tensor x) {
            values.add(x);
        }

        /** The layer applied to the concatenation of the values {@code in}; returns its output's value index. */
        int add(Block layer, int[] in, UnaryOperator<Supplier<Tensor>> wrap, UnaryOperator<Tensor> pre) {
            if (layer instanceof ResBlock rb && pre == null) {
                ResBlock.Kept k;
                Tensor output;
                try (PointerScope s = new PointerScope(); NoGradGuard ng = new NoGradGuard()) {
                    k = keptForward(rb, concat(in), wrap);
                    output = new Tensor(k.output());
                    output.retainReference();
                }
                return push(in, output, new Back() {
                    public Tensor[] pullBack(Tensor g) {
                        // the input is the values' concatenation again (a decoder block's skip joined to its input)
                        return split(k.pullBack(concat(in), g, wrap), in);
                    }

                    public void close() {
                        k.close(); // idempotent
                    }
                });
            }
            return addGraph(layer::forward, in, wrap, pre);
        }

        private ResBlock.Kept keptForward(ResBlock rb, Tensor input, UnaryOperator<Supplier<Tensor>> wrap) {
            ResBlock.Kept[] k = new ResBlock.Kept[1];
            wrap.apply(() -> {
                k[0] = rb.forwardKept(input, emb);
                return k[0].output();
            }).get();
            return k[0];
        }

        /** A layer that keeps its autograd graph from a leaf at its (concatenated) input. */
        int addGraph(java.util.function.BinaryOperator<Tensor> f, int[] in, UnaryOperator<Supplier<Tensor>> wrap,
                     UnaryOperator<Tensor> pre) {
            Tensor leaf, y;
            try (PointerScope s = new PointerScope(); AutoGradMode on = new AutoGradMode(true)) {
                leaf = keep(new Tensor(concat(in).detach().requires_grad_(true)));
                Tensor l = leaf;
                y = keep(new Tensor(wrap.apply(() -> f.apply(pre == null ? l : pre.apply(l), emb)).get()));
            }
            Tensor output;
            try (PointerScope s = new PointerScope()) {
                output = keep(new Tensor(y.detach()));
            }
            return push(in, output, new Back() {
                private boolean closed;

                public Tensor[] pullBack(Tensor g) {
                    return split(Tensors.scoped(() -> Tensors.vjp(y, leaf, g.to(y.scalar_type()))), in);
                }

                public void close() {
                    if (closed) return;
                    closed = true;
                    y.close();
                    leaf.close();
                }
            });
        }

        private Tensor concat(int[] in) {
            if (in.length == 1) return values.get(in[0]);
            TensorVector parts = new TensorVector();
            for (int i : in) parts.push_back(values.get(i));
            return torch.cat(parts, 1);
        }

        /** The gradient of a concatenation split back into its parts (a view each). */
        private Tensor[] split(Tensor g, int[] in) {
            if (in.length == 1) return new Tensor[] {g};
            Tensor[] out = new Tensor[in.length];
            long at = 0;
            for (int i = 0; i < in.length; i++) {
                long c = values.get(in[i]).size(1);
                out[i] = g.narrow(1, at, c);
                at += c;
            }
            return out;
        }

        /** Records a layer whose output is {@code output} (a handle owned by the trace from now on). */
        private int push(int[] in, Tensor output, Back back) {
            if (!open) throw new IllegalStateException("trace closed");
            values.add(output);
            nodes.add(new Node(in, values.size() - 1, back));
            return values.size() - 1;
        }

        @Override
        public Tensor output() {
            if (!open) throw new IllegalStateException("UNet trace already pulled back or closed");
            return values.get(out);
        }

        @Override
        public Tensor vjp(Tensor gOut) {
            if (!open) throw new IllegalStateException("UNet trace already pulled back");
            Tensor[] g = new Tensor[values.size()];
            Tensor r;
            try {
                g[out] = own(gOut);
                for (int n = nodes.size() - 1; n >= 0; n--) {
                    Node node = nodes.get(n);
                    Tensor go = g[node.out()];
                    g[node.out()] = null;
                    try (PointerScope inner = new PointerScope()) {
                        Tensor[] gi = node.back().pullBack(go);
                        for (int k = 0; k < gi.length; k++) {
                            int v = node.in()[k];
                            Tensor acc = g[v] == null ? gi[k] : g[v].add(gi[k]);
                            if (g[v] != null) g[v].close();
                            g[v] = own(acc);
                        }
                    }
                    go.close();
                    // nothing later in the pull-back needs this layer's saved tensors or its output
                    node.back().close();
                    values.get(node.out()).close();
                    values.set(node.out(), null);
                }
                r = g[0];
                g[0] = null;
            } finally {
                for (Tensor t : g) if (t != null) t.close();
                close();
            }
            PointerScope outer = PointerScope.getInnerScope();
            if (outer != null) {
                outer.attach(r);
                r.releaseReference();
            }
            return r;
        }

        /** A handle of {@code t} owned by the caller alone (no scope holds it): {@code close()} frees it. */
        private static Tensor own(Tensor t) {
            try (PointerScope s = new PointerScope()) {
                Tensor r = new Tensor(t);
                r.retainReference();
                return r;
            }
        }

        @Override
        public void close() {
            if (!open) return;
            open = false;
            for (Node n : nodes) n.back().close();
            for (int i = 1; i < values.size(); i++) if (values.get(i) != null) values.get(i).close();
            if (emb != null) emb.close();
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
