package disco.plan;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One executed sampling step: what the settings decide for it.
 *
 * @param step        j, 0 for the first executed step
 * @param index       the respaced index i (counts down to 0)
 * @param t           the original timestep {@code timestep_map[i]}
 * @param tInt        DD's {@code t_int = int(scaled t) + 1}
 * @param schedIndex  the index into every 1000-entry schedule, {@code 1000 - t_int}
 * @param active      the CLIP model keys on at this step, in clip_models order
 * @param prompts     DiscoArt's version-1 prompts: per active model the prompts guiding it here and their weights;
 *                    empty for DD's prompts (every prompt guides every model with its fixed weight)
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
        double clampMax,
        Map<String, PromptWeights> prompts) {
    public PlanStep {
        active = List.copyOf(active);
        prompts = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(prompts));
        for (String m : prompts.keySet()) {
            if (!active.contains(m)) throw new IllegalArgumentException("prompt weights for '" + m + "', which is not active");
        }
    }

    /** A step under DD's prompts (every prompt guides every active model). */
    public PlanStep(int step, int index, int t, int tInt, int schedIndex, List<String> active, int overview,
                    int innercut, double icPow, double icgrayP, boolean useSecondaryModel, int cutnBatches,
                    double clipGuidanceScale, double tvScale, double rangeScale, double satScale, double initScale,
                    boolean clampGrad, double clampMax) {
        this(step, index, t, tInt, schedIndex, active, overview, innercut, icPow, icgrayP, useSecondaryModel,
                cutnBatches, clipGuidanceScale, tvScale, rangeScale, satScale, initScale, clampGrad, clampMax, Map.of());
    }

    /** The prompts guiding {@code model} here (version-1 prompts), or null when every prompt does (DD's prompts). */
    public PromptWeights promptsOf(String model) {
        return prompts.get(model);
    }

    /** Whether any CLIP model guides this step. */
    public boolean guided() {
        return !active.isEmpty();
    }
}
