package disco.run;

import com.fasterxml.jackson.databind.JsonNode;
import disco.util.ExitCodes;
import disco.sampling.GuidanceResult;
import disco.sampling.Sampler;
import disco.settings.Settings;
import disco.torch.Torch;
import disco.util.DiscoException;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import sun.misc.Signal;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/** The run loop on an analytic engine (no networks): outputs, determinism, SIGINT + resume, stop-at, divergence. */
class RunLoopTest {
    @TempDir
    Path tmp;

    @BeforeAll
    static void torch() {
        Torch.init();
    }

    static Settings settings(String extra) {
        String json = "{\"text_prompts\": [\"a lighthouse:2\", \"blurry:-1\"], \"clip_models\": [\"RN-tiny\", \"ViT-tiny\"],"
                + " \"clip_models_schedules\": {\"ViT-tiny\": \"[False]*500+[True]*500\"},"
                + " \"steps\": 10, \"skip_steps\": 2, \"width_height\": [64, 64], \"seed\": 5, \"n_batches\": 1,"
                + " \"batch_size\": 1, \"save_rate\": 0, \"intermediate_saves\": 2, \"batch_name\": \"t\""
                + (extra.isEmpty() ? "" : ", " + extra) + "}";
        return ResolvedSettings.fromJson(json, "test").settings();
    }

    /**
     * A stand-in for the networks: eps = tanh(0.7 x) (a smooth function of x), guidance gradient 0.01·sin(3x) with one
     * loss per active model. {@code nanAtStep} makes the sample non-finite from that step on; {@code onStep} runs in
     * the guidance (e.g. to raise SIGINT mid-step).
     */
    static final class FakeEngine implements Engine {
        final Settings s;
        int nanAtStep = -1;
        java.util.function.IntConsumer onStep = j -> {};

        FakeEngine(Settings s) {
            this.s = s;
        }

        @Override
        public Sampler sampler(int batch, long batchSeed) {
            disco.plan.StepPlan plan = disco.plan.StepPlan.of(s);
            return AnalyticSampler.of(s, batchSeed, call -> {
                onStep.accept(call.step());
                Tensor grad = call.x().mul(new Scalar(3f)).sin().mul(new Scalar(0.01f));
                if (nanAtStep >= 0 && call.step() >= nanAtStep) grad = grad.div(new Scalar(0f)); // inf/nan
                double rms = Math.sqrt(grad.square().mean().item_double());
                List<GuidanceResult.LossValue> losses = new java.util.ArrayList<>();
                for (String m : plan.step(call.step()).active()) {
                    losses.add(new GuidanceResult.LossValue(call.step(), call.call(), m, 0, call.x().mean().item_double()));
                }
                return new GuidanceResult(grad, losses, false, rms, Math.min(rms, 0.05));
            });
        }
    }

    RunLoop.Result run(Settings s, Path out, StopAt stopAt, FakeEngine e) {
        ResolvedSettings r = ResolvedSettings.of(s);
        return new RunLoop(quiet()).run(new RunLoop.Spec(r.settings(), r.json(), out, stopAt), e);
    }

    static PrintStream quiet() {
        return new PrintStream(new ByteArrayOutputStream());
    }

    static byte[] pixels(Path png) {
        return ImageLoading.readRgb(png).rgb();
    }

    @Test
    void writesDdsFilesAndTheyReproduce() throws Exception {
        Settings s = settings("");
        RunLoop.Result a = run(s, tmp.resolve("a"), null, new FakeEngine(s));
        assertTrue(a.complete());
        Path dir = tmp.resolve("a/t");
        assertEquals(List.of(dir.resolve("t(0)_0.png")), a.images());
        assertTrue(Files.exists(dir.resolve("t(0)_settings.json")));
        assertTrue(Files.exists(dir.resolve("progress.png")));
        // intermediate_saves 2 over 8 executed steps: steps_per_checkpoint = 7 // 3 = 2 -> j = 2, 4, 6
        List<String> partials = a.outputs().partials().stream().map(p -> p.getFileName().toString()).toList();
        assertEquals(List.of("t(0)_0000-29%.png", "t(0)_0000-58%.png", "t(0)_0000-86%.png"), partials);
        // log: one line per executed step, ViT-tiny only on the second half of the schedule
        List<JsonNode> log = StepLog.read(dir.resolve("t(0)_log.jsonl"));
        assertEquals(8, log.size());
        assertEquals(7, log.get(0).get("index").asInt());
        assertEquals(List.of("RN-tiny"), names(log.get(0).get("active")));
        assertEquals(List.of("RN-tiny", "ViT-tiny"), names(log.get(7).get("active")));
        assertTrue(log.get(7).get("loss").has("ViT-tiny"));
        assertTrue(log.get(3).get("grad_rms_before_clamp").asDouble() > 0);
        // settings in the PNG reproduce the run
        String meta = Png.readText(a.images().get(0)).get(Png.SETTINGS_KEY);
        ResolvedSettings back = ResolvedSettings.fromJson(meta, "png");
        assertEquals(s.seed(), back.settings().seed());
        RunLoop.Result b = run(back.settings(), tmp.resolve("b"), null, new FakeEngine(back.settings()));
        assertArrayEquals(pixels(a.images().get(0)), pixels(b.images().get(0)));
        assertArrayEquals(Files.readAllBytes(a.images().get(0)), Files.readAllBytes(b.images().get(0)));
        // a second run in the same directory takes the next batch number
        RunLoop.Result c = run(s, tmp.resolve("a"), null, new FakeEngine(s));
        assertEquals(1, c.outputs().batchNum());
        // a different seed gives a different image
        Settings s2 = settings("\"seed\": 6");
        RunLoop.Result d = run(s2, tmp.resolve("d"), null, new FakeEngine(s2));
        assertFalse(java.util.Arrays.equals(pixels(a.images().get(0)), pixels(d.images().get(0))));
    }

