package disco.reference;

import disco.util.PyLiteral;
import disco.util.Compare;
import com.fasterxml.jackson.databind.JsonNode;
import disco.models.clip.ClipModel;
import disco.models.lpips.LpipsModel;
import disco.models.secondary.SecondaryModel;
import disco.models.tokenizer.SimpleTokenizer;
import disco.models.unet.UNetConfig;
import disco.models.unet.UNetModel;
import disco.plan.FixtureSettings;
import disco.plan.StepPlan;
import disco.guidance.ClipGuidance;
import disco.run.ModelLoader;
import disco.run.PerfOptions;
import disco.run.Pipeline;
import disco.sampling.GuidanceCall;
import disco.sampling.GuidanceResult;
import disco.sampling.NoiseSource;
import disco.sampling.Sampler;
import disco.sampling.SamplerConfig;
import disco.sampling.SamplerState;
import disco.sampling.SpacedAlphas;
import disco.sampling.StepOutput;
import disco.sampling.Symmetry;
import disco.torch.Tensors;
import disco.settings.Scheduled;
import disco.util.DiscoException;
import disco.util.Npy;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The engine's acceptance checks: DD's {@code cond_fn} ({@code run/grad}, {@code secrun/grad}) and whole guided runs
 * ({@code run/samples}, {@code secrun/samples}, {@code plmsrun/samples}, {@code initrun/samples},
 * {@code symrun/samples}) against the fixtures. Models, prompts, schedules and settings are read from the directory;
 * the fixture's {@code x_T}, init image and per-step noises are fed through the sampler's {@link NoiseSource} seam.
 * A samples check compares the samples after every step, the unguided {@code pred_xstart} of every step and the
 * logged loss values, and reports the largest of the three errors.
 */
public final class SamplerReferenceChecks implements ReferenceCheck {
    /** LPIPS's two files in a reference directory: the torchvision vgg16 trunk and the v0.1 linear heads. */
    static final String LPIPS_TRUNK = "lpips-vgg16.pth", LPIPS_HEADS = "lpips-lin.pth";
    static final double GRAD_TOL = 1e-3;
    static final double SAMPLES_TOL = 2e-3;

    /**
     * A fixture run: what it changes from {@code settings.json} (as the fixtures README defines it). {@code lpips}:
     * DD's init loss on, with {@code init_scale}, {@code use_secondary_model}, the sampler and {@code grad_index} from
     * {@code lpips.json} → {@code run} (the other fields then say what that file is expected to hold).
     */
    public record Variant(String name, boolean secondary, boolean plms, boolean init, boolean symmetry, boolean lpips) {
        public Variant(String name, boolean secondary, boolean plms, boolean init, boolean symmetry) {
            this(name, secondary, plms, init, symmetry, false);
        }
    }

    public static final List<Variant> VARIANTS = List.of(
            new Variant("run", false, false, false, false),
            new Variant("secrun", true, false, false, false),
            new Variant("plmsrun", false, true, false, false),
            new Variant("initrun", true, false, true, false),
            new Variant("symrun", false, false, false, true),
            new Variant("lpipsrun", true, false, true, false, true));

    @Override
    public List<CheckResult> run(ReferenceContext ctx) {
        List<CheckResult> out = new ArrayList<>();
        Engine e;
        try {
            e = Engine.load(ctx);
        } catch (RuntimeException ex) {
            String why = String.valueOf(ex.getMessage()).split("\n", 2)[0];
            out.add(CheckResult.error("run/grad", why));
            for (Variant v : VARIANTS) {
                if (v.lpips()) out.add(CheckResult.error(v.name() + "/grad", why));
                out.add(CheckResult.error(v.name() + "/samples", why));
            }
            return out;
        }
        for (Variant v : VARIANTS) {
            if (v.name().equals("run") || v.name().equals("secrun") || v.lpips()) {
                out.add(guard(v.name() + "/grad", () -> grad(e, v)));
            }
            out.add(guard(v.name() + "/samples", () -> samples(e, v)));
        }
        return out;
    }

    private interface Check {
        CheckResult run();
    }

    private static CheckResult guard(String name, Check c) {
        try (PointerScope scope = new PointerScope()) {
            return c.run();
        } catch (RuntimeException ex) {
            return CheckResult.error(name, String.valueOf(ex.getMessage()).split("\n", 2)[0]);
        }
    }

    /** Everything loaded once from a reference directory: the networks and DD's prompt targets. */
    public static final class Engine {
        final ReferenceContext ctx;
        final FixtureSettings settings;
        final SpacedAlphas alphas;
        final Pipeline.Networks nets;
        final Pipeline.Targets targets;

        private Engine(ReferenceContext ctx, FixtureSettings settings, Pipeline.Networks nets, Pipeline.Targets targets) {
            this.ctx = ctx;
            this.settings = settings;
            this.alphas = SpacedAlphas.of(settings.schedule());
            this.nets = nets;
            this.targets = targets;
        }

