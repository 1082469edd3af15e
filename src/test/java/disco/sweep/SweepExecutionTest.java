package disco.sweep;

import disco.run.Checkpoint;
import disco.run.ImageLoading;
import disco.run.ResolvedSettings;
import disco.run.RunLoop;
import disco.run.StopAt;
import disco.settings.Settings;
import disco.torch.Torch;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Shared-prefix execution on an analytic engine: every run of a sweep equals the same settings run alone by the
 * run loop (bitwise), with forks in memory or spilled; a sweep that dies mid-way restarts without redoing finished
 * runs; shards cover the sweep; --stop-at leaves checkpoints that resume to the full run.
 */
class SweepExecutionTest {
    @TempDir
    Path tmp;

    @BeforeAll
    static void torch() {
        Torch.init();
    }

    static PrintStream quiet() {
        return new PrintStream(new ByteArrayOutputStream());
    }

    /** 2 models over 8 executed steps; RN-tiny the first s1 entries, ViT-tiny the last s2; 7 runs. */
    static SweepDef def(String mode, int batches) {
        return new SweepDef.Builder()
                .template("text_prompts=[a lighthouse]").template("clip_models=[RN-tiny, ViT-tiny]")
                .template("steps=10").template("skip_steps=2").template("width_height=[64, 64]")
                .template("n_batches=" + batches).template("intermediate_saves=2").template("save_rate=0")
                .template("diffusion_sampling_mode=" + mode)
                .template("clip_models_schedules.RN-tiny=[True]*{s1}+[False]*(1000-{s1})")
                .template("clip_models_schedules.ViT-tiny=[False]*(1000-{s2})+[True]*{s2}")
                .grid("s1=0:1000:500").grid("s2=0:1000:500").where("s1 + s2 >= 1000")
                .build();
    }

    static byte[] pixels(Path png) {
        return ImageLoading.readRgb(png).rgb();
    }

    static SweepExecutor executor(Path out) {
        return new SweepExecutor(out, FakeEngine::new, quiet());
    }

    static Path finalImage(Path out, SweepRun r, int batch) {
        return out.resolve(r.name()).resolve(r.name() + "(0)_" + batch + ".png");
    }

    @Test
    void everySweepRunEqualsTheRunAlone() throws Exception {
        for (String mode : new String[] {"ddim", "plms"}) {
            int batches = mode.equals("ddim") ? 2 : 1;
            List<SweepRun> runs = def(mode, batches).runs(11L);
            PrefixTree tree = PrefixTree.of(runs);
            assertEquals(runs.size() * 8L * batches, tree.independentSteps());
            assertTrue(tree.executedSteps() < tree.independentSteps(), mode);
            Path out = tmp.resolve(mode);
            SweepState st = SweepState.open(out.resolve("sweep.json"));
            st.bind(SweepDef.digest(runs), 11L);
            SweepExecutor.Result res = executor(out).forkMemory(mode.equals("ddim") ? 0 : 1L << 30).execute(tree.trajectories(), st);
            assertEquals(tree.executedSteps(), res.executedSteps());
            for (SweepRun r : runs) {
                ResolvedSettings rs = ResolvedSettings.of(r.settings());
                RunLoop.Result alone = new RunLoop(quiet()).handleSigint(false)
                        .run(new RunLoop.Spec(rs.settings(), rs.json(), tmp.resolve(mode + "-alone"), null), new FakeEngine(rs.settings()));
                for (int b = 0; b < batches; b++) {
                    assertArrayEquals(pixels(alone.images().get(b)), pixels(finalImage(out, r, b)), mode + " " + r + " batch " + b);
                }
                // the same partials and log lines as disco run writes
                List<String> names = new ArrayList<>();
                for (Path p : alone.outputs().partials()) names.add(p.getFileName().toString());
                List<String> mine = new ArrayList<>();
                for (Path p : new disco.run.RunOutputs(out.resolve(r.name()), r.name(), 0, 1, "").partials()) mine.add(p.getFileName().toString());
                assertEquals(names, mine);
                assertEquals(8 * batches, disco.run.StepLog.read(out.resolve(r.name()).resolve(r.name() + "(0)_log.jsonl")).size());
                assertEquals("done", SweepState.open(out.resolve("sweep.json")).entry(r.name() + "#0").status());
            }
            // spilled forks are cleaned up
            if (Files.isDirectory(out.resolve(".forks"))) {
                try (var s = Files.list(out.resolve(".forks"))) {
                    assertEquals(0, s.count());
                }
            }
        }
    }

