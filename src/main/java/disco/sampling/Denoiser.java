package disco.sampling;

import org.bytedeco.pytorch.Tensor;

/**
 * A denoising network seen by the samplers: at a noisy image {@code x} and a respaced index {@code i} it gives the
 * predicted noise {@code eps} and the predicted clean image {@code pred_xstart}, related by
 * {@code pred_xstart = sqrt(1/ab_i) * x - sqrt(1/ab_i - 1) * eps} (guided-diffusion's {@code _predict_xstart_from_eps}).
 * The UNet (an eps model, {@link EpsDenoiser}) and DD's secondary model (a v model returning {@code pred},
 * {@link XStartDenoiser}) implement it; samplers and guidance never import a network.
 *
 * <p>With {@code withGrad}, the evaluation keeps the network's graph so that one gradient on {@code pred_xstart}
 * can be pulled back to {@code x} ({@link Evaluation#backwardPredXstart}). Autograd is used only there, inside the
 * network.
 */
public interface Denoiser {
    /**
     * Evaluates the network at {@code x} ([N, 3, H, W], float32) and respaced index {@code index}.
     *
     * @param withGrad keep the graph for one {@link Evaluation#backwardPredXstart} call
     */
    Evaluation evaluate(Tensor x, int index, boolean withGrad);

    /** The schedule this denoiser converts eps and pred_xstart with. */
    SpacedAlphas alphas();

    /** One evaluation of a denoiser. The tensors are detached values; close releases the graph if one was kept. */
    interface Evaluation extends AutoCloseable {
        /** The respaced index it was evaluated at. */
        int index();

        /** The input it was evaluated at (detached). */
        Tensor x();

        /** Predicted noise, [N, 3, H, W] (for a learned-sigma UNet: the first 3 output channels). */
        Tensor eps();

        /** Predicted clean image, not clamped. */
        Tensor predXstart();

        /** Whether this evaluation kept its graph (evaluated with grad and not yet pulled back). */
        boolean hasGrad();

        /**
         * The vector-Jacobian product {@code (d pred_xstart / d x)^T g}: the gradient {@code g} on
         * {@code pred_xstart} pulled back to {@code x}, through the network. Allowed once, and only with grad.
         */
        Tensor backwardPredXstart(Tensor g);

        @Override
        void close();
    }
}
