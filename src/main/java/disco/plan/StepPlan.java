package disco.plan;

import disco.settings.PromptsV1;
import disco.settings.Schedule;
import disco.settings.ScheduleExpr;
import disco.settings.Scheduled;
import disco.settings.Settings;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Everything the settings decide for each executed step: the respaced index counting down from
 * {@code steps - skip_steps - 1}, the original timestep, DD's schedule index, the active CLIP models and every
 * scheduled scalar. The sampler and the guidance read only this.
 */
public final class StepPlan {
    private final DiffusionSchedule schedule;
    private final List<String> models;
    private final List<PlanStep> steps;

    private StepPlan(DiffusionSchedule schedule, List<String> models, List<PlanStep> steps) {
        this.schedule = schedule;
        this.models = List.copyOf(models);
        this.steps = List.copyOf(steps);
    }

    /** The plan of validated settings; active lists use the clip_models entries as written. */
    public static StepPlan of(Settings s) {
        Map<Scheduled, String> scalars = new EnumMap<>(Scheduled.class);
        for (Scheduled k : Scheduled.values()) scalars.put(k, s.scheduleSource(k));
        return build(DiffusionConfig.of(s).schedule(s.steps()), s.skipSteps(), s.clipModels(),
                s.modelSchedulesByWrittenName(), scalars, s.promptPlan());
    }

    /** {@link #build(DiffusionSchedule, int, List, Map, Map, PromptsV1)} with DD's prompts. */
    public static StepPlan build(DiffusionSchedule schedule, int skipSteps, List<String> modelKeys,
                                 Map<String, String> modelSchedules, Map<Scheduled, String> scalars) {
        return build(schedule, skipSteps, modelKeys, modelSchedules, scalars, null);
    }

    /**
     * Builds a plan from opaque model keys and schedule strings.
     *
     * @param schedule       the respaced diffusion schedule
     * @param skipSteps      DD's skip_steps: the first executed respaced index is {@code numSteps - skipSteps - 1}
     * @param modelKeys      model names in order (any strings: they are only reported)
     * @param modelSchedules key → on/off schedule (schedule language or window form); keys absent are always on;
     *                       a key not in modelKeys is an error
     * @param scalars        scalar → schedule source; absent scalars take DiscoArt's defaults
     * @param prompts        DiscoArt's version-1 prompts with {@code clip_guidance} spelled as modelKeys, or null
     *                       for DD's prompts. With them a model is active at a step when its schedule is on and at
     *                       least one prompt guides it there (DiscoArt's runner skips it otherwise)
     * @throws IllegalArgumentException naming the key whose schedule is invalid
     */
    public static StepPlan build(DiffusionSchedule schedule, int skipSteps, List<String> modelKeys,
                                 Map<String, String> modelSchedules, Map<Scheduled, String> scalars,
                                 PromptsV1 prompts) {
        int n = schedule.numSteps();
        if (skipSteps < 0 || skipSteps >= n) {
            throw new IllegalArgumentException("skip_steps: expected 0 <= skip_steps < steps (" + n + "), found "
                    + skipSteps);
        }
        Map<String, Schedule> on = new LinkedHashMap<>();
        for (Map.Entry<String, String> e : modelSchedules.entrySet()) {
            if (!modelKeys.contains(e.getKey())) {
                throw new IllegalArgumentException("clip_models_schedules: '" + e.getKey() + "' is not one of clip_models "
                        + modelKeys);
            }
            try {
                on.put(e.getKey(), ScheduleExpr.parseModelSchedule(e.getValue()));
            } catch (IllegalArgumentException ex) {
                throw new IllegalArgumentException("clip_models_schedules: " + e.getKey() + ": " + ex.getMessage());
            }
        }
        EnumMap<Scheduled, Schedule> sc = new EnumMap<>(Scheduled.class);
        for (Scheduled k : Scheduled.values()) {
            String src = scalars.getOrDefault(k, k.defaultSource());
            try {
                sc.put(k, k.parse(src));
            } catch (IllegalArgumentException ex) {
                throw new IllegalArgumentException(k.key() + ": " + ex.getMessage());
            }
        }
        List<PlanStep> out = new ArrayList<>();
        int j = 0;
        for (int i = n - skipSteps - 1; i >= 0; i--, j++) {
            int si = schedule.scheduleIndex(i);
            if (si < 0 || si >= Schedule.LENGTH) {
                throw new IllegalStateException("schedule index " + si + " outside the 1000-entry timeline at i=" + i);
            }
            List<String> active = new ArrayList<>();
            Map<String, PromptWeights> weights = new LinkedHashMap<>();
            for (String m : modelKeys) {
                Schedule s = on.get(m);
                if (s != null && !s.bool(si)) continue;
                if (prompts != null) {
                    PromptWeights pw = PromptWeights.at(prompts, m, si);
                    if (pw.isEmpty()) continue;
                    weights.put(m, pw);
                }
                active.add(m);
            }
            out.add(new PlanStep(j, i, schedule.timestep(i), schedule.tInt(i), si, active,
                    sc.get(Scheduled.CUT_OVERVIEW).integer(si),
                    sc.get(Scheduled.CUT_INNERCUT).integer(si),
                    sc.get(Scheduled.CUT_IC_POW).number(si),
                    sc.get(Scheduled.CUT_ICGRAY_P).number(si),
                    sc.get(Scheduled.USE_SECONDARY_MODEL).bool(si),
                    sc.get(Scheduled.CUTN_BATCHES).integer(si),
                    sc.get(Scheduled.CLIP_GUIDANCE_SCALE).number(si),
                    sc.get(Scheduled.TV_SCALE).number(si),
                    sc.get(Scheduled.RANGE_SCALE).number(si),
                    sc.get(Scheduled.SAT_SCALE).number(si),
                    sc.get(Scheduled.INIT_SCALE).number(si),
                    sc.get(Scheduled.CLAMP_GRAD).bool(si),
                    sc.get(Scheduled.CLAMP_MAX).number(si),
                    weights));
        }
        return new StepPlan(schedule, modelKeys, out);
    }

