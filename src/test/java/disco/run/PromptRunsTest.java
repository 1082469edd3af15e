package disco.run;

import disco.cli.DemoCommand;
import disco.guidance.ClipGuidance;
import disco.guidance.ImageEncoder;
import disco.guidance.NativeCutoutStage;
import disco.guidance.NativeLossKernels;
import disco.plan.PlanStep;
import disco.plan.StepPlan;
import disco.sampling.EpsDenoiser;
import disco.sampling.Sampler;
import disco.sampling.SamplerState;
import disco.sampling.StepOutput;
import disco.settings.Scheduled;
import disco.settings.Settings;
import disco.torch.Tensors;
import disco.torch.Torch;
import disco.util.Compare;
import disco.util.RandomStream;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Prompt settings drive the run, not only the plan: DiscoArt's v1 prompts give each step and model its own prompts
 * and float16-normalised weights (checked against a run whose per-step targets are built by hand), and DD's
 * fuzzy_prompt guides towards 25 keyed noisy copies of each embedding.
 */
class PromptRunsTest {
    static final Device CPU = new Device("cpu");
    static int threads;
    static Pipeline.Networks nets;

    @BeforeAll
    static void init() {
        Torch.init();
        threads = torch.get_num_threads();
        torch.set_num_threads(1); // bitwise comparisons
        nets = ModelLoader.demo(demo());
    }

    @AfterAll
    static void restore() {
        torch.set_num_threads(threads);
    }

    /**
     * The demo at 64x64, 3 executed steps (schedule indices 333, 666, 999), both tiny CLIPs always scheduled and
     * guiding through the secondary model (cheap: the test is about the targets), one cutn batch of 3 cuts.
     */
    static Settings demo(String... set) {
        List<String> s = new ArrayList<>(List.of("skip_steps=0", "cutn_batches=1", "use_secondary_model=True",
                "cut_overview=2", "cut_innercut=1",
                "clip_models_schedules={\"RN-tiny\": \"[True]*1000\", \"ViT-tiny\": \"[True]*1000\"}"));
        s.addAll(List.of(set));
        return DemoCommand.settings(null, 11L, 3, s);
    }

    static final String V1 = "text_prompts={version: '1', prompts: ["
            + "{text: 'a lighthouse', weight: 3, clip_guidance: [RN-tiny]},"
            + "{text: 'blurry', weight: '[0]*700+[-4]*300'},"
            + "{text: 'watermark', weight: 2, schedule: '[True]*400+[False]*600', clip_guidance: [ViT-tiny]}]}";

    /** Runs every step, step {@code j} with the sampler {@code samplers.get(j)}; returns the final x. */
    static float[] run(List<Sampler> samplers, Settings s) {
        try (PointerScope scope = new PointerScope()) {
            SamplerState st = samplers.get(0).start(new long[] {1, 3, s.height(), s.width()}, null);
            int j = 0;
            while (!samplers.get(Math.min(j, samplers.size() - 1)).done(st)) {
                StepOutput o = samplers.get(j++).step(st);
                st.close();
                st = o.state();
                o.close();
            }
            float[] x = Tensors.toFloats(st.x());
            st.close();
            return x;
        }
    }

    static float[] run(Settings s) {
        try (Pipeline p = Pipeline.forSettings(s, nets, PerfOptions.defaults(), CPU, m -> {})) {
            return run(java.util.Collections.nCopies(p.plan().size(), p.sampler(0, s.seed())), s);
        }
    }

