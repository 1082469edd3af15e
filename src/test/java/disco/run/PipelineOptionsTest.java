package disco.run;

import disco.cli.DemoCommand;
import disco.util.Compare;
import disco.sampling.Sampler;
import disco.sampling.SamplerState;
import disco.sampling.StepOutput;
import disco.settings.Settings;
import disco.torch.Precision;
import disco.torch.Tensors;
import disco.torch.Torch;
import disco.util.DiscoException;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The performance options of the pipeline change speed and memory, not the image: the same demo run with one cutn
 * batch per CLIP call and with all of them, with and without UNet checkpointing; bf16 stays near fp32; fp16 on the
 * CPU is refused.
 */
class PipelineOptionsTest {
    static final Device CPU = new Device("cpu");
    static int threads;
    static Settings settings;
    static Pipeline.Networks nets;

    @BeforeAll
    static void load() {
        Torch.init();
        threads = torch.get_num_threads();
        torch.set_num_threads(1); // bitwise comparisons: results depend on the intra-op thread count in the last bit
        // 3 cutn batches, the UNet guided at every step (no secondary model): every option has work to change
        settings = DemoCommand.settings(List.of("a lighthouse:1", "blurry:-0.3"), 7L, 5, List.of("skip_steps=1",
                "cutn_batches=3", "use_secondary_model=False", "clip_models_schedules={\"RN-tiny\": \"[True]*1000\","
                        + " \"ViT-tiny\": \"[True]*1000\"}"));
        nets = ModelLoader.demo(settings);
    }

    @AfterAll
    static void restore() {
        torch.set_num_threads(threads);
    }

    static float[] run(PerfOptions perf) {
        return run(settings, nets, perf);
    }

    static float[] run(Settings settings, Pipeline.Networks nets, PerfOptions perf) {
        try (Pipeline p = Pipeline.forSettings(settings, nets, perf, CPU, m -> {}); PointerScope scope = new PointerScope()) {
            Sampler s = p.sampler(0, settings.seed());
            SamplerState st = s.start(new long[] {1, 3, settings.height(), settings.width()}, null);
            while (!s.done(st)) {
                StepOutput o = s.step(st);
                st.close();
                st = o.state();
                o.close();
            }
            float[] x = Tensors.toFloats(st.x());
            st.close();
            return x;
        }
    }

    @Test
    void clipBatchOneAndAllGiveTheSameRun() {
        float[] all = run(PerfOptions.defaults());
        float[] one = run(PerfOptions.defaults().withClipBatch(1));
        float[] two = run(PerfOptions.defaults().withClipBatch(2));
        double e1 = Compare.maxRelErr(one, all), e2 = Compare.maxRelErr(two, all);
        System.err.printf("PipelineOptionsTest: clip-batch 1 vs all %.3g, 2 vs all %.3g%n", e1, e2);
        assertTrue(e1 < 1e-5, "clip-batch 1 vs all: " + e1);
        assertTrue(e2 < 1e-5, "clip-batch 2 vs all: " + e2);
    }

    @Test
    void clipWorkersGiveTheSameRunBitwise() {
        // one intra-op thread on the caller and on each worker: the calls compute the same numbers on either, so
        // running them side by side may change neither a value nor the order of the sums
        try (Pipeline p = Pipeline.forSettings(settings, nets, PerfOptions.defaults().withClipWorkers(2), CPU, m -> {})) {
            assertEquals(2, p.clipWorkers());
            assertEquals(2, p.describe().get("clip_workers"));
        }
        float[] one = run(PerfOptions.defaults().withClipWorkers(1).withClipBatch(1));
        float[] two = run(PerfOptions.defaults().withClipWorkers(2).withClipBatch(1));
        float[] twoAll = run(PerfOptions.defaults().withClipWorkers(2));
        assertEquals(1, torch.get_num_threads(), "the workers changed the caller's intra-op threads");
        assertArrayEquals(one, two, "2 CLIP workers vs 1");
        assertArrayEquals(run(PerfOptions.defaults()), twoAll, "2 CLIP workers (one call per model) vs 1");
    }

    @Test
    void theSamplersForwardBesideTheSecondaryModelsGuidanceGivesTheSameRunBitwise() {
        // DD's default path: the guidance uses the secondary model, so the sampler's UNet forward runs on a worker
        // while the guidance runs
        Settings sec = DemoCommand.settings(List.of("a lighthouse:1"), 11L, 4, List.of("skip_steps=1", "cutn_batches=2",
                "use_secondary_model=True", "clip_models_schedules={\"RN-tiny\": \"[True]*1000\","
                        + " \"ViT-tiny\": \"[True]*1000\"}"));
        Pipeline.Networks n = ModelLoader.demo(sec);
        float[] one = run(sec, n, PerfOptions.defaults().withClipWorkers(1));
        float[] two = run(sec, n, PerfOptions.defaults().withClipWorkers(2));
        assertArrayEquals(one, two, "secondary path, 2 workers vs 1");
        assertEquals(1, torch.get_num_threads(), "the workers changed the caller's intra-op threads");
    }

    @Test
    void theMemoryEstimateCountsTheClipCallsThatRunSideBySide() {
        try (Pipeline p1 = Pipeline.forSettings(settings, nets, PerfOptions.defaults().withClipWorkers(1), CPU, m -> {});
             Pipeline p2 = Pipeline.forSettings(settings, nets, PerfOptions.defaults().withClipWorkers(2), CPU, m -> {})) {
            MemoryEstimate.Step one = MemoryEstimate.estimate(MemoryEstimate.inputs(p1), 1).peak();
            MemoryEstimate.Step two = MemoryEstimate.estimate(MemoryEstimate.inputs(p2), 1).peak();
            // 3 cutn batches of both models at every step: the two largest calls are two of the larger model's
            assertEquals(2 * one.clip(), two.clip());
            assertEquals(one.clipModel() + " + " + one.clipModel(), two.clipModel());
            assertEquals(one.total() - one.baseline() + one.clip(), two.total() - two.baseline()); // baseline: RSS now
        }
    }