    private static List<String> names(JsonNode arr) {
        List<String> out = new java.util.ArrayList<>();
        arr.forEach(n -> out.add(n.asText()));
        return out;
    }

    @Test
    void sigintWritesACheckpointAndResumeGivesTheSameImage() throws Exception {
        for (String mode : new String[] {"ddim", "plms"}) {
            int batches = mode.equals("ddim") ? 2 : 1;
            Settings s = settings("\"diffusion_sampling_mode\": \"" + mode + "\", \"n_batches\": " + batches);
            RunLoop.Result full = run(s, tmp.resolve(mode + "-full"), null, new FakeEngine(s));
            assertEquals(batches, full.images().size());

            FakeEngine e = new FakeEngine(s);
            e.onStep = j -> {
                if (j == 3) {
                    Signal.raise(new Signal("INT")); // delivered on the JVM's signal thread, asynchronously
                    try {
                        Thread.sleep(200);
                    } catch (InterruptedException ie) {
                        Thread.currentThread().interrupt();
                    }
                }
            };
            ResolvedSettings r = ResolvedSettings.of(s);
            DiscoException ex = assertThrows(DiscoException.class,
                    () -> new RunLoop(quiet()).run(new RunLoop.Spec(r.settings(), r.json(), tmp.resolve(mode + "-int"), null), e));
            assertEquals(ExitCodes.INTERRUPTED, ex.exitCode());
            Path ck = tmp.resolve(mode + "-int/t/t(0)_checkpoint.zip");
            assertTrue(ex.getMessage().contains(ck.toString()), ex.getMessage());
            assertFalse(Files.exists(tmp.resolve(mode + "-int/t/t(0)_0.png")));
            Checkpoint c = Checkpoint.read(ck);
            assertEquals(0, c.batch());
            // the step in flight (3) finished first; a late signal delivery may let one more step run
            assertTrue(c.nextStep() == 4 || c.nextStep() == 5, "next step " + c.nextStep());
            assertEquals("interrupt", c.reason());
            if (mode.equals("plms")) assertEquals(1L, c.ints().get("old_eps"));

            ResolvedSettings rs = ResolvedSettings.fromJson(c.settingsJson(), ck.toString());
            RunLoop.Result resumed = new RunLoop(quiet()).resume(c, new RunLoop.Spec(rs.settings(), rs.json(), null, null),
                    new FakeEngine(rs.settings()));
            assertTrue(resumed.complete());
            assertEquals(batches, resumed.images().size());
            for (int k = 0; k < batches; k++) {
                assertArrayEquals(pixels(full.images().get(k)), pixels(resumed.images().get(k)), mode + " batch " + k);
            }
            // the log has every step once, in order
            List<JsonNode> log = StepLog.read(resumed.outputs().logFile());
            assertEquals(8 * batches, log.size());
            for (int n = 0; n < 8 * batches; n++) assertEquals(n % 8, log.get(n).get("step").asInt());
        }
    }

    @Test
    void interruptDuringABatchsLastStepStopsBeforeTheNextBatch() throws Exception {
        Settings s = settings("\"n_batches\": 2, \"intermediate_saves\": 0");
        RunLoop.Result full = run(s, tmp.resolve("full"), null, new FakeEngine(s));
        FakeEngine e = new FakeEngine(s);
        RunLoop loop = new RunLoop(quiet()).handleSigint(false);
        e.onStep = j -> {
            if (j == 7) loop.interrupt(); // batch 0's last step (and batch 1's, which must not be reached)
        };
        ResolvedSettings r = ResolvedSettings.of(s);
        DiscoException ex = assertThrows(DiscoException.class,
                () -> loop.run(new RunLoop.Spec(r.settings(), r.json(), tmp.resolve("int"), null), e));
        assertEquals(ExitCodes.INTERRUPTED, ex.exitCode());
        assertTrue(ex.getMessage().contains("before batch 1"), ex.getMessage());
        assertArrayEquals(pixels(full.images().get(0)), pixels(tmp.resolve("int/t/t(0)_0.png")));
        Checkpoint c = Checkpoint.read(tmp.resolve("int/t/t(0)_checkpoint-1.zip")); // batch 1 names its own
        assertEquals(1, c.batch());
        assertEquals(0, c.nextStep());
        ResolvedSettings rs = ResolvedSettings.fromJson(c.settingsJson(), "ck");
        RunLoop.Result rest = new RunLoop(quiet()).resume(c, new RunLoop.Spec(rs.settings(), rs.json(), null, null),
                new FakeEngine(rs.settings()));
        assertEquals(List.of(tmp.resolve("int/t/t(0)_1.png")), rest.images());
        assertArrayEquals(pixels(full.images().get(1)), pixels(rest.images().get(0)));
    }

