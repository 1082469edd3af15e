package disco.sweep;

import disco.run.Checkpoint;
import disco.run.ResolvedSettings;
import disco.run.ResumeChanges;
import disco.run.ResumeVariant;
import disco.run.RunLoop;
import disco.run.StepLog;
import disco.run.StopAt;
import disco.torch.Torch;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

import static disco.sweep.SweepExecutionTest.def;
import static disco.sweep.SweepExecutionTest.finalImage;
import static disco.sweep.SweepExecutionTest.pixels;
import static disco.sweep.SweepExecutionTest.quiet;
import static org.junit.jupiter.api.Assertions.*;

/**
 * The blog's preview workflow on the analytic engine: previews at 40 %, then the same sweep without --stop-at
 * executes exactly the remaining steps (counted at the engine) and ends with the images of a sweep run straight
 * through; --only finishes chosen cells; a variant made by resuming a preview with changed settings survives a
 * later full sweep; finished images are never recomputed.
 */
class SweepPreviewTest {
    @TempDir
    Path tmp;

    @BeforeAll
    static void torch() {
        Torch.init();
    }

    /** An executor whose engines count the guidance calls (one per executed DDIM step). */
    static SweepExecutor counting(Path out, AtomicInteger steps) {
        return new SweepExecutor(out, s -> {
            FakeEngine e = new FakeEngine(s);
            e.onStep = j -> steps.incrementAndGet();
            return e;
        }, quiet());
    }

    static SweepState state(Path out, List<SweepRun> runs, long seed) {
        SweepState st = SweepState.open(out.resolve("sweep.json"));
        st.bind(SweepDef.digest(runs), seed);
        return st;
    }

    /** Nodes of the tree at executed step {@code from} or later. */
    static long nodesFrom(PrefixTree t, int from) {
        long n = 0;
        List<PrefixTree.Node> stack = new ArrayList<>(t.roots());
        while (!stack.isEmpty()) {
            PrefixTree.Node x = stack.remove(stack.size() - 1);
            if (x.step >= from) n++;
            stack.addAll(x.children);
        }
        return n;
    }

    static int gifFrames(Path gif) throws Exception {
        javax.imageio.ImageReader r = javax.imageio.ImageIO.getImageReadersByFormatName("gif").next();
        try (var in = javax.imageio.ImageIO.createImageInputStream(gif.toFile())) {
            r.setInput(in, false);
            return r.getNumImages(true);
        } finally {
            r.dispose();
        }
    }