    public DiffusionSchedule schedule() {
        return schedule;
    }

    /** The model keys in order. */
    public List<String> models() {
        return models;
    }

    /** The executed steps, j = 0 first. */
    public List<PlanStep> steps() {
        return steps;
    }

    public PlanStep step(int j) {
        return steps.get(j);
    }

    public int size() {
        return steps.size();
    }

    /** How one model is scheduled over the executed steps. */
    public record ModelSummary(String model, int stepsOn, int firstStep, int lastStep) {}

    /** Per model: executed steps on, first and last (-1 when never on). */
    public List<ModelSummary> summaries() {
        List<ModelSummary> out = new ArrayList<>();
        for (String m : models) {
            int count = 0, first = -1, last = -1;
            for (PlanStep s : steps) {
                if (s.active().contains(m)) {
                    count++;
                    if (first < 0) first = s.step();
                    last = s.step();
                }
            }
            out.add(new ModelSummary(m, count, first, last));
        }
        return out;
    }

    /** The executed steps no CLIP model guides. */
    public List<PlanStep> unguided() {
        return steps.stream().filter(s -> !s.guided()).toList();
    }

    /**
     * The warning for executed steps without a CLIP model, e.g. "50 of 240 steps (schedule 203–399) have no CLIP
     * model: no CLIP guidance there"; null when every step is guided.
     */
    public String unguidedWarning() {
        List<PlanStep> u = unguided();
        if (u.isEmpty()) return null;
        // contiguous runs of executed steps, reported by their schedule-index ranges
        List<String> ranges = new ArrayList<>();
        int runStart = 0;
        for (int k = 1; k <= u.size(); k++) {
            if (k == u.size() || u.get(k).step() != u.get(k - 1).step() + 1) {
                int a = u.get(runStart).schedIndex();
                int b = u.get(k - 1).schedIndex();
                int lo = Math.min(a, b), hi = Math.max(a, b);
                ranges.add(lo == hi ? Integer.toString(lo) : lo + "\u2013" + hi);
                runStart = k;
            }
        }
        return u.size() + " of " + steps.size() + " steps (schedule " + String.join(", ", ranges) + ") "
                + (u.size() == 1 ? "has" : "have") + " no CLIP model: no CLIP guidance there";
    }

