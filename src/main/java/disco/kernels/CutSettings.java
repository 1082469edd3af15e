package disco.kernels;

/**
 * What one {@code MakeCutoutsDango} call is asked for at a step: {@code overview} (cut_overview), {@code innerCut}
 * (cut_innercut), {@code icPow} (cut_ic_pow), {@code icGrayP} (cut_icgray_p), {@code skipAugs}, and
 * {@code augPerCut} (DiscoArt's fix: augmentation parameters drawn per cut instead of once per batch).
 */
public record CutSettings(int overview, int innerCut, double icPow, double icGrayP, boolean skipAugs,
        boolean augPerCut) {
    public CutSettings {
        if (overview < 0) throw new IllegalArgumentException("cut_overview must be >= 0, got " + overview);
        if (innerCut < 0) throw new IllegalArgumentException("cut_innercut must be >= 0, got " + innerCut);
        if (!Double.isFinite(icPow)) throw new IllegalArgumentException("cut_ic_pow must be finite");
        if (!Double.isFinite(icGrayP)) throw new IllegalArgumentException("cut_icgray_p must be finite");
    }

    /** The cut settings a planned step decides (its scheduled cut_overview, cut_innercut, cut_ic_pow, cut_icgray_p). */
    public static CutSettings of(disco.plan.PlanStep step, boolean skipAugs, boolean augPerCut) {
        return new CutSettings(step.overview(), step.innercut(), step.icPow(), step.icgrayP(), skipAugs, augPerCut);
    }

    public int count() {
        return overview + innerCut;
    }
}