        public static Engine load(ReferenceContext ctx) {
            FixtureSettings fs = ctx.fixtureSettings();
            Map<String, ClipModel> clips = new LinkedHashMap<>();
            for (String name : fs.clipModels()) clips.put(name, ClipModel.load(ctx.file("clip-" + name + ".pt")));
            return load(ctx, fs, clips);
        }

        /**
         * The directory's UNet, secondary model and vocabulary with other settings ({@code fs}: prompts, schedules,
         * scalars) and CLIP models, keyed by {@code fs}'s {@code clip_models}.
         */
        static Engine load(ReferenceContext ctx, FixtureSettings fs, Map<String, ClipModel> clips) {
            UNetModel u = UNetModel.load(UNetConfig.read(ctx.file("unet.json")), ctx.file("unet.pt"));
            SecondaryModel sec = ctx.has("secondary.pt") ? SecondaryModel.load(ctx.file("secondary.pt")) : null;
            Path vocab = ctx.vocab().orElseThrow(() -> DiscoException.badInput(ctx.dir()
                    + ": no bpe_simple_vocab_16e6.txt.gz here or in ../clip-vocab (pass --vocab)"));
            SimpleTokenizer tok = SimpleTokenizer.load(vocab);
            List<String> prompts = new ArrayList<>();
            for (JsonNode p : fs.need("prompts")) prompts.add(p.asText());
            List<String> names = fs.clipModels();
            // DD's lpips.LPIPS(net='vgg') from the directory's trunk and heads, when it has them (the lpipsrun checks
            // report their absence)
            LpipsModel lpips = ctx.has(LPIPS_TRUNK) && ctx.has(LPIPS_HEADS)
                    ? LpipsModel.load(ctx.file(LPIPS_TRUNK), ctx.file(LPIPS_HEADS)) : null;
            Pipeline.Networks nets = new Pipeline.Networks(u, sec, clips, ModelLoader.bpe(tok), lpips);
            Pipeline.Targets targets = Pipeline.encodePrompts(prompts, names, nets, new Device("cpu"));
            return new Engine(ctx, fs, nets, targets);
        }

        /** The plan of {@code settings.json}, with {@code use_secondary_model} (and for LPIPS {@code init_scale}) as the variant sets them. */
        StepPlan plan(Variant v) {
            Map<Scheduled, String> sc = settings.scalars();
            if (v.lpips()) {
                JsonNode run = lpipsRun();
                sc.put(Scheduled.USE_SECONDARY_MODEL, PyLiteral.of(need(run, "use_secondary_model").asBoolean()));
                sc.put(Scheduled.INIT_SCALE, need(run, "init_scale").asText());
            } else {
                sc.put(Scheduled.USE_SECONDARY_MODEL, PyLiteral.of(v.secondary()));
                sc.putIfAbsent(Scheduled.INIT_SCALE, "0");
            }
            return settings.plan(sc);
        }

        /** {@code lpips.json} → {@code run}. */
        JsonNode lpipsRun() {
            return need(ctx.json("lpips.json"), "run");
        }

        private JsonNode need(JsonNode obj, String key) {
            JsonNode n = obj.get(key);
            if (n == null || n.isNull()) throw DiscoException.badInput(ctx.file("lpips.json") + ": run: " + key + ": missing");
            return n;
        }

        /** The respaced index cond_fn is checked at: {@code settings.json}'s, or {@code lpips.json}'s for LPIPS. */
        int gradIndex(Variant v) {
            return v.lpips() ? need(lpipsRun(), "grad_index").asInt() : settings.need("grad_index").asInt();
        }

        /** Whether the variant samples with PLMS ({@code lpips.json} names its sampler). */
        boolean plms(Variant v) {
            if (!v.lpips()) return v.plms();
            String s = need(lpipsRun(), "sampler").asText();
            if (!s.equals("ddim") && !s.equals("plms")) {
                throw DiscoException.badInput(ctx.file("lpips.json") + ": run: sampler: expected ddim or plms, found " + s);
            }
            return s.equals("plms");
        }

        /** The variant's sampler settings (DDIM or PLMS, symmetry as the fixtures README defines it). */
        SamplerConfig samplerConfig(Variant v) {
            JsonNode s = settings.json();
            int skip = settings.need("skip_steps").asInt();
            boolean clipDenoised = s.has("clip_denoised") && s.get("clip_denoised").asBoolean();
            SamplerConfig cfg = plms(v) ? SamplerConfig.plms(skip, clipDenoised)
                    : SamplerConfig.ddim(settings.need("eta").asDouble(), skip, clipDenoised);
            if (v.symmetry()) cfg = cfg.withSymmetry(new Symmetry(true, true, List.of(0.5)));
            return cfg;
        }

        /** The pipeline disco run builds, over the fixture's networks, for a variant (fp32, the engine's stages). */
        Pipeline pipeline(Variant v) {
            JsonNode s = settings.json();
            boolean skipAugs = !s.has("skip_augs") || s.get("skip_augs").asBoolean();
            if (v.lpips() && nets.lpips() == null) {
                throw DiscoException.badInput(ctx.dir() + ": " + LPIPS_TRUNK + ", " + LPIPS_HEADS + ": missing (the LPIPS network)");
            }
            Pipeline.Sampling sampling = new Pipeline.Sampling(plan(v), alphas, samplerConfig(v),
                    settings.need("width").asInt(), settings.need("height").asInt(), skipAugs);
            return new Pipeline(nets, targets, sampling, PerfOptions.defaults(), Pipeline.Stages.FAST,
                    new Device("cpu"), m -> System.err.println("guidance: " + m));
        }
    }

