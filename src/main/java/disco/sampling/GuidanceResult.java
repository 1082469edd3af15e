package disco.sampling;

import org.bytedeco.pytorch.Tensor;

import java.util.List;

/**
 * What one guidance call produced.
 *
 * @param grad the gradient for {@code x} (after NaN guard and clamp), [N, 3, H, W]; owned by the receiver
 * @param losses DD's {@code loss_values}: one per (active CLIP model, cutn batch), in model order
 * @param nanGuarded true when the NaN guard fired and {@code grad} is zero (DD's "black image" path)
 * @param rmsBefore RMS of the gradient before the clamp (NaN when guarded)
 * @param rmsAfter RMS after the clamp
 */
public record GuidanceResult(Tensor grad, List<LossValue> losses, boolean nanGuarded, double rmsBefore,
                             double rmsAfter) {
    /** The same record with no gradient tensor (for logs, after the sampler has used it). */
    public GuidanceResult withoutGrad() {
        return new GuidanceResult(null, losses, nanGuarded, rmsBefore, rmsAfter);
    }

    /** One logged loss value: {@code losses.sum()} of one cutn batch of one CLIP model. */
    public record LossValue(int step, int call, String model, int cutnBatch, double value) {}
}
