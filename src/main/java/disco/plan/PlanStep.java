package disco.plan;

import java.util.List;

/**
 * One executed sampling step: what the settings decide for it.
 *
 * @param step        j, 0 for the first executed step
 * @param index       the respaced index i (counts down to 0)
 * @param t           the original timestep {@code timestep_map[i]}
 * @param tInt        DD's {@code t_int = int(scaled t) + 1}
 * @param schedIndex  the index into every 1000-entry schedule, {@code 1000 - t_int}
 * @param active      the CLIP model keys on at this step, in clip_models order
 */
public record PlanStep(
        int step,
        int index,
        int t,
        int tInt,
        int schedIndex,
        List<String> active,
        int overview,
        int innercut,
        double icPow,
        double icgrayP,
        boolean useSecondaryModel,
        int cutnBatches,
        double clipGuidanceScale,
        double tvScale,
        double rangeScale,
        double satScale,
        double initScale,
        boolean clampGrad,
        double clampMax) {
    public PlanStep {
        active = List.copyOf(active);
    }

    /** Whether any CLIP model guides this step. */
    public boolean guided() {
        return !active.isEmpty();
    }
}
