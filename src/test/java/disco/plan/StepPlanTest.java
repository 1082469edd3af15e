package disco.plan;

import disco.settings.Scheduled;
import org.junit.jupiter.api.Test;

import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class StepPlanTest {
    private static StepPlan twoModels(String rn50, String vitl14) {
        Map<String, String> sched = new LinkedHashMap<>();
        sched.put("RN50", rn50);
        sched.put("ViT-L/14", vitl14);
        return StepPlan.build(DiffusionSchedule.create(250, null), 10, List.of("RN50", "ViT-L/14"), sched, Map.of());
    }

    private static long count(StepPlan p, String model) {
        return p.steps().stream().filter(s -> s.active().contains(model)).count();
    }

    @Test
    void theBlogsTwoModelPlan() {
        StepPlan p = twoModels("[True]*400+[False]*600", "[False]*200+[True]*800");
        assertEquals(240, p.size());
        assertEquals(90, count(p, "RN50"));
        assertEquals(200, count(p, "ViT-L/14"));
        assertEquals(50, p.steps().stream().filter(s -> s.active().size() == 2).count());
        assertNull(p.unguidedWarning());
        StepPlan.ModelSummary rn = p.summaries().get(0);
        assertEquals(new StepPlan.ModelSummary("RN50", 90, 0, 89), rn);
    }

    @Test
    void aGapBetweenTheModelsIsReported() {
        StepPlan p = twoModels("[True]*200+[False]*800", "[False]*400+[True]*600");
        assertEquals(50, p.unguided().size());
        assertEquals("50 of 240 steps (schedule 203\u2013399) have no CLIP model: no CLIP guidance there",
                p.unguidedWarning());
    }

    @Test
    void stepsCountDownFromTheFirstExecutedIndex() {
        StepPlan p = twoModels("0-40%", "20%-100%"); // windows give the same plan as the lists above
        assertEquals(90, count(p, "RN50"));
        assertEquals(200, count(p, "ViT-L/14"));
        PlanStep first = p.step(0);
        assertEquals(0, first.step());
        assertEquals(239, first.index());
        assertEquals(956, first.t());
        assertEquals(957, first.tInt());
        assertEquals(43, first.schedIndex());
        PlanStep last = p.step(239);
        assertEquals(0, last.index());
        assertEquals(0, last.t());
        assertEquals(999, last.schedIndex());
    }

    @Test
    void scalarsAreReadAtTheScheduleIndex() {
        Map<Scheduled, String> scalars = new EnumMap<>(Scheduled.class);
        scalars.put(Scheduled.CUT_OVERVIEW, "[4]*300+[2]*400+[1]*300");
        scalars.put(Scheduled.CUT_INNERCUT, "[0]*1000");
        scalars.put(Scheduled.CUT_ICGRAY_P, "[0.2]*400+[0]*600");
        scalars.put(Scheduled.USE_SECONDARY_MODEL, "[True]*500+[False]*500");
        scalars.put(Scheduled.CLIP_GUIDANCE_SCALE, "[5000]*600+[2500.5]*400");
        scalars.put(Scheduled.CLAMP_GRAD, "False");
        StepPlan p = StepPlan.build(DiffusionSchedule.create(10, null), 2, List.of("ViT-tiny", "RN-tiny"),
                Map.of("ViT-tiny", "[True]*500+[False]*500", "RN-tiny", "[False]*300+[True]*700"), scalars);
        assertEquals(8, p.size());
        int[] sched = {299, 399, 499, 599, 699, 799, 899, 999};
        int[] overview = {4, 2, 2, 2, 2, 1, 1, 1};
        for (int j = 0; j < 8; j++) {
            PlanStep s = p.step(j);
            assertEquals(7 - j, s.index());
            assertEquals(100 * (7 - j), s.t());
            assertEquals(sched[j], s.schedIndex());
            assertEquals(overview[j], s.overview());
            assertEquals(0, s.innercut());
            assertEquals(s.schedIndex() < 400 ? 0.2 : 0.0, s.icgrayP());
            assertEquals(s.schedIndex() < 500, s.useSecondaryModel());
            assertEquals(s.schedIndex() < 600 ? 5000 : 2500.5, s.clipGuidanceScale());
            assertFalse(s.clampGrad());
            assertEquals(4, s.cutnBatches()); // default
            assertEquals(150, s.rangeScale()); // default
        }
        assertEquals(List.of("ViT-tiny"), p.step(0).active());
        assertEquals(List.of("ViT-tiny", "RN-tiny"), p.step(1).active());
        assertEquals(List.of("RN-tiny"), p.step(3).active());
    }

    @Test
    void modelsWithoutAScheduleAreAlwaysOn() {
        StepPlan p = StepPlan.build(DiffusionSchedule.create(50, null), 0, List.of("a", "b"),
                Map.of("a", "[False]*1000"), Map.of());
        assertTrue(p.steps().stream().allMatch(s -> s.active().equals(List.of("b"))));
        assertEquals(0, p.summaries().get(0).stepsOn());
        assertEquals(-1, p.summaries().get(0).firstStep());
    }

    @Test
    void badInputs() {
        DiffusionSchedule ds = DiffusionSchedule.create(50, null);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> StepPlan.build(ds, 0, List.of("a"), Map.of("b", "True"), Map.of()));
        assertTrue(e.getMessage().contains("'b' is not one of clip_models"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> StepPlan.build(ds, 50, List.of("a"), Map.of(), Map.of()));
        assertTrue(e.getMessage().startsWith("skip_steps"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> StepPlan.build(ds, 0, List.of("a"), Map.of(), Map.of(Scheduled.CUT_OVERVIEW, "[4]*999")));
        assertTrue(e.getMessage().startsWith("cut_overview: ") && e.getMessage().contains("999 entries"),
                e.getMessage());
    }

    @Test
    void jsonCarriesTheRequiredFields() {
        Map<String, Object> m = twoModels("0-40%", "20%-100%").toJsonList().get(0);
        for (String k : List.of("step", "index", "t", "sched_index", "active", "overview", "innercut", "ic_pow",
                "icgray_p")) {
            assertTrue(m.containsKey(k), k);
        }
    }
}
