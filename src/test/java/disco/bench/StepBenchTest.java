package disco.bench;

import disco.run.Residency;
import disco.run.PerfOptions;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import disco.plan.DiffusionSchedule;
import disco.plan.StepPlan;
import disco.settings.Scheduled;
import disco.settings.Settings;
import disco.settings.SettingsIO;
import disco.torch.Torch;
import org.bytedeco.pytorch.Device;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The step bench on the demo networks at a small size: fast and dd modes give the same samples (1e-5) with one UNet
 * forward per step against DD's two, merged CLIP calls; the JSON report's shape; schedule-aware residency.
 */
class StepBenchTest {
    static StepSetup setup;
    static int threads;

    static Settings settings() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("text_prompts", Map.of("0", List.of("a red lighthouse:2", "blurry:-0.5")));
        m.put("clip_models", List.of("ViT-tiny", "RN-tiny"));
        m.put("clip_models_schedules", Map.of("ViT-tiny", "[True]*500+[False]*500", "RN-tiny", "[False]*700+[True]*300"));
        m.put("width_height", List.of(64, 64));
        m.put("steps", 6);
        m.put("skip_steps", 1);
        m.put("cutn_batches", 2);
        m.put("cut_overview", "[2]*1000");
        m.put("cut_innercut", "[2]*1000");
        m.put("seed", 7);
        m.put("use_secondary_model", false);
        List<String> w = new ArrayList<>();
        return SettingsIO.build(SettingsIO.normalize(m, "test", w), "test", Set.of(), w);
    }

    @BeforeAll
    static void load() {
        Torch.init();
        threads = org.bytedeco.pytorch.global.torch.get_num_threads();
        org.bytedeco.pytorch.global.torch.set_num_threads(1); // 2 shared cores: one thread is the faster choice
        setup = StepSetup.demo(settings(), "test", new Device("cpu"));
    }

    @AfterAll
    static void close() {
        if (setup != null) setup.close();
        if (threads > 0) org.bytedeco.pytorch.global.torch.set_num_threads(threads);
    }

    @Test
    void fastAndDdModesAgreeAndCountPasses() throws Exception {
        StepBench.Result r = new StepBench(setup, PerfOptions.defaults(), null).run(2, true, null);
        assertTrue(r.maxRelDiff() < StepBench.EQUIVALENCE_TOL, "fast vs dd: " + r.maxRelDiff());
        assertTrue(r.maxRelDiff() >= 0);
        for (StepBench.StepRecord f : r.of(StepBench.Mode.FAST)) {
            assertEquals(1, f.counts().get("unet_forwards"), "fast: one UNet forward per step");
            assertEquals(1, f.counts().get("unet_forwards_with_grad"));
            assertEquals(1, f.counts().get("unet_backwards"));
            int active = setup.plan.step(f.step()).active().size();
            assertEquals(active, f.counts().get("clip_calls"), "fast: one CLIP call per active model");
        }
        for (StepBench.StepRecord d : r.of(StepBench.Mode.DD)) {
            assertEquals(2, d.counts().get("unet_forwards"), "dd: the sampler's forward and cond_fn's forward");
            assertEquals(1, d.counts().get("unet_forwards_with_grad"));
            int active = setup.plan.step(d.step()).active().size();
            assertEquals(active * setup.plan.step(d.step()).cutnBatches(), d.counts().get("clip_calls"));
        }
        // both encode the same images
        assertEquals(r.meanCounts(StepBench.Mode.FAST).get("clip_images"), r.meanCounts(StepBench.Mode.DD).get("clip_images"));

        JsonNode j = new ObjectMapper().readTree(new ObjectMapper().writeValueAsString(StepBench.toJson(r)));
        for (String k : List.of("source", "device", "threads", "options", "plan_steps", "modes", "speedup",
                "speedup_cpu_time", "max_rel_diff", "equivalent", "memory", "residency")) {
            assertTrue(j.has(k), "JSON has " + k);
        }
        assertEquals(5, j.get("plan_steps").asInt());
        for (String mode : List.of("fast", "dd")) {
            JsonNode m = j.get("modes").get(mode);
            assertTrue(m.get("median_step_ms").asDouble() > 0);
            assertEquals(2, m.get("steps").size());
            JsonNode s0 = m.get("steps").get(0);
            for (String k : List.of("iteration", "step", "index", "total_ms", "cpu_ms", "stages_ms", "counts", "rss_kb")) {
                assertTrue(s0.has(k), mode + " step has " + k);
            }
            for (String stage : List.of("unet.forward", "unet.backward", "clip.ViT-tiny.forward",
                    "clip.ViT-tiny.backward", "cutouts", "gradient", "sampler")) {
                assertTrue(s0.get("stages_ms").has(stage), mode + " step 0 has stage " + stage);
            }
            double sum = 0;
            for (JsonNode v : s0.get("stages_ms")) sum += v.asDouble();
            assertEquals(s0.get("total_ms").asDouble(), sum, 1e-6 * Math.max(1, sum), "stages add up to the step");
        }
        assertTrue(j.get("memory").get("peak_rss_kb").asLong() > 0);
        assertEquals(2, j.get("residency").size());
    }

    @Test
    void residentModelsFollowTheScheduleOneStepAhead() {
        DiffusionSchedule sched = DiffusionSchedule.create(1000, 10, "ddim10");
        Map<Scheduled, String> sc = new EnumMap<>(Scheduled.class);
        StepPlan plan = StepPlan.build(sched, 0, List.of("A", "B", "C"), Map.of("A", "[True]*300+[False]*700",
                "B", "[False]*600+[True]*400", "C", "[False]*1000"), sc);
        for (int j = 0; j < plan.size(); j++) {
            List<String> res = Residency.residentAt(plan, plan.models(), j, true);
            for (String m : plan.step(j).active()) assertTrue(res.contains(m), "active " + m + " resident at " + j);
            for (String m : plan.models()) {
                boolean needed = plan.step(j).active().contains(m)
                        || (j + 1 < plan.size() && plan.step(j + 1).active().contains(m));
                assertEquals(needed, res.contains(m), m + " at step " + j);
            }
            assertFalse(res.contains("C"), "a model never on is never resident");
            assertEquals(plan.models(), Residency.residentAt(plan, plan.models(), j, false));
        }
        // B switches on mid-run: brought back exactly one step before
        int firstB = -1;
        for (int j = 0; j < plan.size() && firstB < 0; j++) if (plan.step(j).active().contains("B")) firstB = j;
        assertTrue(firstB > 0);
        assertTrue(Residency.residentAt(plan, plan.models(), firstB - 1, true).contains("B"));
        if (firstB > 1) assertFalse(Residency.residentAt(plan, plan.models(), firstB - 2, true).contains("B"));
    }

    @Test
    void offloadingGivesIdenticalSamplesAndReportsResidentBytes() {
        StepBench.Result off = new StepBench(setup, PerfOptions.defaults().withOffloadInactive(true), null).run(3, false, null);
        StepBench.Result on = new StepBench(setup, PerfOptions.defaults(), null).run(3, false, null);
        long vit = Residency.bytesOf(setup.clips.get("ViT-tiny"));
        long rn = Residency.bytesOf(setup.clips.get("RN-tiny"));
        assertTrue(vit > 0 && rn > 0);
        boolean someOffloaded = false;
        for (int i = 0; i < 3; i++) {
            Residency.StepResidency s = off.residency().get(i);
            List<String> want = Residency.residentAt(setup.plan, setup.plan.models(), s.step(), true);
            assertEquals(want, s.resident());
            long bytes = (s.resident().contains("ViT-tiny") ? vit : 0) + (s.resident().contains("RN-tiny") ? rn : 0);
            assertEquals(bytes, s.residentBytes());
            someOffloaded |= s.resident().size() < 2;
            assertEquals(vit + rn, on.residency().get(i).residentBytes());
        }
        assertTrue(someOffloaded, "the test schedule switches a model off");
        assertEquals(on.records().size(), off.records().size());
        assertArrayEquals(on.lastSamples().get("fast"), off.lastSamples().get("fast"), "offloading changes no sample");
    }
}