    /**
     * Warnings about the shape of the CLIP schedules (beyond {@link #unguidedWarning}): the run starts with no CLIP
     * model (the composition forms in the first steps, unguided), or every model that was on switches off at the same
     * step. Empty when neither happens, or when no step is guided at all (the unguided warning says that).
     */
    public List<String> scheduleWarnings() {
        List<String> out = new ArrayList<>();
        if (steps.isEmpty() || unguided().size() == steps.size()) return out;
        if (!steps.get(0).guided()) {
            int k = 0;
            while (k < steps.size() && !steps.get(k).guided()) k++;
            out.add("the run starts with no CLIP model: steps 0" + (k > 1 ? "\u2013" + (k - 1) : "") + " (schedule "
                    + steps.get(0).schedIndex() + (k > 1 ? "\u2013" + steps.get(k - 1).schedIndex() : "")
                    + ") are unguided, the first guided step is " + k + " (" + String.join(", ", steps.get(k).active()) + ")");
        }
        for (int j = 1; j < steps.size(); j++) {
            PlanStep a = steps.get(j - 1), b = steps.get(j);
            if (a.guided() && !b.guided()) {
                out.add("every CLIP model switches off at once at step " + j + " (schedule " + b.schedIndex() + "): "
                        + String.join(", ", a.active()) + (a.active().size() == 1 ? " was" : " were") + " on at step "
                        + (j - 1) + ", none is on after");
            }
        }
        return out;
    }

    /**
     * The CLIP images (cutouts) each model encodes at executed step {@code j}: {@code (overview + innercut) ×
     * cutn_batches × batch_size} for each active model; PLMS's first step calls the guidance a second time at the
     * next step's schedule entries, which adds theirs. Models in {@code clip_models} order; inactive ones count 0.
     */
    public Map<String, Long> clipImagesAt(int j, int batchSize, boolean plms) {
        Map<String, Long> m = new LinkedHashMap<>();
        for (String k : models) m.put(k, 0L);
        List<PlanStep> calls = plms && j == 0 && steps.size() > 1 ? List.of(steps.get(0), steps.get(1)) : List.of(steps.get(j));
        for (PlanStep p : calls) {
            long n = (long) (p.overview() + p.innercut()) * p.cutnBatches() * batchSize;
            for (String a : p.active()) m.merge(a, n, Long::sum);
        }
        return m;
    }

    /** {@link #clipImagesAt} summed over the executed steps. */
    public Map<String, Long> clipImages(int batchSize, boolean plms) {
        Map<String, Long> m = new LinkedHashMap<>();
        for (String k : models) m.put(k, 0L);
        for (int j = 0; j < steps.size(); j++) clipImagesAt(j, batchSize, plms).forEach((k, v) -> m.merge(k, v, Long::sum));
        return m;
    }

    /** The plan as the JSON-ready list {@code disco plan --json} prints (one map per step). */
    public List<Map<String, Object>> toJsonList() {
        List<Map<String, Object>> out = new ArrayList<>();
        for (PlanStep s : steps) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("step", s.step());
            m.put("index", s.index());
            m.put("t", s.t());
            m.put("t_int", s.tInt());
            m.put("sched_index", s.schedIndex());
            m.put("active", s.active());
            m.put("overview", s.overview());
            m.put("innercut", s.innercut());
            m.put("ic_pow", s.icPow());
            m.put("icgray_p", s.icgrayP());
            m.put("use_secondary_model", s.useSecondaryModel());
            m.put("cutn_batches", s.cutnBatches());
            m.put("clip_guidance_scale", s.clipGuidanceScale());
            m.put("tv_scale", s.tvScale());
            m.put("range_scale", s.rangeScale());
            m.put("sat_scale", s.satScale());
            m.put("init_scale", s.initScale());
            m.put("clamp_grad", s.clampGrad());
            m.put("clamp_max", s.clampMax());
            if (!s.prompts().isEmpty()) {
                Map<String, Object> pm = new LinkedHashMap<>();
                for (Map.Entry<String, PromptWeights> e : s.prompts().entrySet()) {
                    Map<String, Object> one = new LinkedHashMap<>();
                    one.put("prompt_ids", e.getValue().ids());
                    one.put("weights_raw", e.getValue().raw());
                    // the float16 values exactly (a Float would print as its shortest float text)
                    one.put("weights", e.getValue().weights().stream().map(Float::doubleValue).toList());
                    pm.put(e.getKey(), one);
                }
                m.put("prompts", pm);
            }
            out.add(m);
        }
        return out;
    }
}