    @Test
    void previewsThenTheSameSweepRunOnlyTheRemainingStepsToTheStraightThroughImages() throws Exception {
        List<SweepRun> runs = def("ddim", 2).runs(9L);
        PrefixTree full = PrefixTree.of(runs);

        Path straight = tmp.resolve("straight");
        AtomicInteger n0 = new AtomicInteger();
        counting(straight, n0).execute(full.trajectories(), state(straight, runs, 9L));
        assertEquals(full.executedSteps(), n0.get());

        Path out = tmp.resolve("previews");
        StopAt stop = StopAt.parse("40%");
        AtomicInteger n1 = new AtomicInteger();
        SweepExecutor preview = counting(out, n1).stopAt(stop);
        PrefixTree pt = PrefixTree.of(runs, preview::stepsFor);
        int k = stop.stepsFor(8);
        assertEquals(4, k);
        preview.execute(pt.trajectories(), state(out, runs, 9L));
        assertEquals(pt.executedSteps(), n1.get());
        for (SweepRun r : runs) {
            assertTrue(Files.exists(out.resolve(r.name()).resolve(r.name() + "(0)_checkpoint.zip")), r.name());
            assertTrue(Files.exists(out.resolve(r.name()).resolve(r.name() + "(0)_checkpoint-1.zip")), r.name());
            assertFalse(Files.exists(finalImage(out, r, 0)));
        }
        // a preview has its progress.gif, from the partials so far (and the image it stopped at)
        java.util.Map<String, Integer> previewFrames = new java.util.HashMap<>();
        for (SweepRun r : runs) {
            int n = gifFrames(out.resolve(r.name()).resolve("progress.gif"));
            assertTrue(n >= 1, r.name() + ": " + n + " frames");
            previewFrames.put(r.name(), n);
        }

        // the same preview again: nothing to do
        AtomicInteger again = new AtomicInteger();
        SweepExecutor.Result same = counting(out, again).stopAt(stop).execute(pt.trajectories(), SweepState.open(out.resolve("sweep.json")));
        assertEquals(0, again.get());
        assertEquals(pt.trajectories().size(), same.trajectoriesSkipped());

        // the same sweep without --stop-at: exactly the steps from k on, shared as in the straight-through tree
        AtomicInteger n2 = new AtomicInteger();
        List<String> reported = new ArrayList<>();
        SweepExecutor.Result res = counting(out, n2).onRunFinished(r -> reported.add(r.name()))
                .execute(full.trajectories(), SweepState.open(out.resolve("sweep.json")));
        // the report is refreshed once per finished run
        assertEquals(runs.stream().map(SweepRun::name).sorted().toList(), reported.stream().sorted().toList());
        assertEquals(nodesFrom(full, k), n2.get());
        assertEquals(full.executedSteps() - pt.executedSteps(), n2.get());
        assertEquals(n2.get(), res.executedSteps());
        assertEquals(full.independentSteps() - pt.independentSteps(), res.independentSteps());
        for (SweepRun r : runs) {
            for (int b = 0; b < 2; b++) {
                assertArrayEquals(pixels(finalImage(straight, r, b)), pixels(finalImage(out, r, b)), r.name() + " batch " + b);
            }
            // the finished run's checkpoints are gone, its log is whole and in order
            assertFalse(Files.exists(out.resolve(r.name()).resolve(r.name() + "(0)_checkpoint.zip")));
            assertFalse(Files.exists(out.resolve(r.name()).resolve(r.name() + "(0)_checkpoint-1.zip")));
            var log = StepLog.read(out.resolve(r.name()).resolve(r.name() + "(0)_log.jsonl"));
            assertEquals(16, log.size());
            for (int i = 0; i < 16; i++) {
                assertEquals(i / 8, log.get(i).path("batch").asInt());
                assertEquals(i % 8, log.get(i).path("step").asInt());
            }
            assertEquals("done", SweepState.open(out.resolve("sweep.json")).entry(r.name() + "#1").status());
            // the finished run's progress.gif: every partial of its last batch and its final image
            assertTrue(gifFrames(out.resolve(r.name()).resolve("progress.gif")) > previewFrames.get(r.name()), r.name());
        }
        SweepReport.write(out, def("ddim", 2), runs, full);
        String index = Files.readString(out.resolve("index.html"));
        assertTrue(index.contains(runs.get(0).name().replace("=", "%3D") + "/progress.gif"), index);
        assertTrue(Files.readString(out.resolve(runs.get(0).name()).resolve("run.html")).contains("<img src=\"progress.gif\""));

        // a finished sweep run again computes nothing and rewrites no image
        long mtime = Files.getLastModifiedTime(finalImage(out, runs.get(0), 0)).toMillis();
        Thread.sleep(20);
        AtomicInteger n3 = new AtomicInteger();
        counting(out, n3).execute(full.trajectories(), SweepState.open(out.resolve("sweep.json")));
        counting(out, n3).stopAt(StopAt.parse("80%")).execute(PrefixTree.of(runs, r -> 7).trajectories(),
                SweepState.open(out.resolve("sweep.json")));
        assertEquals(0, n3.get());
        assertEquals(mtime, Files.getLastModifiedTime(finalImage(out, runs.get(0), 0)).toMillis());
    }

