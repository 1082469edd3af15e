package disco.sampling;

import org.bytedeco.pytorch.Tensor;

/**
 * One call of the guidance ({@code cond_fn}).
 *
 * @param x the image the gradient is taken at (detached)
 * @param denoiseIndex respaced index at which the denoised estimate is made (DD's global {@code cur_t})
 * @param scheduleIndex respaced index of the {@code t} argument DD passes: selects cut schedules and active models.
 *     Equal to {@code denoiseIndex} except in PLMS's pseudo improved-Euler first step, where DD calls
 *     {@code cond_fn} at {@code t - 1} while {@code cur_t} still names the current step
 * @param primary the primary denoiser's evaluation at ({@code x}, {@code denoiseIndex}) with grad, when the sampler
 *     made one for this call (see {@link Guidance#usesPrimaryDenoiser}); null means the guidance evaluates itself
 * @param batch batch number (of {@code n_batches}), for random keys
 * @param step executed step number (0 = first executed step), for random keys and logs
 * @param call 0 for the step's main call, 1 for PLMS's second call in its first step
 * @param init DD's {@code init} (the init image or perlin init in [-1, 1], [N or 1, 3, H, W]) that the
 *     {@code init_scale} (LPIPS) term compares {@code x_in} with; null when the run has none
 */
public record GuidanceCall(Tensor x, int denoiseIndex, int scheduleIndex, Denoiser.Evaluation primary, int batch,
                           int step, int call, Tensor init) {
    /** A call without an init image. */
    public GuidanceCall(Tensor x, int denoiseIndex, int scheduleIndex, Denoiser.Evaluation primary, int batch,
                        int step, int call) {
        this(x, denoiseIndex, scheduleIndex, primary, batch, step, call, null);
    }

    /** The same call handing over the sampler's forward {@code ev}. */
    public GuidanceCall withPrimary(Denoiser.Evaluation ev) {
        return new GuidanceCall(x, denoiseIndex, scheduleIndex, ev, batch, step, call, init);
    }
}
