package disco.settings;

/**
 * The 13 schedulable scalars of DiscoArt: each takes the schedule language and is read per step at the schedule
 * index. {@link #planField()} is the name used in plan output ({@code disco plan --json}).
 */
public enum Scheduled {
    CUT_OVERVIEW("cut_overview", "overview", Schedule.Kind.INT, "[12]*400+[4]*600",
            "overview cutouts (whole image padded to a square) per cutn batch"),
    CUT_INNERCUT("cut_innercut", "innercut", Schedule.Kind.INT, "[4]*400+[12]*600",
            "inner (random crop) cutouts per cutn batch"),
    CUT_IC_POW("cut_ic_pow", "ic_pow", Schedule.Kind.FLOAT, "1.0",
            "inner-cut size power: size = r**ic_pow * (max - min) + min; larger gives smaller crops"),
    CUT_ICGRAY_P("cut_icgray_p", "icgray_p", Schedule.Kind.FLOAT, "[0.2]*400+[0]*600",
            "fraction of the inner cuts made grayscale"),
    USE_SECONDARY_MODEL("use_secondary_model", "use_secondary_model", Schedule.Kind.BOOL, "True",
            "guide through the small secondary model's x0 prediction instead of the UNet's"),
    CUTN_BATCHES("cutn_batches", "cutn_batches", Schedule.Kind.INT, "4",
            "how many batches of cutouts each CLIP model scores per step (gradients are averaged)"),
    CLIP_GUIDANCE_SCALE("clip_guidance_scale", "clip_guidance_scale", Schedule.Kind.FLOAT, "5000",
            "weight of the CLIP loss"),
    TV_SCALE("tv_scale", "tv_scale", Schedule.Kind.FLOAT, "0", "weight of the total-variation (smoothness) loss"),
    RANGE_SCALE("range_scale", "range_scale", Schedule.Kind.FLOAT, "150",
            "weight of the loss that keeps pixels inside [-1, 1]"),
    SAT_SCALE("sat_scale", "sat_scale", Schedule.Kind.FLOAT, "0", "weight of the saturation loss"),
    INIT_SCALE("init_scale", "init_scale", Schedule.Kind.FLOAT, "1000",
            "weight of the LPIPS loss towards the init image"),
    CLAMP_GRAD("clamp_grad", "clamp_grad", Schedule.Kind.BOOL, "True",
            "clamp the guidance gradient's RMS magnitude to clamp_max"),
    CLAMP_MAX("clamp_max", "clamp_max", Schedule.Kind.FLOAT, "0.05", "the largest gradient RMS when clamp_grad is on");

    private final String key;
    private final String planField;
    private final Schedule.Kind kind;
    private final String defaultSource;
    private final String meaning;

    Scheduled(String key, String planField, Schedule.Kind kind, String defaultSource, String meaning) {
        this.key = key;
        this.planField = planField;
        this.kind = kind;
        this.defaultSource = defaultSource;
        this.meaning = meaning;
    }

    /** The settings key ({@code cut_overview}). */
    public String key() {
        return key;
    }

    /** The field name in plan output ({@code overview}). */
    public String planField() {
        return planField;
    }

    /** The type the engine reads: INT entries must be whole numbers, BOOL entries are read as truthiness. */
    public Schedule.Kind kind() {
        return kind;
    }

    /** DiscoArt's default ({@code resources/default.yml}). */
    public String defaultSource() {
        return defaultSource;
    }

    public String meaning() {
        return meaning;
    }

    public static Scheduled byKey(String key) {
        for (Scheduled s : values()) if (s.key.equals(key)) return s;
        return null;
    }

    /**
     * Parses and validates a schedule for this scalar: whole numbers for counts, no negative cut counts, at least
     * one cutn batch. Throws {@link IllegalArgumentException} with a message (without the key).
     */
    public Schedule parse(String source) {
        Schedule s = ScheduleExpr.parse(source);
        String problem = null;
        if (kind == Schedule.Kind.INT) problem = s.requireIntegers();
        if (problem == null && (this == CUT_OVERVIEW || this == CUT_INNERCUT)) problem = s.requireAtLeast(0);
        if (problem == null && this == CUTN_BATCHES) problem = s.requireAtLeast(1);
        if (problem == null && (this == CUT_IC_POW || this == CUT_ICGRAY_P)) problem = s.requireAtLeast(0);
        if (problem != null) throw new IllegalArgumentException(problem + ": \"" + ScheduleExpr.abbreviate(source) + "\"");
        return s;
    }
}
