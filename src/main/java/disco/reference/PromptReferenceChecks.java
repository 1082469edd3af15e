package disco.reference;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import disco.models.tokenizer.SimpleTokenizer;
import disco.plan.PlanStep;
import disco.plan.PromptWeights;
import disco.plan.StepPlan;
import disco.settings.PromptsV1;
import disco.settings.Schedule;
import disco.settings.ScheduleExpr;
import disco.settings.SettingsIO;

import java.nio.file.Files;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code prompts/v1_plan}: DiscoArt's version-1 prompts ({@code prompts_v1.json}) planned as DiscoArt's
 * {@code PromptPlanner} and {@code runner.py} do, against {@code prompts_v1_plan.json}: for every probed schedule
 * index and CLIP model, whether the model is scheduled, the active prompt ids, their raw weights and whether the
 * model is used (exactly), the float16-normalised weights (exactly, as float16) and the float32 ones (1e-6). The
 * same entries are then read from the step plan a run builds ({@link StepPlan#build} with the fixture's
 * {@code settings.json} steps, {@code args}' models and schedules), at every executed step whose schedule index is
 * probed: its active models must be the used ones and their weights the float16 ones. With a BPE vocabulary the
 * prompts' texts must also tokenize to the fixture's {@code tokens}. Runs when {@code prompts_v1.json} is present.
 */
public final class PromptReferenceChecks implements ReferenceCheck {
    public static final String NAME = "prompts/v1_plan";
    public static final double F32_TOL = 1e-6;
    private static final ObjectMapper JSON = new ObjectMapper();

    @Override
    public List<CheckResult> run(ReferenceContext ctx) {
        if (!ctx.has("prompts_v1.json")) return List.of();
        return List.of(v1Plan(ctx));
    }

    static CheckResult v1Plan(ReferenceContext ctx) {
        try {
            Object value = JSON.readValue(Files.readAllBytes(ctx.file("prompts_v1.json")), Object.class);
            JsonNode ref = ctx.json("prompts_v1_plan.json");
            JsonNode args = need(ref, "args", "prompts_v1_plan.json");
            List<String> models = new ArrayList<>();
            for (JsonNode m : need(args, "clip_models", "args")) models.add(m.asText());
            Map<String, String> schedSrc = new LinkedHashMap<>();
            Map<String, Schedule> sched = new HashMap<>();
            JsonNode ms = args.get("clip_models_schedules");
            if (ms != null && ms.isObject()) {
                for (Iterator<Map.Entry<String, JsonNode>> it = ms.fields(); it.hasNext(); ) {
                    Map.Entry<String, JsonNode> e = it.next();
                    if (e.getValue().isNull()) continue;
                    String src = SettingsIO.scheduleSource(JSON.treeToValue(e.getValue(), Object.class));
                    schedSrc.put(e.getKey(), src);
                    sched.put(e.getKey(), ScheduleExpr.parseModelSchedule(src));
                }
            }
            PromptsV1 prompts = PromptsV1.fromValue(value, null).withClipGuidance(n -> {
                if (models.contains(n)) return n;
                throw new IllegalArgumentException("'" + n + "' is not one of clip_models " + models);
            });

            double err = 0;
            String diff = null;
            Map<Integer, JsonNode> byIndex = new HashMap<>();
            for (JsonNode entry : need(ref, "plan", "prompts_v1_plan.json")) {
                int si = entry.get("num_step").asInt();
                byIndex.put(si, entry);
                for (Iterator<Map.Entry<String, JsonNode>> it = entry.get("models").fields(); it.hasNext(); ) {
                    Map.Entry<String, JsonNode> e = it.next();
                    String m = e.getKey();
                    JsonNode r = e.getValue();
                    String at = "num_step " + si + " " + m + ": ";
                    boolean scheduled = !sched.containsKey(m) || sched.get(m).bool(si);
                    PromptWeights pw = PromptWeights.at(prompts, m, si);
                    if (diff == null && scheduled != r.get("model_scheduled").asBoolean()) {
                        diff = at + "model_scheduled " + r.get("model_scheduled") + ", ours " + scheduled;
                    }
                    if (diff == null && !pw.ids().equals(ints(r.get("prompt_ids")))) {
                        diff = at + "prompt_ids " + r.get("prompt_ids") + ", ours " + pw.ids();
                    }
                    if (diff == null && !pw.raw().equals(doubles(r.get("weights_raw")))) {
                        diff = at + "weights_raw " + r.get("weights_raw") + ", ours " + pw.raw();
                    }
                    boolean used = scheduled && !pw.isEmpty();
                    if (diff == null && used != r.get("used").asBoolean()) {
                        diff = at + "used " + r.get("used") + ", ours " + used;
                    }
                    List<Double> w16 = doubles(r.get("weights_fp16"));
                    if (diff == null) diff = sameHalves(at, w16, pw.weights());
                    double[] raw = pw.raw().stream().mapToDouble(Double::doubleValue).toArray();
                    float[] f32 = PromptWeights.normalizeF32(raw);
                    List<Double> rf32 = doubles(r.get("weights_f32"));
                    if (diff == null && rf32.size() != f32.length) {
                        diff = at + rf32.size() + " weights_f32, ours " + f32.length;
                    }
                    for (int k = 0; k < Math.min(f32.length, rf32.size()); k++) {
                        double d = Math.abs(f32[k] - rf32.get(k)) / Math.max(Math.abs(rf32.get(k)), 1e-30);
                        err = Math.max(err, Double.isNaN(d) ? Double.POSITIVE_INFINITY : d);
                    }
                }
            }
            // the run's step plan at the probed schedule indices
            if (diff == null && ctx.has("settings.json")) diff = runPlan(ctx, models, schedSrc, prompts, byIndex);
            if (diff == null) diff = tokens(ctx, ref, prompts);
            boolean pass = diff == null && err <= F32_TOL;
            return new CheckResult(NAME, err, F32_TOL, pass, diff == null ? "" : diff);
        } catch (java.io.IOException | RuntimeException e) {
            return CheckResult.error(NAME, String.valueOf(e.getMessage()));
        }
    }

    /** The step plan a run builds: active models and their weights at every executed step that the fixture probes. */
    private static String runPlan(ReferenceContext ctx, List<String> models, Map<String, String> schedules,
                                  PromptsV1 prompts, Map<Integer, JsonNode> byIndex) {
        var fs = ctx.fixtureSettings();
        StepPlan plan = StepPlan.build(fs.schedule(), fs.skipSteps(), models, schedules, fs.scalars(), prompts);
        int probed = 0;
        for (PlanStep s : plan.steps()) {
            JsonNode entry = byIndex.get(s.schedIndex());
            if (entry == null) continue;
            probed++;
            List<String> used = new ArrayList<>();
            for (String m : models) {
                JsonNode r = entry.get("models").get(m);
                if (r != null && r.get("used").asBoolean()) used.add(m);
            }
            String at = "run step " + s.step() + " (schedule " + s.schedIndex() + "): ";
            if (!used.equals(s.active())) return at + "used models " + used + ", plan's active " + s.active();
            for (String m : used) {
                JsonNode r = entry.get("models").get(m);
                PromptWeights pw = s.promptsOf(m);
                if (pw == null || !pw.ids().equals(ints(r.get("prompt_ids")))) {
                    return at + m + ": prompt_ids " + r.get("prompt_ids") + ", plan's " + (pw == null ? null : pw.ids());
                }
                String d = sameHalves(at + m + ": ", doubles(r.get("weights_fp16")), pw.weights());
                if (d != null) return d;
            }
        }
        JsonNode runIdx = ctx.json("prompts_v1_plan.json").get("run_sched_indices");
        if (runIdx != null && runIdx.size() > 0 && probed == 0) {
            return "no executed step of settings.json has a probed schedule index (run_sched_indices " + runIdx + ")";
        }
        return null;
    }

    /** With a BPE vocabulary: each prompt's text (suffix split off) tokenizes to the fixture's {@code tokens}. */
    private static String tokens(ReferenceContext ctx, JsonNode ref, PromptsV1 prompts) {
        JsonNode ps = ref.get("prompts");
        if (ps == null || ctx.vocab().isEmpty()) return null;
        SimpleTokenizer tok = SimpleTokenizer.load(ctx.vocab().get());
        if (ps.size() != prompts.prompts().size()) {
            return "prompts_v1_plan.json has " + ps.size() + " prompts, prompts_v1.json " + prompts.prompts().size();
        }
        for (int i = 0; i < ps.size(); i++) {
            JsonNode t = ps.get(i).get("tokens");
            if (t == null) continue;
            int[] ours = tok.tokenize(prompts.prompts().get(i).parsedText());
            List<Integer> mine = new ArrayList<>();
            for (int v : ours) mine.add(v);
            if (!mine.equals(ints(t))) return "prompt " + i + ": tokens differ from the fixture's";
        }
        return null;
    }

    private static String sameHalves(String at, List<Double> ref, List<Float> ours) {
        if (ref.size() != ours.size()) return at + ref.size() + " weights_fp16, ours " + ours.size();
        for (int k = 0; k < ref.size(); k++) {
            short a = PromptWeights.Half.fromFloat(ref.get(k).floatValue());
            short b = PromptWeights.Half.fromFloat(ours.get(k));
            if (a != b) return at + "weights_fp16[" + k + "] " + ref.get(k) + ", ours " + ours.get(k);
        }
        return null;
    }

    private static JsonNode need(JsonNode n, String key, String where) {
        JsonNode v = n.get(key);
        if (v == null || v.isNull()) throw new IllegalArgumentException(where + ": " + key + ": missing");
        return v;
    }

    private static List<Integer> ints(JsonNode a) {
        List<Integer> out = new ArrayList<>();
        for (JsonNode x : a) out.add(x.asInt());
        return out;
    }

    private static List<Double> doubles(JsonNode a) {
        List<Double> out = new ArrayList<>();
        for (JsonNode x : a) out.add(x.asDouble());
        return out;
    }
}
