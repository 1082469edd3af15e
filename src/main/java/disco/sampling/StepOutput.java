package disco.sampling;

import org.bytedeco.pytorch.Tensor;

import java.util.List;

/**
 * The result of one executed step.
 *
 * @param step executed step number (0 = first)
 * @param index respaced index the step ran at (DD's {@code cur_t})
 * @param state the state after the step; its {@code x()} is DD's {@code sample}. Owned by the caller
 * @param predXstart the unguided {@code pred_xstart} at this step (clamped if {@code clip_denoised}), as DD's
 *     partials show it; owned by this output
 * @param guidance the guidance calls made (one; two at PLMS's first step), without their gradient tensors
 * @param symmetryApplied whether the symmetry transformation was applied before this step
 * @param finite whether every value of the new sample is finite; a run stops when it is not
 */
public record StepOutput(int step, int index, SamplerState state, Tensor predXstart, List<GuidanceResult> guidance,
                         boolean symmetryApplied, boolean finite) implements AutoCloseable {
    /** The new sample (the state's {@code x}). */
    public Tensor sample() {
        return state.x();
    }

    /** Releases {@link #predXstart()}; the state stays open. */
    @Override
    public void close() {
        predXstart.close();
    }
}