    @Test
    void aSweepThatDiesRestartsWithoutRedoingFinishedRuns() throws Exception {
        List<SweepRun> runs = def("ddim", 1).runs(5L);
        Path ref = tmp.resolve("ref");
        SweepState st0 = SweepState.open(ref.resolve("sweep.json"));
        st0.bind(SweepDef.digest(runs), 5L);
        executor(ref).execute(PrefixTree.of(runs).trajectories(), st0);

        Path out = tmp.resolve("killed");
        SweepState st = SweepState.open(out.resolve("sweep.json"));
        st.bind(SweepDef.digest(runs), 5L);
        int[] steps = {0};
        SweepExecutor.EngineFactory dying = s -> {
            FakeEngine e = new FakeEngine(s);
            e.onStep = j -> {
                if (++steps[0] == 30) throw new IllegalStateException("killed");
            };
            return e;
        };
        assertThrows(IllegalStateException.class,
                () -> new SweepExecutor(out, dying, quiet()).execute(PrefixTree.of(runs).trajectories(), st));
        SweepState after = SweepState.open(out.resolve("sweep.json"));
        long done = after.entries().values().stream().filter(e -> e.status().equals("done")).count();
        assertTrue(done > 0 && done < runs.size(), "some runs finished before the kill: " + done);
        List<Long> mtimes = new ArrayList<>();
        for (SweepRun r : runs) {
            Path f = finalImage(out, r, 0);
            mtimes.add(Files.exists(f) ? Files.getLastModifiedTime(f).toMillis() : -1L);
        }
        Thread.sleep(20);
        SweepExecutor.Result res = executor(out).execute(PrefixTree.of(runs).trajectories(), after);
        assertEquals(done, res.trajectoriesSkipped());
        for (int i = 0; i < runs.size(); i++) {
            SweepRun r = runs.get(i);
            assertArrayEquals(pixels(finalImage(ref, r, 0)), pixels(finalImage(out, r, 0)), r.name());
            if (mtimes.get(i) >= 0 && after.entry(r.name() + "#0").status().equals("done")) {
                assertEquals(mtimes.get(i), Files.getLastModifiedTime(finalImage(out, r, 0)).toMillis(), "not rewritten: " + r);
            }
        }
        // another definition in the same directory is refused
        List<SweepRun> other = def("plms", 1).runs(5L);
        assertThrows(disco.util.DiscoException.class, () -> SweepState.open(out.resolve("sweep.json")).bind(SweepDef.digest(other), 5L));
    }

    @Test
    void twoShardsCoverTheSweepAndCollectMatches() throws Exception {
        SweepDef d = def("ddim", 1);
        List<SweepRun> runs = d.runs(8L);
        PrefixTree tree = PrefixTree.of(runs);
        List<PrefixTree.Trajectory> a = tree.shard(1, 2), b = tree.shard(2, 2);
        assertFalse(a.isEmpty());
        assertFalse(b.isEmpty());
        assertEquals(tree.trajectories().size(), a.size() + b.size());
        assertEquals(a, tree.shard(1, 2)); // deterministic
        // prefix groups are not split: the shards share no executed step
        assertEquals(tree.executedSteps(), PrefixTree.ofTrajectories(a).executedSteps() + PrefixTree.ofTrajectories(b).executedSteps());
        Path out = tmp.resolve("sharded");
        for (int i = 1; i <= 2; i++) {
            SweepState st = SweepState.open(out.resolve(SweepState.fileName(i, 2)));
            st.bind(SweepDef.digest(runs), 8L);
            executor(out).execute(i == 1 ? a : b, st);
        }
        Path whole = tmp.resolve("whole");
        SweepState st = SweepState.open(whole.resolve("sweep.json"));
        st.bind(SweepDef.digest(runs), 8L);
        executor(whole).execute(tree.trajectories(), st);
        for (SweepRun r : runs) assertArrayEquals(pixels(finalImage(whole, r, 0)), pixels(finalImage(out, r, 0)), r.name());
        SweepReport.write(out, d, runs, tree);
        SweepReport.write(whole, d, runs, tree);
        assertArrayEquals(pixels(whole.resolve("contact-sheet.png")), pixels(out.resolve("contact-sheet.png")));
        String html = Files.readString(out.resolve("index.html"));
        for (SweepRun r : runs) assertTrue(html.contains("href=\"" + r.name().replace("=", "%3D") + "/run.html\""), r.name());
        assertEquals(9 - runs.size(), html.split("class=\"blank\"", -1).length - 1); // excluded cells are blank
        assertTrue(html.contains("<svg"));
        assertFalse(html.contains("http://") || html.contains("https://"));
    }

