package disco.sampling;

import disco.torch.Tensors;
import org.bytedeco.pytorch.AutoGradMode;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;

import static disco.torch.Scalars.f;
import static disco.torch.Scalars.perSample;

/**
 * A guided-diffusion eps model (the UNet) as a {@link Denoiser}: the network is called with the wrapped timestep
 * ({@code timestep_map[i]}, rescaled to the 1000-step scale when {@code rescale_timesteps}), a learned-sigma output's
 * first 3 channels are eps, and {@code pred_xstart = sqrt(1/ab) x - sqrt(1/ab - 1) eps} in float32.
 */
public final class EpsDenoiser extends NetworkDenoiser<EpsDenoiser.Network> {
    /** The network: {@code x} [N, C, H, W] and float32 timesteps [N] to its raw output [N, C or 2C, H, W]. */
    @FunctionalInterface
    public interface Network {
        Tensor forward(Tensor x, Tensor timesteps);
    }

    /**
     * A network whose forward with grad can be checkpointed (guided-diffusion's {@code use_checkpoint}): the
     * forward keeps what its pull-back recomputes from instead of a whole graph.
     */
    public interface Checkpointed extends Network {
        /** The forward at {@code x} (no graph kept) with its one pull-back. */
        Trace trace(Tensor x, Tensor timesteps);
    }

    /** A checkpointed forward: its raw output and one vector-Jacobian product to the input. */
    public interface Trace extends AutoCloseable {
        Tensor output();

        /** {@code (d output / d x)^T gOut}; once. */
        Tensor vjp(Tensor gOut);

        @Override
        void close();
    }

    public EpsDenoiser(Network net, SpacedAlphas alphas) {
        super(net, alphas);
    }

    @Override
    public Evaluation evaluate(Tensor x, int index, boolean withGrad) {
        if (withGrad && net instanceof Checkpointed cp) return evaluateCheckpointed(cp, x, index);
        long c = x.size(1);
        Tensor ts = perSample(x, alphas.modelTime(index));
        Tensor leaf;
        Tensor epsGraph;
        try (AutoGradMode mode = new AutoGradMode(withGrad)) {
            leaf = withGrad ? x.detach().requires_grad_(true) : x.detach();
            Tensor out = net.forward(leaf, ts);
            checkChannels(out, c);
            epsGraph = out.size(1) == c ? out : out.narrow(1, 0, c);
        }
        Tensor eps = epsGraph.detach();
        Tensor pred = predXstart(leaf.detach(), eps, index);
        return new GraphEvaluation(index, leaf, eps, pred, withGrad ? epsGraph : null) {
            @Override
            protected Tensor pullBack(Tensor g) {
                // pred = A x - B eps(x): grad_x = A g + J_eps^T (-B g)
                Tensor ge = g.neg().mul(f(alphas.sqrtRecipM1AlphaBar(index)));
                Tensor viaNet = Tensors.vjp(graphOutput, leafX, ge);
                return viaNet.add(g.mul(f(alphas.sqrtRecipAlphaBar(index))));
            }
        };
    }

    private Evaluation evaluateCheckpointed(Checkpointed cp, Tensor x, int index) {
        long c = x.size(1);
        Tensor xd = x.detach();
        Trace trace = cp.trace(xd, perSample(x, alphas.modelTime(index)));
        Tensor out = trace.output();
        checkChannels(out, c);
        Tensor eps = out.size(1) == c ? out : out.narrow(1, 0, c);
        Tensor pred = predXstart(xd, eps, index);
        return new Evaluation() {
            private boolean open = true;

            public int index() {
                return index;
            }

            public Tensor x() {
                return xd;
            }

            public Tensor eps() {
                return eps;
            }

            public Tensor predXstart() {
                return pred;
            }

            public boolean hasGrad() {
                return open;
            }

            public Tensor backwardPredXstart(Tensor g) {
                if (!open) throw new IllegalStateException("evaluation has no graph (already pulled back)");
                open = false;
                Tensor ge = g.neg().mul(f(alphas.sqrtRecipM1AlphaBar(index)));
                Tensor gOut = out.size(1) == c ? ge : torch.cat(new TensorVector(ge, torch.zeros_like(ge)), 1);
                return trace.vjp(gOut).add(g.mul(f(alphas.sqrtRecipAlphaBar(index))));
            }

            public void close() {
                open = false;
                trace.close();
            }
        };
    }

    private static void checkChannels(Tensor out, long c) {
        if (out.size(1) != c && out.size(1) != 2 * c) {
            throw new IllegalStateException("eps model returned " + out.size(1) + " channels for " + c + " input channels");
        }
    }

    private Tensor predXstart(Tensor x, Tensor eps, int index) {
        return x.mul(f(alphas.sqrtRecipAlphaBar(index))).sub(eps.mul(f(alphas.sqrtRecipM1AlphaBar(index))));
    }

    /** An evaluation that may hold a graph from {@code leafX} to {@code graphOutput}. */
    abstract static class GraphEvaluation implements Evaluation {
        private final int index;
        final Tensor leafX;
        private final Tensor eps;
        private final Tensor pred;
        Tensor graphOutput;

        GraphEvaluation(int index, Tensor leafX, Tensor eps, Tensor pred, Tensor graphOutput) {
            this.index = index;
            this.leafX = leafX;
            this.eps = eps;
            this.pred = pred;
            this.graphOutput = graphOutput;
        }

        @Override
        public int index() {
            return index;
        }

        @Override
        public Tensor x() {
            return leafX.detach();
        }

        @Override
        public Tensor eps() {
            return eps;
        }

        @Override
        public Tensor predXstart() {
            return pred;
        }

        @Override
        public boolean hasGrad() {
            return graphOutput != null;
        }

        @Override
        public Tensor backwardPredXstart(Tensor g) {
            if (graphOutput == null) throw new IllegalStateException("evaluation has no graph (evaluated without grad, or already pulled back)");
            try {
                return pullBack(g);
            } finally {
                graphOutput = null;
            }
        }

        protected abstract Tensor pullBack(Tensor g);

        @Override
        public void close() {
            graphOutput = null;
        }
    }
}
