package disco.sampling;

/**
 * The guidance seam: DD's {@code cond_fn}. Given the current {@code x} and where it is in the plan, returns the
 * gradient {@code grad} (already NaN-guarded and clamped) that guided-diffusion's {@code condition_score} turns into
 * {@code eps - sqrt(1 - ab) * grad}.
 *
 * <p>The sampler makes one denoiser forward per call; when {@link #usesPrimaryDenoiser(int)} is true at that step
 * it makes it with grad and hands it over in {@link GuidanceCall#primary()} so the guidance does not repeat it
 * (DD computes it twice). Implementations read every scheduled scalar from their step plan, keyed by
 * {@link GuidanceCall#scheduleIndex()}.
 */
public interface Guidance {
    /**
     * Whether the guidance for a call scheduled at respaced index {@code scheduleIndex} differentiates the primary
     * denoiser (the UNet) — false when the secondary model is used at that step, or when there is nothing to guide.
     */
    boolean usesPrimaryDenoiser(int scheduleIndex);

    /** DD's {@code cond_fn(x, t)}; never returns null. The returned gradient is owned by the caller. */
    GuidanceResult guide(GuidanceCall call);
}