    @Test
    void v1PromptsUseThePerStepPromptsAndWeights() {
        Settings v1 = demo(V1);
        float[] ours = run(v1);

        // by hand: at schedule index si, RN-tiny is guided by 'a lighthouse' (3) and, from 700 on, 'blurry' (-4);
        // ViT-tiny by 'watermark' (2) below 400, by nothing in 400-699 (so it is off), by 'blurry' (-4) from 700.
        // DiscoArt's float16 L2 normalisation: one prompt -> ±1; (3, -4) -> (0.6, -0.8) in float16.
        List<String> models = List.of("RN-tiny", "ViT-tiny");
        Pipeline.Targets all = Pipeline.encodePrompts(List.of("a lighthouse", "blurry", "watermark"), models, nets, CPU);
        Map<Scheduled, String> scalars = new EnumMap<>(Scheduled.class);
        for (Scheduled k : Scheduled.values()) scalars.put(k, v1.scheduleSource(k));
        StepPlan dd = StepPlan.build(StepPlan.of(v1).schedule(), v1.skipSteps(), models,
                Map.of("ViT-tiny", "[True]*400+[False]*300+[True]*300"), scalars);
        try (Pipeline p = Pipeline.forSettings(v1, nets, PerfOptions.defaults(), CPU, m -> {})) {
            assertEquals(dd.size(), p.plan().size());
            EpsDenoiser unet = p.unetDenoiser();
            List<Sampler> samplers = new ArrayList<>();
            boolean[] seen = new boolean[3];
            for (PlanStep step : dd.steps()) {
                int si = step.schedIndex();
                List<ClipGuidance.Model> ms = new ArrayList<>();
                if (si < 700) {
                    ms.add(model(nets, "RN-tiny", rows(all, "RN-tiny", 0), new float[] {1f}));
                    ms.add(model(nets, "ViT-tiny", rows(all, "ViT-tiny", 2), new float[] {1f}));
                    seen[si < 400 ? 0 : 1] = true;
                } else {
                    ms.add(model(nets, "RN-tiny", rows(all, "RN-tiny", 0, 1), new float[] {0.60009765625f, -0.7998046875f}));
                    ms.add(model(nets, "ViT-tiny", rows(all, "ViT-tiny", 1), new float[] {-1f}));
                    seen[2] = true;
                }
                ClipGuidance g = new ClipGuidance(dd, unet, p.secondaryDenoiser(), ms, new NativeCutoutStage(v1.skipAugs(), false),
                        new NativeLossKernels(), v1.seed(), m -> {}, 1);
                samplers.add(new Sampler(p.sampling().sampler(), unet, g, p.noise(v1.seed()), 0));
            }
            assertTrue(seen[0] && seen[1] && seen[2], "the steps must cover the three segments of the prompts");
            for (int j = 0; j < dd.size(); j++) assertEquals(dd.step(j).active(), p.plan().step(j).active(), "step " + j);
            float[] hand = run(samplers, v1);
            assertArrayEquals(hand, ours, "the v1 run must guide with the hand-built per-step targets");
        } finally {
            all.close();
        }
        // and it is not DD's run of the same prompts with fixed weights
        float[] plain = run(demo("text_prompts=['a lighthouse:3', 'blurry:-4', 'watermark:2']"));
        assertTrue(Compare.maxRelErr(plain, ours) > 1e-3, "v1 prompts changed nothing");
    }

    private static Tensor rows(Pipeline.Targets t, String model, long... ids) {
        return t.embeds().get(model).index_select(0, Tensors.fromLongs(ids, ids.length));
    }

    private static ClipGuidance.Model model(Pipeline.Networks nets, String name, Tensor embeds, float[] w) {
        var clip = nets.clips().get(name);
        return new ClipGuidance.Model(name, ImageEncoder.of(clip.inputResolution(), clip::encodeImage), embeds,
                Tensors.fromFloats(w, w.length));
    }

    @Test
    void fuzzyPromptsAreKeyedNoisyCopies() {
        Settings s = demo("text_prompts=['a lighthouse:2', 'blurry:-1']", "fuzzy_prompt=true", "rand_mag=0.1");
        try (Pipeline.Targets base = Pipeline.encodePrompts(s.textPrompts(), s.clipModels(), nets, CPU);
             Pipeline.Targets f = Pipeline.fuzzyTargets(base, 0.1, 5L, CPU);
             Pipeline.Targets again = Pipeline.fuzzyTargets(base, 0.1, 5L, CPU);
             Pipeline.Targets other = Pipeline.fuzzyTargets(base, 0.1, 6L, CPU)) {
            for (String m : s.clipModels()) {
                float[] e = Tensors.toFloats(base.embeds().get(m));
                long d = base.embeds().get(m).size(1);
                assertArrayEquals(new long[] {2 * 25, d}, Tensors.shape(f.embeds().get(m)));
                float[] fe = Tensors.toFloats(f.embeds().get(m));
                // copy c of prompt p: (embed + N(0,1) * rand_mag).clamp(0, 1), the normals keyed by seed, model, p, c
                float[] noise = new float[(int) d];
                for (int p = 0; p < 2; p++) {
                    for (int c = 0; c < 25; c += 12) {
                        RandomStream.of(5L, 0, -1, m, "fuzzy_prompt").derive(p).derive(c).fillGaussian(noise);
                        for (int k = 0; k < d; k++) {
                            float want = Math.min(1f, Math.max(0f, e[(int) (p * d + k)] + noise[k] * 0.1f));
                            assertEquals(want, fe[(int) ((p * 25 + c) * d + k)], 0f, m + " prompt " + p + " copy " + c);
                        }
                    }
                }
                assertArrayEquals(fe, Tensors.toFloats(again.embeds().get(m)), "same seed, same copies");
                assertFalse(java.util.Arrays.equals(fe, Tensors.toFloats(other.embeds().get(m))), "another seed");
            }
            // DD: each copy has its prompt's weight, divided by |sum| over all copies: 2/25 and -1/25
            float[] w = Tensors.toFloats(f.weights());
            assertEquals(50, w.length);
            assertEquals(2.0 / 25, w[0], 1e-7);
            assertEquals(-1.0 / 25, w[49], 1e-7);
        }
        // the run guides towards them (the targets above are a pure function of the seed): not the plain run
        float[] a = run(s);
        float[] plain = run(demo("text_prompts=['a lighthouse:2', 'blurry:-1']"));
        assertTrue(Compare.maxRelErr(plain, a) > 1e-4, "fuzzy_prompt changed nothing");
    }
}
