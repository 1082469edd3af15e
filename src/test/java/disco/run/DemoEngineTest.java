package disco.run;

import com.fasterxml.jackson.databind.JsonNode;
import disco.cli.DemoCommand;
import disco.guidance.NativeCutoutStage;
import disco.guidance.NativeLossKernels;
import disco.settings.Settings;
import disco.torch.Torch;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** The run loop on the real engine with the demo networks, over the paths the demo itself does not take. */
class DemoEngineTest {
    @TempDir
    Path tmp;

    @BeforeAll
    static void init() {
        Torch.init();
    }

    @Test
    void plmsBatchOfTwoSymmetryPerlinAndTheReversedScheduleWithAGap() throws Exception {
        // 4 steps skipping 1 (ddim4 of 1000: t = 500, 250, 0): schedule indices 1000 - (t + 1) = 499, 749, 999.
        // ViT-tiny first (0-60%), nothing at 749, RN-tiny last (80-100%): the blog's reversed order, an uncovered step.
        Settings s = DemoCommand.settings(List.of("a lighthouse:1", "blurry:-0.3"), 11L, 4, List.of(
                "skip_steps=1", "diffusion_sampling_mode=plms", "batch_size=2", "perlin_init=true", "perlin_mode=mixed",
                "use_horizontal_symmetry=true", "use_vertical_symmetry=true", "transformation_percent=[0.5]",
                "clip_models_schedules={\"ViT-tiny\": \"[True]*600+[False]*400\", \"RN-tiny\": \"[False]*800+[True]*200\"}",
                "use_secondary_model=[True]*500+[False]*500", "intermediate_saves=[1]"));
        ResolvedSettings r = ResolvedSettings.of(s);
        Pipeline.Networks nets = ModelLoader.demo(s);
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        RunLoop.Result res;
        try (Pipeline engine = Pipeline.forSettings(s, nets, PerfOptions.defaults(), new Device(torch.DeviceType.CPU), m -> {})) {
            res = new RunLoop(new PrintStream(err)).run(new RunLoop.Spec(r.settings(), r.json(), tmp, null), engine);
        }
        assertTrue(res.complete(), err.toString());
        assertEquals(List.of(tmp.resolve("demo/demo(0)_0_0.png"), tmp.resolve("demo/demo(0)_0_1.png")), res.images());
        assertEquals(List.of(tmp.resolve("demo/partials/demo(0)_0000-001_0.png"),
                tmp.resolve("demo/partials/demo(0)_0000-001_1.png")), res.outputs().partials());
        List<JsonNode> log = StepLog.read(res.outputs().logFile());
        assertEquals(3, log.size());
        List<List<String>> active = new ArrayList<>();
        for (JsonNode n : log) {
            List<String> a = new ArrayList<>();
            n.get("active").forEach(x -> a.add(x.asText()));
            active.add(a);
        }
        assertEquals(List.of(List.of("ViT-tiny"), List.of(), List.of("RN-tiny")), active);
        assertEquals(1, log.get(0).get("loss").get("ViT-tiny").size()); // cutn_batches 1 in the demo
        assertEquals(0, log.get(1).get("loss").size());
        // even an uncovered step gets DD's tv/sat gradient, clamped
        assertTrue(log.get(1).get("grad_rms_after_clamp").asDouble() <= 0.05 + 1e-6);
        // the two images of the batch differ (each has its own x_T)
        byte[] a = ImageLoading.readRgb(res.images().get(0)).rgb(), b = ImageLoading.readRgb(res.images().get(1)).rgb();
        assertFalse(java.util.Arrays.equals(a, b));
    }
}
