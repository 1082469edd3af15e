package disco.guidance;

import org.bytedeco.pytorch.Tensor;

import java.util.List;

/**
 * The loss side of DD's cond_fn as explicit forward/backward steps (no autograd): {@link NativeLossKernels} runs
 * them on the native gradient stage ({@code disco.kernels}); {@link TorchLossKernels} is a LibTorch-ops twin.
 * Nothing here reads a value back to the host: the loss values, the NaN flags and the RMS stay on the tensors'
 * device, and the guidance reads what it logs once per call ({@link StepReadback}).
 */
public interface LossKernels {
    /**
     * One CLIP model's loss for one cutn batch: DD's logged {@code losses.sum()} (a one-element float32 tensor on
     * the device, not read) and its gradient.
     */
    record ClipTerm(Tensor lossSum, Tensor gradEmbeds) {}

    /**
     * {@code dists = spherical_dist_loss(emb.unsqueeze(1), target.unsqueeze(0))},
     * {@code losses = dists.view([cuts, n, -1]).mul(weights).sum(2).mean(0)}: {@code losses.sum()} and
     * {@code d losses.sum() / d emb}. {@code emb} [cuts*n, D] cut-major.
     */
    ClipTerm clipLoss(Tensor emb, Tensor target, Tensor weights, long n);

    /**
     * The x_in gradient after DD's NaN guard, and the guard's flags: {@code nanFlags} int32 [m+1] on the device,
     * {@code nanFlags[k]} = 1 when model k's gradient has a NaN, {@code nanFlags[m]} = 1 when the sum has one (then
     * {@code grad} is all zero).
     */
    record XInGrad(Tensor grad, Tensor nanFlags) {}

    /**
     * {@code x_in_grad = clipGuidanceScale / cutnBatches * sum_k modelGrads[k] + tvScale * d tv(x_in).sum()
     * + satScale * d sat(x_in) + initGrad} ({@code modelGrads[k]}: d losses.sum() / d x_in summed over the cutn
     * batches, null when model k is off; DD's range loss is on pred, upstream of x_in, and adds nothing;
     * {@code initGrad}: d(lpips(x_in, init).sum() * init_scale) / d x_in, or null when the term is off). With a NaN
     * anywhere, the flag is set and the gradient is zero; m = {@code modelGrads.size()}.
     */
    XInGrad xInGrad(Tensor xIn, Tensor pred, List<Tensor> modelGrads, double clipGuidanceScale, int cutnBatches,
                    double tvScale, double satScale, Tensor initGrad);

    /** The clamped gradient and the RMS it was clamped with (a one-element float32 tensor on the device). */
    record Clamped(Tensor grad, Tensor rms) {}

    /** DD's clamp {@code g * min(rms, clampMax) / rms} (an all-zero g stays zero), the RMS computed once. */
    Clamped rmsClamp(Tensor g, double clampMax);
}
