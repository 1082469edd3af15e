package disco.guidance;

import disco.models.clip.ClipModel;
import disco.models.secondary.SecondaryModel;
import disco.models.unet.UNetConfig;
import disco.models.unet.UNetModel;
import disco.plan.DiffusionSchedule;
import disco.plan.StepPlan;
import disco.sampling.EpsDenoiser;
import disco.sampling.GuidanceResult;
import disco.sampling.NoiseSource;
import disco.sampling.Sampler;
import disco.sampling.SamplerConfig;
import disco.sampling.SamplerState;
import disco.sampling.SpacedAlphas;
import disco.sampling.StepOutput;
import disco.torch.Tensors;
import disco.sampling.XStartDenoiser;
import disco.settings.Scheduled;
import disco.torch.Torch;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Whole guided runs on tiny networks (a 2-level UNet, the demo secondary model, RN-tiny and ViT-tiny), batch of 2
 * at 32x32,
 * with the reversed schedule (ViT-tiny first, RN-tiny last; PLMS with one image), steps that no CLIP model covers, the secondary model
 * switched on by schedule for the early steps, inner cuts and augmentations on.
 */
class GuidedRunTest {
    static final long[] SHAPE = {2, 3, 32, 32};
    static DiffusionSchedule schedule;
    static SpacedAlphas alphas;
    static EpsDenoiser unet;
    static XStartDenoiser secondary;
    static List<ClipGuidance.Model> models;

    @BeforeAll
    static void load() {
        Torch.init();
        schedule = DiffusionSchedule.create(1000, 4, "ddim4");
        alphas = SpacedAlphas.of(schedule);
        // a smaller UNet than the demo (the loop is under test, not the network): 32 channels, 2 levels, 32x32
        UNetModel u = new UNetModel(new UNetConfig(32, 32, 1, new double[] {1, 1}, new int[] {2}, 2, 16, -1, true, true,
                true, false, false, 0.0)).randomInit(5);
        unet = new EpsDenoiser(u::forward, alphas);
        SecondaryModel sm = SecondaryModel.demo();
        secondary = new XStartDenoiser((x, t) -> sm.forward(x, t).pred(), alphas);
        models = new ArrayList<>();
        for (String name : List.of("ViT-tiny", "RN-tiny")) {
            ClipModel clip = ClipModel.demo(name);
            Tensor target = NoiseSource.random(name.length(), 0).initialNoise(new long[] {2, clip.embedDim()});
            target.retainReference();
            Tensor w = Tensors.fromFloats(new float[] {0.75f, 0.25f}, 2);
            w.retainReference();
            models.add(new ClipGuidance.Model(name, ImageEncoder.of(clip.inputResolution(), clip::encodeImage), target, w));
        }
    }

    /** 4 steps at schedule indices 249, 499, 749, 999. */
    static StepPlan plan(int skip) {
        Map<Scheduled, String> sc = new EnumMap<>(Scheduled.class);
        sc.put(Scheduled.CUT_OVERVIEW, "[2]*1000");
        sc.put(Scheduled.CUT_INNERCUT, "[1]*1000");
        sc.put(Scheduled.CUTN_BATCHES, "1");
        sc.put(Scheduled.USE_SECONDARY_MODEL, "[True]*500+[False]*500");
        sc.put(Scheduled.TV_SCALE, "100");
        sc.put(Scheduled.SAT_SCALE, "50");
        Map<String, String> ms = Map.of("ViT-tiny", "[True]*300+[False]*700", "RN-tiny", "[False]*800+[True]*200");
        return StepPlan.build(schedule, skip, List.of("ViT-tiny", "RN-tiny"), ms, sc);
    }

    static ClipGuidance guidance(StepPlan plan, List<String> log) {
        return new ClipGuidance(plan, unet, secondary, models, new NativeCutoutStage(false, false),
                new NativeLossKernels(), 11, log::add);
    }

    @Test
    void ddimRunFollowsTheScheduleAndResumesExactly() {
        StepPlan plan = plan(0);
        List<String> log = new ArrayList<>();
        ClipGuidance g = guidance(plan, log);
        assertFalse(g.usesPrimaryDenoiser(3), "secondary model at schedule index 249");
        assertFalse(g.usesPrimaryDenoiser(2), "secondary model at schedule index 499");
        assertTrue(g.usesPrimaryDenoiser(1));
        Sampler s = new Sampler(SamplerConfig.ddim(0.8, 0, false), unet, g, NoiseSource.random(3, 0), 0);
        SamplerState st = s.start(SHAPE, null);
        List<List<String>> active = new ArrayList<>();
        Map<String, Tensor> saved = null;
        Map<String, Long> savedInts = null;
        while (!s.done(st)) {
            StepOutput o = s.step(st);
            assertTrue(o.finite(), "step " + o.step());
            assertEquals(1, o.guidance().size());
            GuidanceResult r = o.guidance().get(0);
            assertFalse(r.nanGuarded());
            assertTrue(r.rmsBefore() > 0, "tv/sat still guide uncovered steps");
            assertTrue(r.rmsAfter() <= 0.05 + 1e-6);
            active.add(r.losses().stream().map(GuidanceResult.LossValue::model).toList());
            st = o.state();
            if (st.stepsDone() == 3) { // resume the last step from a copy
                saved = new HashMap<>();
                for (var e : st.tensors().entrySet()) {
                    saved.put(e.getKey(), Tensors.fromFloats(Tensors.toFloats(e.getValue()), Tensors.shape(e.getValue())));
                }
                savedInts = st.ints();
            }
        }
        assertEquals(List.of(List.of("ViT-tiny"), List.of(), List.of(), List.of("RN-tiny")), active);
        assertTrue(log.isEmpty(), String.valueOf(log));
        float[] straight = Tensors.toFloats(st.x());
        float[] first = java.util.Arrays.copyOf(straight, straight.length / 2);
        float[] second = java.util.Arrays.copyOfRange(straight, straight.length / 2, straight.length);
        assertFalse(java.util.Arrays.equals(first, second), "the two images of the batch differ");

        SamplerState resumed = SamplerState.of(saved, savedInts);
        Sampler again = new Sampler(SamplerConfig.ddim(0.8, 0, false), unet, guidance(plan, log),
                NoiseSource.random(3, 0), 0);
        while (!again.done(resumed)) resumed = again.step(resumed).state();
        assertArrayEquals(straight, Tensors.toFloats(resumed.x()), "resumed run differs from the straight one");
    }

    @Test
    void plmsRunOnTheDemoModels() {
        StepPlan plan = plan(2); // indices 1, 0: schedule 749 (uncovered), 999 (RN-tiny)
        List<String> log = new ArrayList<>();
        Sampler s = new Sampler(SamplerConfig.plms(2, false), unet, guidance(plan, log), NoiseSource.random(4, 0), 0);
        SamplerState st = s.start(new long[] {1, 3, 32, 32}, null);
        List<Integer> lossCounts = new ArrayList<>();
        while (!s.done(st)) {
            StepOutput o = s.step(st);
            assertTrue(o.finite(), "step " + o.step());
            for (GuidanceResult r : o.guidance()) lossCounts.add(r.losses().size());
            st = o.state();
        }
        // step 0: its own call (uncovered) and the pseudo improved-Euler call scheduled at the next index (RN-tiny)
        assertEquals(List.of(0, 1, 1), lossCounts);
    }
}
