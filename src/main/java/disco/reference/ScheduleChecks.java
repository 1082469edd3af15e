package disco.reference;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import disco.util.Compare;
import disco.plan.DiffusionSchedule;
import disco.plan.StepPlan;
import disco.settings.Scheduled;
import disco.util.Npy;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * The schedule reference checks: {@code schedule/alphas_cumprod} (respaced alphas_cumprod, tol 1e-12, and the
 * timestep map exactly), {@code schedule/alphas_cumprod_cosine} (the same for {@code schedule_cosine.json}) and {@code schedule/step_plan} (every field of {@code run_schedule.json}, exactly). Every
 * value comes from the directory's {@code settings.json} ({@link disco.plan.FixtureSettings}).
 */
public final class ScheduleChecks implements ReferenceCheck {
    public static final double ALPHAS_TOL = 1e-12;
    private static final ObjectMapper JSON = new ObjectMapper();

    @Override
    public List<CheckResult> run(ReferenceContext ctx) {
        List<CheckResult> out = new ArrayList<>();
        out.add(alphas(ctx));
        out.add(stepPlan(ctx));
        out.add(cosine(ctx));
        return out;
    }

    static CheckResult alphas(ReferenceContext ctx) {
        String name = "schedule/alphas_cumprod";
        try {
            return alphas(name, ctx, ctx.fixtureSettings().schedule(), "alphas_cumprod.npy", "timestep_map.npy");
        } catch (RuntimeException e) {
            return CheckResult.error(name, String.valueOf(e.getMessage()));
        }
    }

    /**
     * {@code schedule/alphas_cumprod_cosine}: the schedule {@code schedule_cosine.json} describes (its steps,
     * diffusion_steps, timestep_respacing, noise_schedule) against {@code alphas_cumprod_cosine.npy} (1e-12) and
     * {@code timestep_map_cosine.npy} (exact).
     */
    static CheckResult cosine(ReferenceContext ctx) {
        String name = "schedule/alphas_cumprod_cosine";
        try {
            DiffusionSchedule ds = disco.plan.FixtureSettings.schedule(ctx.file("schedule_cosine.json"),
                    ctx.json("schedule_cosine.json"));
            return alphas(name, ctx, ds, "alphas_cumprod_cosine.npy", "timestep_map_cosine.npy");
        } catch (RuntimeException e) {
            return CheckResult.error(name, String.valueOf(e.getMessage()));
        }
    }

    private static CheckResult alphas(String name, ReferenceContext ctx, DiffusionSchedule ds, String alphasFile,
                                      String mapFile) {
        Npy.Array ref = ctx.npy(alphasFile);
        double[] refA = ref.doubles();
        double[] ours = ds.alphasCumprod();
        if (refA.length != ours.length) {
            return CheckResult.error(name, "alphas_cumprod has " + refA.length + " entries, ours " + ours.length);
        }
        double err = Compare.maxRelErr(ours, refA);
        String detail = "";
        boolean mapOk = true;
        if (ctx.has(mapFile)) {
            long[] map = ctx.npy(mapFile).longs();
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
    }

    static CheckResult stepPlan(ReferenceContext ctx) {
        String name = "schedule/step_plan";
        try {
            StepPlan plan = ctx.fixtureSettings().plan();
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
