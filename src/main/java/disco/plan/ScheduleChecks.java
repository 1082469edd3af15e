package disco.plan;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import disco.reference.CheckResult;
import disco.reference.Compare;
import disco.reference.ReferenceCheck;
import disco.reference.ReferenceContext;
import disco.settings.Scheduled;
import disco.util.Npy;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The schedule reference checks: {@code schedule/alphas_cumprod} (respaced alphas_cumprod, tol 1e-12, and the
 * timestep map exactly) and {@code schedule/step_plan} (every field of {@code run_schedule.json}, exactly). Every
 * value comes from the directory's {@code settings.json}.
 */
public final class ScheduleChecks implements ReferenceCheck {
    public static final double ALPHAS_TOL = 1e-12;
    private static final ObjectMapper JSON = new ObjectMapper();

    @Override
    public List<CheckResult> run(ReferenceContext ctx) {
        List<CheckResult> out = new ArrayList<>();
        out.add(alphas(ctx));
        out.add(stepPlan(ctx));
        return out;
    }

    /** The diffusion schedule settings.json describes (steps, diffusion_steps, timestep_respacing if given). */
    public static DiffusionSchedule schedule(JsonNode s) {
        int steps = s.get("steps").asInt();
        int diffusionSteps = s.hasNonNull("diffusion_steps") ? s.get("diffusion_steps").asInt()
                : DiffusionSchedule.diffusionSteps(steps);
        String respacing = s.hasNonNull("timestep_respacing") ? s.get("timestep_respacing").asText() : null;
        return DiffusionSchedule.create(diffusionSteps, steps, respacing);
    }

    /** The step plan settings.json describes: its clip_models, schedules and cut/scalar schedules. */
    public static StepPlan plan(JsonNode s) {
        List<String> models = new ArrayList<>();
        for (JsonNode m : s.get("clip_models")) models.add(m.asText());
        Map<String, String> modelSchedules = new LinkedHashMap<>();
        JsonNode sch = s.has("schedules") ? s.get("schedules") : s.get("clip_models_schedules");
        if (sch != null && sch.isObject()) {
            for (Iterator<Map.Entry<String, JsonNode>> it = sch.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                if (!e.getValue().isNull()) modelSchedules.put(e.getKey(), source(e.getValue()));
            }
        }
        Map<Scheduled, String> scalars = new EnumMap<>(Scheduled.class);
        for (Scheduled k : Scheduled.values()) {
            JsonNode v = s.get(k.key());
            if (v != null && !v.isNull()) scalars.put(k, source(v));
        }
        int skip = s.hasNonNull("skip_steps") ? s.get("skip_steps").asInt() : 0;
        return StepPlan.build(schedule(s), skip, models, modelSchedules, scalars);
    }

    private static String source(JsonNode v) {
        if (v.isTextual()) return v.asText();
        if (v.isBoolean()) return v.asBoolean() ? "True" : "False";
        if (v.isIntegralNumber()) return v.asText();
        if (v.isNumber()) return disco.settings.ScheduleExpr.literal(v.asDouble(), disco.settings.Schedule.Kind.FLOAT);
        return v.toString().replace("true", "True").replace("false", "False");
    }

    static CheckResult alphas(ReferenceContext ctx) {
        String name = "schedule/alphas_cumprod";
        try {
            DiffusionSchedule ds = schedule(ctx.settings());
            Npy.Array ref = ctx.npy("alphas_cumprod.npy");
            double[] refA = ref.doubles();
            double[] ours = ds.alphasCumprod();
            if (refA.length != ours.length) {
                return CheckResult.error(name, "alphas_cumprod has " + refA.length + " entries, ours " + ours.length);
            }
            double err = Compare.maxRelErr(ours, refA);
            String detail = "";
            boolean mapOk = true;
            if (ctx.has("timestep_map.npy")) {
                long[] map = ctx.npy("timestep_map.npy").longs();
                int[] ourMap = ds.timestepMap();
                mapOk = map.length == ourMap.length;
                for (int i = 0; mapOk && i < map.length; i++) {
                    if (map[i] != ourMap[i]) {
                        mapOk = false;
                        detail = "timestep_map[" + i + "] = " + map[i] + ", ours " + ourMap[i];
                    }
                }
                if (!mapOk && detail.isEmpty()) {
                    detail = "timestep_map has " + map.length + " entries, ours " + ourMap.length;
                }
            }
            boolean pass = err <= ALPHAS_TOL && mapOk;
            return new CheckResult(name, err, ALPHAS_TOL, pass, detail);
        } catch (RuntimeException e) {
            return CheckResult.error(name, String.valueOf(e.getMessage()));
        }
    }

    static CheckResult stepPlan(ReferenceContext ctx) {
        String name = "schedule/step_plan";
        try {
            StepPlan plan = plan(ctx.settings());
            JsonNode ref = ctx.json("run_schedule.json");
            JsonNode ours = JSON.valueToTree(plan.toJsonList());
            String diff = firstDifference(ours, ref);
            return CheckResult.exact(name, diff == null, diff == null ? "" : diff);
        } catch (RuntimeException e) {
            return CheckResult.error(name, String.valueOf(e.getMessage()));
        }
    }

    /** The first field of the reference plan that ours does not reproduce, or null. */
    static String firstDifference(JsonNode ours, JsonNode ref) {
        if (!ref.isArray()) return "run_schedule.json: expected a list of steps";
        if (ours.size() != ref.size()) return "reference has " + ref.size() + " steps, ours " + ours.size();
        for (int j = 0; j < ref.size(); j++) {
            JsonNode r = ref.get(j);
            JsonNode o = ours.get(j);
            for (Iterator<Map.Entry<String, JsonNode>> it = r.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                JsonNode ov = o.get(e.getKey());
                Scheduled alias = Scheduled.byKey(e.getKey()); // "cut_overview" in a reference means our "overview"
                if (ov == null && alias != null) ov = o.get(alias.planField());
                if (ov == null) return "step " + j + ": no field '" + e.getKey() + "' in our plan";
                if (!same(ov, e.getValue())) {
                    return "step " + j + ": " + e.getKey() + " = " + e.getValue() + ", ours " + ov;
                }
            }
        }
        return null;
    }

    private static boolean same(JsonNode a, JsonNode b) {
        if (a.isNumber() && b.isNumber()) return a.asDouble() == b.asDouble();
        if (a.isBoolean() && b.isNumber()) return (a.asBoolean() ? 1.0 : 0.0) == b.asDouble();
        if (a.isNumber() && b.isBoolean()) return (b.asBoolean() ? 1.0 : 0.0) == a.asDouble();
        if (a.isArray() && b.isArray()) {
            if (a.size() != b.size()) return false;
            for (int i = 0; i < a.size(); i++) if (!same(a.get(i), b.get(i))) return false;
            return true;
        }
        return a.equals(b);
    }
}