    @Test
    void onlyFinishesTheChosenCellsAndAResumeVariantSurvivesTheFullSweep() throws Exception {
        List<SweepRun> runs = def("ddim", 1).runs(4L);
        PrefixTree full = PrefixTree.of(runs);
        Path straight = tmp.resolve("straight");
        counting(straight, new AtomicInteger()).execute(full.trajectories(), state(straight, runs, 4L));

        Path out = tmp.resolve("previews");
        SweepExecutor preview = counting(out, new AtomicInteger()).stopAt(StopAt.parse("40%"));
        preview.execute(PrefixTree.of(runs, preview::stepsFor).trajectories(), state(out, runs, 4L));

        // --only by name and by constraint
        SweepRun chosen = runs.get(1);
        assertEquals(List.of(chosen), RunSelection.select(runs, List.of(chosen.name())));
        List<SweepRun> bigS2 = RunSelection.select(runs, List.of("s2 == 1000 and s1 >= 500"));
        assertFalse(bigS2.isEmpty());
        for (SweepRun r : bigS2) assertEquals(1000L, ((Number) r.vars().get("s2")).longValue());
        for (String bad : List.of("nope", "s9 > 1", "s1 +", "s1 > 5000")) {
            disco.util.DiscoException e = assertThrows(disco.util.DiscoException.class, () -> RunSelection.select(runs, List.of(bad)));
            assertEquals(2, e.exitCode(), bad);
        }
        AtomicInteger n = new AtomicInteger();
        List<PrefixTree.Trajectory> only = full.trajectories().stream().filter(t -> t.run() == chosen).toList();
        counting(out, n).execute(only, SweepState.open(out.resolve("sweep.json")));
        assertEquals(8 - 4, n.get());
        assertArrayEquals(pixels(finalImage(straight, chosen, 0)), pixels(finalImage(out, chosen, 0)));
        for (SweepRun r : runs) {
            if (r == chosen) continue;
            assertFalse(Files.exists(finalImage(out, r, 0)), r.name());
            assertTrue(Files.exists(out.resolve(r.name()).resolve(r.name() + "(0)_checkpoint.zip")), r.name());
        }

        // finish another preview with a changed guidance scale, as `disco resume --set` does: a variant
        SweepRun v = runs.get(runs.size() - 1);
        Path ck = out.resolve(v.name()).resolve(v.name() + "(0)_checkpoint.zip");
        Checkpoint c = Checkpoint.read(ck);
        ResolvedSettings r0 = ResolvedSettings.fromJson(c.settingsJson(), ck.toString());
        ResolvedSettings changed = ResumeChanges.apply(r0, List.of("clip_guidance_scale=9000"), "command line", new ArrayList<>());
        Checkpoint vc = ResumeVariant.create(c, changed, List.of("clip_guidance_scale=9000"));
        assertEquals(1, vc.batchNum());
        RunLoop.Result vr = new RunLoop(quiet()).handleSigint(false)
                .resume(vc, new RunLoop.Spec(changed.settings(), changed.json(), null, null), new FakeEngine(changed.settings()));
        Path variantImage = out.resolve(v.name()).resolve(v.name() + "(1)_0.png");
        assertEquals(List.of(variantImage), vr.images());
        assertTrue(Files.exists(ck), "the original's checkpoint stays");
        assertFalse(Files.exists(finalImage(out, v, 0)));
        assertEquals(8, StepLog.read(out.resolve(v.name()).resolve(v.name() + "(1)_log.jsonl")).size());
        byte[] variantBytes = Files.readAllBytes(variantImage);
        assertEquals(List.of(new ResumeVariant.Info(1, v.name() + "(0)", 4, List.of("clip_guidance_scale=9000"))),
                ResumeVariant.list(out.resolve(v.name()), v.name()));

        // the full sweep finishes the rest (the chosen cell is done: not recomputed), the variant survives
        AtomicInteger rest = new AtomicInteger();
        SweepExecutor.Result res = counting(out, rest).execute(full.trajectories(), SweepState.open(out.resolve("sweep.json")));
        assertEquals(1, res.trajectoriesSkipped());
        for (SweepRun r : runs) assertArrayEquals(pixels(finalImage(straight, r, 0)), pixels(finalImage(out, r, 0)), r.name());
        assertArrayEquals(variantBytes, Files.readAllBytes(variantImage));
        assertFalse(java.util.Arrays.equals(pixels(variantImage), pixels(finalImage(out, v, 0))));
        // the index shows the variant in its cell
        SweepReport.write(out, def("ddim", 1), runs, full);
        String html = Files.readString(out.resolve("index.html"));
        assertTrue(html.contains(v.name().replace("=", "%3D") + "%281%29_0.png"), html);
        assertTrue(html.contains("clip_guidance_scale=9000"), html);

        // --force recomputes (and rewrites) a finished run
        AtomicInteger forced = new AtomicInteger();
        counting(out, forced).force(true).execute(PrefixTree.of(List.of(chosen)).trajectories(), SweepState.open(out.resolve("sweep.json")));
        assertEquals(8, forced.get());
        assertArrayEquals(pixels(finalImage(straight, chosen, 0)), pixels(finalImage(out, chosen, 0)));
    }

    @Test
    void aCheckpointBesideFinalImagesIsRemovedAsStale() throws Exception {
        List<SweepRun> runs = def("ddim", 1).runs(2L);
        SweepRun r = runs.get(0);
        Path out = tmp.resolve("stale");
        SweepExecutor preview = counting(out, new AtomicInteger()).stopAt(StopAt.parse("50%"));
        preview.execute(PrefixTree.of(List.of(r), preview::stepsFor).trajectories(), state(out, runs, 2L));
        Path ck = out.resolve(r.name()).resolve(r.name() + "(0)_checkpoint.zip");
        Path copy = tmp.resolve("copy.zip");
        Files.copy(ck, copy);
        counting(out, new AtomicInteger()).execute(PrefixTree.of(List.of(r)).trajectories(), SweepState.open(out.resolve("sweep.json")));
        assertFalse(Files.exists(ck));
        Files.copy(copy, ck);
        AtomicInteger n = new AtomicInteger();
        counting(out, n).execute(PrefixTree.of(List.of(r)).trajectories(), SweepState.open(out.resolve("sweep.json")));
        assertEquals(0, n.get());
        assertFalse(Files.exists(ck), "a checkpoint of a finished run is removed");
        // resuming a stale checkpoint is refused unless forced
        Checkpoint c = Checkpoint.read(copy);
        Checkpoint there = new Checkpoint(c.settingsJson(), out.resolve(r.name()), c.batchName(), c.batchNum(), c.batch(),
                c.nextStep(), c.stepsRun(), c.seed(), c.reason(), c.tensors(), c.ints());
        disco.util.DiscoException e = assertThrows(disco.util.DiscoException.class,
                () -> ResumeVariant.checkNotFinished(copy, there, 1, false));
        assertEquals(2, e.exitCode());
        assertTrue(e.getMessage().contains("stale checkpoint"), e.getMessage());
        ResumeVariant.checkNotFinished(copy, there, 1, true);
    }
}
