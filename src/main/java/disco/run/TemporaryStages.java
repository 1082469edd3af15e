package disco.run;

import disco.guidance.CutoutStage;

/** TEMPORARY bridge to KernelCutoutStage until NativeCutoutStage is on the sampler branch. */
public final class TemporaryStages {
    private TemporaryStages() {}

    public static CutoutStage cutouts(boolean skipAugs) {
        return KernelCutoutStage.create(skipAugs);
    }
}
