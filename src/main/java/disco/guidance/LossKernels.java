package disco.guidance;

import org.bytedeco.pytorch.Tensor;

/**
 * The losses of DD's cond_fn as explicit forward/backward pairs (no autograd). {@link TorchLossKernels} writes
 * them with LibTorch tensor ops; the native gradient stage provides the same contract.
 */
public interface LossKernels {
    /** DD's {@code spherical_dist_loss(x.unsqueeze(1), y.unsqueeze(0))}: x [a, d], y [b, d] → [a, b]. */
    Tensor spherical(Tensor x, Tensor y);

    /** Its VJP with respect to x: gradOut [a, b] → [a, d]. */
    Tensor sphericalBackwardX(Tensor x, Tensor y, Tensor gradOut);

    /** DD's {@code tv_loss}: [n, c, h, w] → [n]. */
    Tensor tv(Tensor x);

    /** {@code d(sum_b gradLoss[b] * tv(x)[b]) / dx}; gradLoss [n]. */
    Tensor tvBackward(Tensor x, Tensor gradLoss);

    /** DD's {@code range_loss}: [n, c, h, w] → [n]. */
    Tensor range(Tensor x);

    /** DD's saturation loss {@code mean |x - clamp(x, -1, 1)|} over all elements → scalar [1]. */
    Tensor sat(Tensor x);

    /** {@code d(scale * sat(x)) / dx} (zero where |x| <= 1, as torch's abs and clamp give). */
    Tensor satBackward(Tensor x, double scale);

    /**
     * DD's clamp: {@code g * min(rms, clampMax) / rms} with {@code rms = sqrt(mean(g^2))}; writes the rms to
     * {@code rmsOut[0]}.
     */
    Tensor rmsClamp(Tensor g, double clampMax, double[] rmsOut);
}
