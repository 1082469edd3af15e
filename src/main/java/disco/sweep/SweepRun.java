package disco.sweep;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import disco.plan.PlanStep;
import disco.plan.StepPlan;
import disco.settings.Scheduled;
import disco.settings.Settings;
import disco.settings.SettingsIO;

import java.util.List;
import java.util.Map;

/**
 * One run of a sweep: its position in the grid, its name (also its directory and {@code batch_name}), the variable
 * values, its validated settings and its step plan.
 *
 * @param index     position among the sweep's runs
 * @param name      e.g. {@code s1=200_s2=800}
 * @param axisIndex the value index on each axis, in axis order
 * @param vars      axis name → value (prompts by index)
 */
public record SweepRun(int index, String name, int[] axisIndex, Map<String, Object> vars, Settings settings,
                       StepPlan plan) {
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS);

    /** Executed steps of one batch: {@code steps - skip_steps}. */
    public int stepsRun() {
        return plan.size();
    }

    /**
     * Everything in the settings that shapes the trajectory other than the per-step plan: the settings without the
     * per-step schedules (the plan's entries stand for them), the output options and the batch count. Two
     * trajectories can share a step only when these agree.
     */
    public String fingerprint() {
        Map<String, Object> m = SettingsIO.toMap(settings);
        for (String k : SweepDef.NOT_TRAJECTORY) m.remove(k);
        for (Scheduled s : Scheduled.values()) m.remove(s.key());
        try {
            return JSON.writeValueAsString(m);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * What executed step {@code j} reads from the plan. PLMS's first step also calls the guidance at the next
     * step's schedule index (DD's pseudo improved-Euler step), so that entry is part of step 0's key.
     */
    public Object stepKey(int j) {
        PlanStep p = plan.step(j);
        if (j == 0 && "plms".equals(settings.diffusionSamplingMode()) && plan.size() > 1) return List.of(p, plan.step(1));
        return p;
    }

    @Override
    public String toString() {
        return name;
    }
}
