package disco.guidance;

import org.bytedeco.pytorch.Tensor;

import java.util.List;

/**
 * The loss side of DD's cond_fn as explicit forward/backward steps (no autograd): {@link NativeLossKernels} runs
 * them on the native gradient stage ({@code disco.kernels}); {@link TorchLossKernels} is a LibTorch-ops twin.
 */
public interface LossKernels {
    /** One CLIP model's loss for one cutn batch: DD's logged {@code losses.sum()} and its gradient. */
    record ClipTerm(double lossSum, Tensor gradEmbeds) {}

    /**
     * {@code dists = spherical_dist_loss(emb.unsqueeze(1), target.unsqueeze(0))},
     * {@code losses = dists.view([cuts, n, -1]).mul(weights).sum(2).mean(0)}: {@code losses.sum()} and
     * {@code d losses.sum() / d emb}. {@code emb} [cuts*n, D] cut-major.
     */
    ClipTerm clipLoss(Tensor emb, Tensor target, Tensor weights, long n);

    /** The x_in gradient and DD's NaN guard. */
    record XInGrad(Tensor grad, boolean nan, List<Integer> nanModels) {}

    /**
     * {@code x_in_grad = clipGuidanceScale / cutnBatches * sum_k modelGrads[k] + tvScale * d tv(x_in).sum()
     * + satScale * d sat(x_in) + initGrad} ({@code modelGrads[k]}: d losses.sum() / d x_in summed over the cutn
     * batches, null when model k is off; DD's range loss is on pred, upstream of x_in, and adds nothing;
     * {@code initGrad}: d(lpips(x_in, init).sum() * init_scale) / d x_in, or null when the term is off). With a NaN
     * anywhere, {@code nan} is set and the gradient is zero.
     */
    XInGrad xInGrad(Tensor xIn, Tensor pred, List<Tensor> modelGrads, double clipGuidanceScale, int cutnBatches,
                    double tvScale, double satScale, Tensor initGrad);

    /** DD's clamp {@code g * min(rms, clampMax) / rms} (an all-zero g stays zero); rms goes to {@code rmsOut[0]}. */
    Tensor rmsClamp(Tensor g, double clampMax, double[] rmsOut);
}
