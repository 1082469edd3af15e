package disco.sweep;

import disco.plan.StepPlan;
import disco.settings.Settings;
import disco.settings.SettingsIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The time estimate with injected calibrations: the decomposition of timed steps, the scaling with executed steps,
 * cuts, cutn batches, batches and the models on at each step, the sweep tree's shared steps counted once; the
 * calibration cache's file: read, write, invalidation by key, bad files ignored with one warning.
 */
class TimeEstimateTest {
    @TempDir
    Path tmp;

    static Settings settings(String... kv) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("text_prompts", List.of("a lighthouse"));
        m.put("clip_models", List.of("RN50", "ViT-B/32"));
        m.put("steps", 10);
        m.put("skip_steps", 0);
        m.put("cut_overview", "[4]*1000");
        m.put("cut_innercut", "[2]*1000");
        m.put("cutn_batches", 1);
        m.put("n_batches", 1);
        m.put("use_secondary_model", false);
        for (int i = 0; i < kv.length; i += 2) {
            Object v = kv[i + 1];
            try {
                v = Integer.parseInt(kv[i + 1]);
            } catch (NumberFormatException ignored) {
                // a string value
            }
            m.put(kv[i], v);
        }
        return SettingsIO.build(m, "test", java.util.Set.of(), new ArrayList<>());
    }

    /** 100 ms a step (UNet-guided), 250 ms with the secondary model; RN50 2 ms an image, ViT-B/32 3 ms. */
    static TimeEstimate.Calibration injected() {
        return new TimeEstimate.Calibration(Map.of(
                TimeEstimate.UNET, new TimeEstimate.Costs(100, Map.of("RN50", 2.0, "ViT-B/32", 3.0), 1),
                TimeEstimate.SECONDARY, new TimeEstimate.Costs(250, Map.of("RN50", 2.0, "ViT-B/32", 3.0), 1)), "injected");
    }

    static double runMs(Settings s) {
        StepPlan p = StepPlan.of(s);
        assertEquals(List.of(), TimeEstimate.missing(injected(), p, s.batchSize(), false));
        return TimeEstimate.runMs(injected(), p, 0, p.size(), s.batchSize(), false, s.nBatches());
    }

    @Test
    void scalesWithStepsCutsBatchesAndActiveModels() {
        // 6 cuts a step for each model: 100 + 6 * 2 + 6 * 3 = 130 ms a step
        assertEquals(10 * 130, runMs(settings()), 1e-9);
        assertEquals(20 * 130, runMs(settings("steps", "20")), 1e-9);
        assertEquals(15 * 130, runMs(settings("steps", "20", "skip_steps", "5")), 1e-9);
        assertEquals(3 * 10 * 130, runMs(settings("n_batches", "3")), 1e-9);
        // cutn_batches 2: 12 images a model: 100 + 24 + 36
        assertEquals(10 * 160, runMs(settings("cutn_batches", "2")), 1e-9);
        // more cuts: 8 + 2 = 10 images: 100 + 20 + 30
        assertEquals(10 * 150, runMs(settings("cut_overview", "[8]*1000")), 1e-9);
        // batch_size 2 encodes twice the images; the fixed part is the calibration's (of that batch size)
        assertEquals(10 * 160, runMs(settings("batch_size", "2")), 1e-9);
        // RN50 on the first half of the schedule only (steps 0-4 of 10): 5 steps without its 12 ms
        Map<String, Object> m = SettingsIO.toMap(settings());
        m.put("clip_models_schedules", Map.of("RN50", "[True]*500+[False]*500"));
        Settings half = SettingsIO.build(m, "test", java.util.Set.of(), new ArrayList<>());
        StepPlan hp = StepPlan.of(half);
        long rnSteps = hp.steps().stream().filter(st -> st.active().contains("RN50")).count();
        assertTrue(rnSteps > 0 && rnSteps < 10, "RN50 on " + rnSteps + " steps");
        assertEquals(10 * 130 - (10 - rnSteps) * 12, runMs(half), 1e-9);
        // the secondary model on the last 40 % of the schedule: those steps cost its fixed part
        Map<String, Object> sm = SettingsIO.toMap(settings());
        sm.put("use_secondary_model", "[False]*600+[True]*400");
        Settings sec = SettingsIO.build(sm, "test", java.util.Set.of(), new ArrayList<>());
        StepPlan sp = StepPlan.of(sec);
        long secSteps = sp.steps().stream().filter(st -> st.useSecondaryModel()).count();
        assertTrue(secSteps > 0 && secSteps < 10);
        assertEquals(List.of(TimeEstimate.UNET, TimeEstimate.SECONDARY), TimeEstimate.kinds(sp));
        assertEquals(10 * 130 + secSteps * 150, runMs(sec), 1e-9);
        // a calibration without the secondary model's steps, or without a model, cannot estimate the plan
        TimeEstimate.Calibration unetOnly = new TimeEstimate.Calibration(Map.of(TimeEstimate.UNET,
                injected().byKind().get(TimeEstimate.UNET)), "unet only");
        assertEquals(List.of("(secondary-guided steps)"), TimeEstimate.missing(unetOnly, sp, 1, false));
        TimeEstimate.Calibration noVit = new TimeEstimate.Calibration(Map.of(TimeEstimate.UNET,
                new TimeEstimate.Costs(100, Map.of("RN50", 2.0), 1)), "no ViT");
        assertEquals(List.of("ViT-B/32"), TimeEstimate.missing(noVit, StepPlan.of(settings()), 1, false));
        assertThrows(IllegalArgumentException.class, () -> TimeEstimate.stepMs(noVit, StepPlan.of(settings()), 0, 1, false));
    }

    @Test
    void timedStepsDecompose() {
        // two steps: fixed 100 ms; RN50 24 images at 1.5 ms, ViT 12 images at 4 ms; cutouts + gradient 0.5 ms an image
        List<TimeEstimate.Sample> samples = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            Map<String, Double> st = new LinkedHashMap<>();
            st.put("unet.forward", 40.0);
            st.put("unet.backward", 50.0);
            st.put("clip.RN50.forward", 24.0);
            st.put("clip.RN50.backward", 12.0);
            st.put("clip.ViT-B/32.forward", 30.0);
            st.put("clip.ViT-B/32.backward", 18.0);
            st.put("cutouts", 12.0);
            st.put("gradient", 6.0);
            st.put("sampler", 10.0);
            double total = st.values().stream().mapToDouble(Double::doubleValue).sum();
            samples.add(new TimeEstimate.Sample(total, st, Map.of("clip_images", 36L,
                    TimeEstimate.imagesCounter("RN50"), 24L, TimeEstimate.imagesCounter("ViT-B/32"), 12L)));
        }
        TimeEstimate.Costs c = TimeEstimate.fromSamples(samples);
        assertEquals(100, c.fixedMs(), 1e-9);
        assertEquals(1.5 + 0.5, c.msPerImage().get("RN50"), 1e-9);
        assertEquals(4 + 0.5, c.msPerImage().get("ViT-B/32"), 1e-9);
        assertEquals(2, c.stepsTimed());
        // the costs give back the timed step
        assertEquals(samples.get(0).totalMs(), c.fixedMs() + 24 * c.msPerImage().get("RN50") + 12 * c.msPerImage().get("ViT-B/32"), 1e-9);
    }

    @Test
    void aTreeCountsSharedStepsOnce() {
        SweepDef d = new SweepDef.Builder()
                .template("text_prompts=[a lighthouse]").template("clip_models=[RN50, ViT-B/32]")
                .template("steps=20").template("skip_steps=0").template("cut_overview=[4]*1000")
                .template("cut_innercut=[2]*1000").template("cutn_batches=1").template("use_secondary_model=false")
                .template("n_batches=2")
                .template("clip_models_schedules.RN50=[True]*{k}+[False]*(1000-{k})")
                .grid("k=500,1000").build();
        List<SweepRun> runs = d.runs(3L);
        PrefixTree tree = PrefixTree.of(runs);
        assertTrue(tree.executedSteps() < tree.independentSteps(), "the runs share a prefix");
        // 1 ms a step, nothing per image: the tree's executed steps
        TimeEstimate.Calibration steps = new TimeEstimate.Calibration(Map.of(TimeEstimate.UNET,
                new TimeEstimate.Costs(1, Map.of("RN50", 0.0, "ViT-B/32", 0.0), 1)), "steps");
        assertEquals(tree.executedSteps(), TimeEstimate.treeMs(tree, r -> steps), 1e-9);
        // 1 ms an image: the CLIP images the tree encodes
        TimeEstimate.Calibration images = new TimeEstimate.Calibration(Map.of(TimeEstimate.UNET,
                new TimeEstimate.Costs(0, Map.of("RN50", 1.0, "ViT-B/32", 1.0), 1)), "images");
        long all = SweepCost.clipImages(tree).values().stream().mapToLong(Long::longValue).sum();
        assertEquals(all, TimeEstimate.treeMs(tree, r -> images), 1e-9);
        // less than the runs alone
        double alone = 0;
        for (SweepRun r : runs) {
            alone += TimeEstimate.runMs(injected(), r.plan(), 0, r.stepsRun(), 1, false, r.settings().nBatches());
        }
        assertTrue(TimeEstimate.treeMs(tree, r -> injected()) < alone);
    }

    @Test
    void formatsDurations() {
        assertEquals("850 ms", TimeEstimate.format(850));
        assertEquals("12.4 s", TimeEstimate.format(12_400));
        assertEquals("3 min 20 s", TimeEstimate.format(200_000));
        assertEquals("2 h 05 min", TimeEstimate.format(125 * 60_000.0));
    }

    static Map<String, Object> key(int width) {
        Map<String, Object> k = new LinkedHashMap<>();
        k.put("device", "cpu: test");
        k.put("width", width);
        k.put("options", Map.of("precision", "fp32", "threads", 2));
        k.put("clip_models", List.of("RN50", "ViT-B/32"));
        return k;
    }

    @Test
    void cacheReadsWritesAndInvalidates() throws Exception {
        Path f = tmp.resolve("sub/calibration.json");
        List<String> warnings = new ArrayList<>();
        CalibrationCache c = CalibrationCache.read(f, warnings::add);
        assertTrue(c.entries().isEmpty());
        assertNull(c.calibration(key(64), List.of(TimeEstimate.UNET)));
        Instant at = Instant.parse("2026-12-01T10:15:30Z");
        c.put(key(64), TimeEstimate.UNET, at, new TimeEstimate.Costs(100, Map.of("RN50", 2.0), 1));
        c.write();
        try (var s = Files.list(f.getParent())) {
            assertEquals(List.of(f), s.toList(), "written atomically: no temp file left");
        }
        CalibrationCache back = CalibrationCache.read(f, warnings::add);
        assertEquals(List.of(), warnings);
        TimeEstimate.Calibration cal = back.calibration(key(64), List.of(TimeEstimate.UNET));
        assertNotNull(cal);
        assertEquals(100, cal.byKind().get(TimeEstimate.UNET).fixedMs());
        assertEquals(2.0, cal.byKind().get(TimeEstimate.UNET).msPerImage().get("RN50"));
        assertTrue(cal.obtained().contains("cached from 2026-12-01 10:15 UTC"), cal.obtained());
        // another size, another option, another kind: not this entry
        assertNull(back.calibration(key(128), List.of(TimeEstimate.UNET)));
        Map<String, Object> fp16 = key(64);
        fp16.put("options", Map.of("precision", "fp16", "threads", 2));
        assertNull(back.calibration(fp16, List.of(TimeEstimate.UNET)));
        assertNull(back.calibration(key(64), List.of(TimeEstimate.UNET, TimeEstimate.SECONDARY)));
        // the same key with its maps in another order, and numbers as longs: the same entry
        Map<String, Object> reordered = new LinkedHashMap<>();
        reordered.put("clip_models", List.of("RN50", "ViT-B/32"));
        reordered.put("options", new java.util.TreeMap<>(Map.of("threads", 2L, "precision", "fp32")));
        reordered.put("width", 64L);
        reordered.put("device", "cpu: test");
        assertNotNull(back.calibration(reordered, List.of(TimeEstimate.UNET)));
        // a new calibration of the same key replaces the old one
        back.put(key(64), TimeEstimate.UNET, at.plusSeconds(60), new TimeEstimate.Costs(50, Map.of("RN50", 1.0), 1));
        back.put(key(128), TimeEstimate.UNET, at, new TimeEstimate.Costs(400, Map.of("RN50", 8.0), 1));
        back.write();
        CalibrationCache again = CalibrationCache.read(f, warnings::add);
        assertEquals(2, again.entries().size());
        assertEquals(50, again.calibration(key(64), List.of(TimeEstimate.UNET)).byKind().get(TimeEstimate.UNET).fixedMs());
        assertEquals(400, again.calibration(key(128), List.of(TimeEstimate.UNET)).byKind().get(TimeEstimate.UNET).fixedMs());
    }

    @Test
    void aBadCacheFileIsIgnoredWithOneWarning() throws Exception {
        Path f = tmp.resolve("calibration.json");
        for (String bad : List.of("not json {", "[1, 2]", "{\"version\": 99, \"entries\": []}",
                "{\"version\": 1, \"entries\": [{\"key\": {}, \"kind\": \"unet\", \"fixed_ms\": \"fast\"}]}",
                "{\"version\": 1, \"entries\": [{\"key\": {}, \"kind\": \"unet\", \"fixed_ms\": 1, \"ms_per_image\": {},"
                        + " \"calibrated_at\": \"yesterday\"}]}")) {
            Files.writeString(f, bad);
            List<String> warnings = new ArrayList<>();
            CalibrationCache c = CalibrationCache.read(f, warnings::add);
            assertTrue(c.entries().isEmpty(), bad);
            assertEquals(1, warnings.size(), bad + ": " + warnings);
            assertEquals(1, warnings.get(0).lines().count(), warnings.get(0));
            assertTrue(warnings.get(0).startsWith(f + ": not a calibration cache ("), warnings.get(0));
            // the next calibration replaces it with a good file
            c.put(key(64), TimeEstimate.UNET, Instant.now(), new TimeEstimate.Costs(1, Map.of(), 1));
            c.write();
            List<String> none = new ArrayList<>();
            assertEquals(1, CalibrationCache.read(f, none::add).entries().size());
            assertEquals(List.of(), none);
        }
    }

    @Test
    void cachePathFollowsTheEnvironment() {
        assertEquals(Path.of("/x/cal.json"), CalibrationCache.defaultPath(Map.of(CalibrationCache.ENV, "/x/cal.json"), "/home/u"));
        assertEquals(Path.of("/xdg/disco/calibration.json"), CalibrationCache.defaultPath(Map.of("XDG_CACHE_HOME", "/xdg"), "/home/u"));
        assertEquals(Path.of("/home/u/.cache/disco/calibration.json"), CalibrationCache.defaultPath(Map.of(), "/home/u"));
    }
}