    static Tensor tensor(Npy.Array a) {
        return Tensors.fromFloats(a.floats(), a.shape());
    }

    /** {@code <run>_grad_x} → cond_fn at {@code grad_index} → {@code <run>_grad}. */
    static CheckResult grad(Engine e, Variant v) {
        String name = v.name() + "/grad";
        int index = e.gradIndex(v);
        ClipGuidance g = e.pipeline(v).guidance(Pipeline.Stages.FAST, 0, Pipeline.Hooks.NONE);
        Tensor x = tensor(e.ctx.npy(v.name() + "_grad_x.npy"));
        Tensor init = v.init() ? tensor(e.ctx.npy(v.name() + "_init.npy")) : null;
        int step = g.stepOf(index);
        GuidanceResult r = g.guide(new GuidanceCall(x, index, index, null, 0, step, 0, init));
        return CheckResult.numeric(name, Compare.maxRelErr(Tensors.toFloats(r.grad()),
                e.ctx.npy(v.name() + "_grad.npy").floats()), GRAD_TOL);
    }

    /** The fixture's x_T and per-step noises. */
    record FixtureNoise(Tensor xT, float[] noises, int perStep) implements NoiseSource {
        @Override
        public Tensor stepNoise(int step, long[] shape) {
            if (noises == null) throw new IllegalStateException("this fixture run has no noises");
            float[] z = new float[perStep];
            System.arraycopy(noises, step * perStep, z, 0, perStep);
            return Tensors.fromFloats(z, shape);
        }

        @Override
        public Tensor initialNoise(long[] shape) {
            return xT;
        }
    }

    static CheckResult samples(Engine e, Variant v) {
        return samples(e, v, Integer.MAX_VALUE);
    }

    /**
     * The samples check over the first {@code maxSteps} executed steps only (the tests' cheaper prefix of the
     * acceptance check): samples, pred_xstart and the loss values logged in those steps.
     */
    static CheckResult samples(Engine e, Variant v, int maxSteps) {
        String name = v.name() + "/samples";
        String p = v.name() + "_";
        Tensor xT = tensor(e.ctx.npy(p + "x_T.npy"));
        int perStep = Math.toIntExact(xT.numel());
        float[] noises = e.ctx.has(p + "noises.npy") ? e.ctx.npy(p + "noises.npy").floats() : null;
        Tensor init = v.init() ? tensor(e.ctx.npy(p + "init.npy")) : null;
        Sampler sampler = e.pipeline(v).sampler(Pipeline.Stages.FAST, 0, new FixtureNoise(xT, noises, perStep),
                Pipeline.Hooks.NONE);
        int nSteps = Math.min(maxSteps, sampler.stepsToRun());
        float[] samples = new float[nSteps * perStep];
        float[] preds = new float[nSteps * perStep];
        List<Double> losses = new ArrayList<>();
        SamplerState st = sampler.start(xT, init);
        while (!sampler.done(st) && st.stepsDone() < nSteps) {
            StepOutput o = sampler.step(st);
            System.arraycopy(Tensors.toFloats(o.sample()), 0, samples, o.step() * perStep, perStep);
            System.arraycopy(Tensors.toFloats(o.predXstart()), 0, preds, o.step() * perStep, perStep);
            for (GuidanceResult g : o.guidance()) for (GuidanceResult.LossValue l : g.losses()) losses.add(l.value());
            st.close();
            st = o.state();
            o.close();
        }
        st.close();
        double eS = Compare.maxRelErr(samples, Arrays.copyOf(e.ctx.npy(p + "samples.npy").floats(), samples.length));
        double eP = Compare.maxRelErr(preds, Arrays.copyOf(e.ctx.npy(p + "pred_xstart.npy").floats(), preds.length));
        double[] refLoss = e.ctx.npy(p + "loss_values.npy").doubles();
        if (nSteps < sampler.stepsToRun() && losses.size() <= refLoss.length) refLoss = Arrays.copyOf(refLoss, losses.size());
        double eL;
        if (refLoss.length != losses.size()) {
            return CheckResult.error(name, "loss values: " + losses.size() + " logged, reference has " + refLoss.length);
        }
        eL = Compare.maxRelErr(losses.stream().mapToDouble(Double::doubleValue).toArray(), refLoss);
        double err = Math.max(eS, Math.max(eP, eL));
        if (Double.isNaN(eS) || Double.isNaN(eP) || Double.isNaN(eL)) err = Double.NaN;
        return new CheckResult(name, err, SAMPLES_TOL, err <= SAMPLES_TOL,
                String.format("samples %.2e, pred_xstart %.2e, losses %.2e", eS, eP, eL));
    }
}