    @Test
    void stopAtWritesPartialAndCheckpointThenResumeFinishes() throws Exception {
        Settings s = settings("\"intermediate_saves\": 0");
        RunLoop.Result full = run(s, tmp.resolve("full"), null, new FakeEngine(s));
        RunLoop.Result part = run(s, tmp.resolve("p"), StopAt.parse("50%"), new FakeEngine(s));
        assertFalse(part.complete());
        assertTrue(Files.exists(tmp.resolve("p/t/partials/t(0)_0000-003.png")));
        Checkpoint c = Checkpoint.read(part.checkpoint());
        assertEquals(4, c.nextStep());
        ResolvedSettings rs = ResolvedSettings.fromJson(c.settingsJson(), "ck");
        RunLoop.Result rest = new RunLoop(quiet()).resume(c, new RunLoop.Spec(rs.settings(), rs.json(), null, null),
                new FakeEngine(rs.settings()));
        assertArrayEquals(pixels(full.images().get(0)), pixels(rest.images().get(0)));
        assertEquals(3, StopAt.parse("3").stepsFor(8));
        assertEquals(2, StopAt.parse("20%").stepsFor(8)); // ceil(1.6)
        assertThrows(DiscoException.class, () -> StopAt.parse("0"));
        assertThrows(DiscoException.class, () -> StopAt.parse("150%"));
    }

    @Test
    void nonFiniteSampleStopsKeepingTheLastGoodImage() {
        Settings s = settings("\"intermediate_saves\": 0");
        FakeEngine e = new FakeEngine(s);
        e.nanAtStep = 5;
        DiscoException ex = assertThrows(DiscoException.class, () -> run(s, tmp.resolve("n"), null, e));
        assertEquals(ExitCodes.RUN_DIVERGED, ex.exitCode());
        assertTrue(ex.getMessage().contains("step 5"), ex.getMessage());
        Path kept = tmp.resolve("n/t/partials/t(0)_0000-004.png");
        assertTrue(ex.getMessage().contains(kept.toString()), ex.getMessage());
        assertTrue(Files.exists(kept));
        assertFalse(Files.exists(tmp.resolve("n/t/t(0)_0.png")));
    }

    @Test
    void batchesUseSeedPlusKAndBatchSizeNamesEachImage() {
        Settings s = settings("\"n_batches\": 2, \"batch_size\": 2");
        RunLoop.Result r = run(s, tmp.resolve("bs"), null, new FakeEngine(s));
        assertEquals(List.of(tmp.resolve("bs/t/t(0)_0_0.png"), tmp.resolve("bs/t/t(0)_0_1.png"),
                tmp.resolve("bs/t/t(0)_1_0.png"), tmp.resolve("bs/t/t(0)_1_1.png")), r.images());
        // batch 1 of seed 5 is batch 0 of seed 6
        Settings s6 = settings("\"seed\": 6, \"batch_size\": 2");
        RunLoop.Result r6 = run(s6, tmp.resolve("s6"), null, new FakeEngine(s6));
        assertArrayEquals(pixels(r.images().get(2)), pixels(r6.images().get(0)));
        assertArrayEquals(pixels(r.images().get(3)), pixels(r6.images().get(1)));
        assertFalse(java.util.Arrays.equals(pixels(r.images().get(0)), pixels(r.images().get(1))));
    }

    @Test
    void initImageAndPerlinStartTheRun() throws Exception {
        Path init = tmp.resolve("init.png");
        Png.write(init, PilResizeTest.make(80, 40), Map.of());
        Settings s = settings("\"init_image\": \"" + init.toString().replace("\\", "\\\\") + "\", \"skip_steps\": 5");
        RunLoop.Result a = run(s, tmp.resolve("i"), null, new FakeEngine(s));
        Settings plain = settings("\"skip_steps\": 5");
        RunLoop.Result b = run(plain, tmp.resolve("j"), null, new FakeEngine(plain));
        assertFalse(java.util.Arrays.equals(pixels(a.images().get(0)), pixels(b.images().get(0))));
        Settings p = settings("\"perlin_init\": true, \"perlin_mode\": \"gray\"");
        RunLoop.Result c = run(p, tmp.resolve("k"), null, new FakeEngine(p));
        assertTrue(c.complete());

        Settings bad = settings("\"init_image\": \"" + tmp.resolve("missing.png").toString().replace("\\", "\\\\") + "\"");
        DiscoException ex = assertThrows(DiscoException.class, () -> run(bad, tmp.resolve("bad"), null, new FakeEngine(bad)));
        assertEquals(2, ex.exitCode());
        assertTrue(ex.getMessage().contains("missing.png"));
        assertFalse(Files.exists(tmp.resolve("bad")), "nothing written for bad input");
    }
}