    @Test
    void stopAtLeavesCheckpointsThatResumeToTheFullRun() throws Exception {
        List<SweepRun> runs = def("ddim", 1).runs(3L);
        Path out = tmp.resolve("preview");
        SweepExecutor ex = executor(out).stopAt(StopAt.parse("50%"));
        PrefixTree tree = PrefixTree.of(runs, ex::stepsFor);
        assertEquals(runs.size() * 4L, tree.independentSteps());
        SweepState st = SweepState.open(out.resolve("sweep.json"));
        st.bind(SweepDef.digest(runs), 3L);
        ex.execute(tree.trajectories(), st);
        for (SweepRun r : runs) {
            SweepState.Entry e = st.entry(r.name() + "#0");
            assertEquals("stopped", e.status());
            assertEquals(4, e.steps());
            Path ck = out.resolve(e.checkpoint());
            assertTrue(Files.exists(out.resolve(r.name()).resolve("partials").resolve(r.name() + "(0)_0000-003.png")));
            Checkpoint c = Checkpoint.read(ck);
            assertEquals(4, c.nextStep());
            ResolvedSettings rs = ResolvedSettings.fromJson(c.settingsJson(), ck.toString());
            RunLoop.Result resumed = new RunLoop(quiet()).handleSigint(false)
                    .resume(c, new RunLoop.Spec(rs.settings(), rs.json(), null, null), new FakeEngine(rs.settings()));
            ResolvedSettings r0 = ResolvedSettings.of(r.settings());
            RunLoop.Result alone = new RunLoop(quiet()).handleSigint(false)
                    .run(new RunLoop.Spec(r0.settings(), r0.json(), tmp.resolve("alone"), null), new FakeEngine(r0.settings()));
            assertArrayEquals(pixels(alone.images().get(0)), pixels(resumed.images().get(0)), r.name());
        }
        // the contact sheet shows the previews
        SweepReport.write(out, def("ddim", 1), runs, tree);
        assertTrue(Files.readString(out.resolve("index.html")).contains("_0000-003.png"));
    }

    @Test
    void resumeWithChangedSettingsEqualsARunScheduledThatWay() throws Exception {
        List<SweepRun> runs = def("ddim", 1).runs(3L);
        SweepRun r = runs.get(runs.size() - 1);
        Path out = tmp.resolve("preview");
        SweepExecutor ex = executor(out).stopAt(StopAt.parse("50%"));
        SweepState st = SweepState.open(out.resolve("sweep.json"));
        st.bind(SweepDef.digest(runs), 3L);
        ex.execute(PrefixTree.of(List.of(r), ex::stepsFor).trajectories(), st);
        Path ck = out.resolve(st.entry(r.name() + "#0").checkpoint());
        Checkpoint c = Checkpoint.read(ck);
        ResolvedSettings r0 = ResolvedSettings.fromJson(c.settingsJson(), "ck");
        List<String> warnings = new ArrayList<>();
        ResolvedSettings changed = disco.run.ResumeChanges.apply(r0, List.of("clip_guidance_scale=9000"), "command line", warnings);
        RunLoop.Result resumed = new RunLoop(quiet()).handleSigint(false)
                .resume(c, new RunLoop.Spec(changed.settings(), changed.json(), null, null), new FakeEngine(changed.settings()));
        // the same as one run whose clip_guidance_scale switches to 9000 where the checkpoint stopped
        int x = r.plan().step(c.nextStep()).schedIndex();
        int prev = r.plan().step(c.nextStep() - 1).schedIndex();
        assertTrue(prev < x);
        String sched = "[5000]*" + x + "+[9000]*" + (1000 - x);
        List<SweepRun> ref = new SweepDef.Builder()
                .template("text_prompts=[a lighthouse]").template("clip_models=[RN-tiny, ViT-tiny]")
                .template("steps=10").template("skip_steps=2").template("width_height=[64, 64]")
                .template("n_batches=1").template("intermediate_saves=2").template("save_rate=0")
                .template("diffusion_sampling_mode=ddim").template("seed=3").template("batch_name=ref")
                .template("clip_models_schedules.RN-tiny=" + r.settings().clipModelsSchedules().get("RN-tiny"))
                .template("clip_models_schedules.ViT-tiny=" + r.settings().clipModelsSchedules().get("ViT-tiny"))
                .template("clip_guidance_scale=" + sched).build().runs(null);
        ResolvedSettings rr = ResolvedSettings.of(ref.get(0).settings());
        RunLoop.Result alone = new RunLoop(quiet()).handleSigint(false)
                .run(new RunLoop.Spec(rr.settings(), rr.json(), tmp.resolve("ref"), null), new FakeEngine(rr.settings()));
        assertArrayEquals(pixels(alone.images().get(0)), pixels(resumed.images().get(0)));
        // and different from finishing unchanged
        ResolvedSettings same = ResolvedSettings.of(r.settings());
        RunLoop.Result plain = new RunLoop(quiet()).handleSigint(false)
                .run(new RunLoop.Spec(same.settings(), same.json(), tmp.resolve("plain"), null), new FakeEngine(same.settings()));
        assertFalse(java.util.Arrays.equals(pixels(plain.images().get(0)), pixels(resumed.images().get(0))));
        // what shaped the steps already run cannot change
        for (String bad : List.of("steps=20", "seed=4", "width_height=[128, 128]", "diffusion_sampling_mode=plms")) {
            disco.util.DiscoException e = assertThrows(disco.util.DiscoException.class,
                    () -> disco.run.ResumeChanges.apply(r0, List.of(bad), "command line", new ArrayList<>()));
            assertEquals(2, e.exitCode());
        }
    }
}