    @Test
    void clipWorkersParseAndAreRefusedOnCuda() {
        assertEquals(PerfOptions.CLIP_WORKERS_AUTO, PerfOptions.parseClipWorkers("auto", "--clip-workers"));
        assertEquals(3, PerfOptions.parseClipWorkers("3", "--clip-workers"));
        DiscoException ex = assertThrows(DiscoException.class, () -> PerfOptions.parseClipWorkers("0", "--clip-workers"));
        assertTrue(ex.getMessage().startsWith("--clip-workers: expected"), ex.getMessage());
        assertEquals(1, PerfOptions.defaults().clipWorkersResolved());
        assertEquals(2, PerfOptions.defaults().withClipWorkers(2).clipWorkersResolved());
        DiscoException cuda = assertThrows(DiscoException.class,
                () -> PerfOptions.defaults().withClipWorkers(2).check(new Device("cuda")));
        assertTrue(cuda.getMessage().startsWith("--clip-workers 2:"), cuda.getMessage());
    }

    @Test
    void unetCheckpointingGivesTheSameImage() {
        float[] plain = run(PerfOptions.defaults());
        float[] ckpt = run(PerfOptions.defaults().withUnetCheckpointing(true));
        double e = Compare.maxRelErr(ckpt, plain);
        System.err.printf("PipelineOptionsTest: unet-checkpointing vs plain %.3g%n", e);
        assertTrue(e < 1e-6, "checkpointed vs plain: " + e);
    }

    @Test
    void bf16StaysNearFp32AndChangesTheRounding() {
        float[] fp32 = run(PerfOptions.defaults());
        float[] bf16 = run(PerfOptions.defaults().withPrecision(Precision.BF16));
        double e = Compare.maxRelErr(bf16, fp32);
        System.err.printf("PipelineOptionsTest: bf16 vs fp32 samples %.3g%n", e);
        assertTrue(e > 0, "bf16 computed nothing in bfloat16");
        assertTrue(e < 5e-2, "bf16 vs fp32: " + e);
    }

    @Test
    void fp16OnTheCpuIsRefusedNamingTheOption() {
        DiscoException ex = assertThrows(DiscoException.class, () -> Pipeline.forSettings(settings, nets,
                PerfOptions.defaults().withPrecision(Precision.FP16), CPU, m -> {}));
        assertTrue(ex.getMessage().startsWith("--precision fp16:"), ex.getMessage());
        assertEquals(1, ex.getMessage().lines().count());
    }

    @Test
    void describeNamesEveryOptionInForce() {
        try (Pipeline p = Pipeline.forSettings(settings, nets, PerfOptions.defaults().withClipBatch(2), CPU, m -> {})) {
            var d = p.describe();
            for (String k : List.of("precision", "clip_batch", "clip_workers", "offload_inactive", "unet_checkpointing", "threads",
                    "sdpa", "channels_last", "cudnn_benchmark", "tf32", "device", "stages")) {
                assertTrue(d.containsKey(k), "describe() lacks " + k + ": " + d);
            }
            assertEquals("2", d.get("clip_batch"));
        }
    }

    @Test
    void autoClipBatchFitsTheMemoryItIsGiven() {
        try (Pipeline p = Pipeline.forSettings(settings, nets, PerfOptions.defaults(), CPU, m -> {})) {
            MemoryEstimate.Inputs in = MemoryEstimate.inputs(p);
            long one = MemoryEstimate.estimate(in, 1).peak().total();
            long all = MemoryEstimate.estimate(in, PerfOptions.CLIP_BATCH_ALL).peak().total();
            assertTrue(all > one, "more cutn batches per call must cost more memory: " + one + " vs " + all);
            assertEquals(PerfOptions.CLIP_BATCH_ALL, MemoryEstimate.autoClipBatch(in, Long.MAX_VALUE / 4, m -> {}));
            StringBuilder warned = new StringBuilder();
            assertEquals(1, MemoryEstimate.autoClipBatch(in, one, warned::append));
            assertTrue(warned.toString().startsWith("--clip-batch auto:"), warned.toString());
            long two = MemoryEstimate.estimate(in, 2).peak().total();
            assertEquals(2, MemoryEstimate.autoClipBatch(in, (long) Math.ceil(two / 0.9), m -> {}));
        }
    }

    @Test
    void clipBatchParsesCountsAllAndAuto() {
        assertEquals(PerfOptions.CLIP_BATCH_ALL, PerfOptions.parseClipBatch("all", "--clip-batch"));
        assertEquals(PerfOptions.CLIP_BATCH_AUTO, PerfOptions.parseClipBatch("auto", "--clip-batch"));
        assertEquals(3, PerfOptions.parseClipBatch("3", "--clip-batch"));
        DiscoException ex = assertThrows(DiscoException.class, () -> PerfOptions.parseClipBatch("0", "--clip-batch"));
        assertTrue(ex.getMessage().startsWith("--clip-batch: expected"), ex.getMessage());
    }

    @Test
    void bitwiseWhereTheKernelsAllowIt() {
        // clip-batch changes the CLIP batch shapes (different GEMM blockings), so it is not bitwise; the same options
        // twice are
        assertArrayEquals(run(PerfOptions.defaults()), run(PerfOptions.defaults()));
    }
}
