package disco.bench;

import com.fasterxml.jackson.databind.JsonNode;
import disco.models.clip.ClipModel;
import disco.models.secondary.SecondaryModel;
import disco.models.unet.UNetConfig;
import disco.models.unet.UNetModel;
import disco.plan.DiffusionSchedule;
import disco.plan.PlanStep;
import disco.plan.FixtureSettings;
import disco.plan.StepPlan;
import disco.run.DemoTokens;
import disco.sampling.SamplerConfig;
import disco.sampling.SpacedAlphas;
import disco.sampling.Symmetry;
import disco.torch.Tensors;
import disco.settings.Prompt;
import disco.settings.Settings;
import disco.util.DiscoException;
import disco.util.Npy;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Everything a guided step needs, loaded once and shared by the modes the bench compares: the plan, the schedule,
 * the sampler settings, the networks (on {@link #device}), and per CLIP model its prompt embeddings and weights.
 */
public final class StepSetup implements AutoCloseable {
    public final String source;
    public final StepPlan plan;
    public final SpacedAlphas alphas;
    public final SamplerConfig sampler;
    public final int width, height;
    public final long seed;
    public final boolean skipAugs;
    public final UNetModel unet;
    public final SecondaryModel secondary;
    public final Map<String, ClipModel> clips;
    public final Map<String, Tensor> targetEmbeds;
    public final Tensor weights;
    public final Device device;

    private StepSetup(String source, StepPlan plan, SpacedAlphas alphas, SamplerConfig sampler, int width, int height,
                      long seed, boolean skipAugs, UNetModel unet, SecondaryModel secondary, Map<String, ClipModel> clips,
                      Map<String, Tensor> targetEmbeds, Tensor weights, Device device) {
        this.source = source;
        this.plan = plan;
        this.alphas = alphas;
        this.sampler = sampler;
        this.width = width;
        this.height = height;
        this.seed = seed;
        this.skipAugs = skipAugs;
        this.unet = unet;
        this.secondary = secondary;
        this.clips = clips;
        this.targetEmbeds = targetEmbeds;
        this.weights = weights;
        this.device = device;
    }

    static boolean needsSecondary(StepPlan plan) {
        for (PlanStep s : plan.steps()) if (s.useSecondaryModel()) return true;
        return false;
    }

    private static Tensor weightsOf(List<Prompt> prompts) {
        float[] w = new float[prompts.size()];
        for (int i = 0; i < w.length; i++) w[i] = (float) prompts.get(i).weight();
        return Tensors.fromFloats(w, w.length);
    }

    private static Tensor keep(Tensor t, Device device) {
        Tensor r = device.is_cpu() ? t : t.to(device, t.scalar_type());
        r.retainReference();
        return r;
    }

    /**
     * A reference directory in the fixture layout: {@code settings.json} (steps, skip_steps, eta, sampling mode,
     * schedules, prompts, width/height), {@code unet.pt} + {@code unet.json}, {@code clip-<name>.pt} per
     * {@code clip_models}, {@code secondary.pt} where the plan uses it, and DD's prompt embeddings
     * {@code text_embeds-<name>.npy}. Missing files are bad input naming them.
     */
    public static StepSetup fromReference(Path dir, Device device) {
        return fromReference(dir, device, false);
    }

    /** As {@link #fromReference(Path, Device)}; {@code withSecondary} loads {@code secondary.pt} even where the plan does not use it. */
    public static StepSetup fromReference(Path dir, Device device, boolean withSecondary) {
        for (String f : List.of("settings.json", "unet.json", "unet.pt")) {
            if (!Files.isRegularFile(dir.resolve(f))) throw DiscoException.badInput(dir.resolve(f) + ": expected a file (reference directory layout)");
        }
        FixtureSettings fs = FixtureSettings.read(dir.resolve("settings.json"));
        JsonNode s = fs.json();
        StepPlan plan = fs.plan();
        DiffusionSchedule ds = fs.schedule();
        SpacedAlphas alphas = SpacedAlphas.of(ds);
        int skip = s.path("skip_steps").asInt(0);
        boolean clipDenoised = s.path("clip_denoised").asBoolean(false);
        String mode = s.path("diffusion_sampling_mode").asText("ddim");
        SamplerConfig cfg = mode.equals("plms") ? SamplerConfig.plms(skip, clipDenoised)
                : SamplerConfig.ddim(s.path("eta").asDouble(0.8), skip, clipDenoised);
        int w = s.path("width").asInt(), h = s.path("height").asInt();
        if (w <= 0 || h <= 0) throw DiscoException.badInput(dir.resolve("settings.json") + ": width/height: expected positive sizes");
        List<String> promptTexts = new ArrayList<>();
        for (JsonNode p : s.path("prompts")) promptTexts.add(p.asText());
        if (promptTexts.isEmpty()) throw DiscoException.badInput(dir.resolve("settings.json") + ": prompts: expected at least one prompt");
        Tensor weights = keep(weightsOf(Prompt.normalize(Prompt.parseAll(promptTexts))), device);
        UNetModel unet = UNetModel.load(UNetConfig.read(dir.resolve("unet.json")), dir.resolve("unet.pt"));
        boolean loadSec = needsSecondary(plan) || withSecondary;
        if (loadSec && !Files.isRegularFile(dir.resolve("secondary.pt"))) throw DiscoException.badInput(dir.resolve("secondary.pt") + ": expected a file (the secondary model)");
        SecondaryModel sec = loadSec ? SecondaryModel.load(dir.resolve("secondary.pt")) : null;
        Map<String, ClipModel> clips = new LinkedHashMap<>();
        Map<String, Tensor> embeds = new LinkedHashMap<>();
        for (String name : plan.models()) {
            Path f = dir.resolve("clip-" + name + ".pt");
            if (!Files.isRegularFile(f)) throw DiscoException.badInput(f + ": expected the CLIP checkpoint of clip_models entry '" + name + "'");
            ClipModel clip = ClipModel.load(f, device);
            clip.releaseTextTower(); // the prompts' embeddings come from the reference; a step needs the image tower only
            clips.put(name, clip);
            Npy.Array e = Npy.read(dir.resolve("text_embeds-" + name + ".npy"));
            embeds.put(name, keep(Tensors.fromFloats(e.floats(), e.shape()), device));
        }
        toDevice(unet, sec, device);
        return new StepSetup(dir.toString(), plan, alphas, cfg, w, h, s.path("seed").asLong(0), s.path("skip_augs").asBoolean(true),
                unet, sec, clips, embeds, weights, device);
    }

    /**
     * The built-in tiny networks ({@link UNetModel#demo()}, DD's secondary model's demo, {@link ClipModel#demo}) under
     * DD settings: each {@code clip_models} entry must name a demo CLIP ({@link ClipModel#DEMO_NAMES}); prompts are
     * encoded with the demo's byte-level tokens ({@link DemoTokens}).
     */
    public static StepSetup demo(Settings settings, String label, Device device) {
        for (String name : settings.clipModels()) {
            if (!ClipModel.DEMO_NAMES.contains(name)) {
                throw DiscoException.badInput(label + ": clip_models: --demo runs the demo CLIPs " + ClipModel.DEMO_NAMES
                        + ", found '" + name + "'");
            }
        }
        if (settings.fuzzyPrompt()) {
            // the bench times the step with the prompt embeddings as they are; 25 copies each would be another step
            throw DiscoException.badInput(label + ": fuzzy_prompt: not supported by bench step (it times the prompts"
                    + " without DD's noisy copies); set fuzzy_prompt to false");
        }
        StepPlan plan = StepPlan.of(settings);
        SpacedAlphas alphas = SpacedAlphas.of(plan.schedule());
        UNetModel unet = UNetModel.demo();
        int m = unet.config().sizeMultiple();
        if (settings.width() % m != 0 || settings.height() % m != 0) {
            throw DiscoException.badInput(label + ": width_height: the demo UNet takes multiples of " + m + ", found ["
                    + settings.width() + ", " + settings.height() + "]");
        }
        SecondaryModel sec = needsSecondary(plan) ? SecondaryModel.demo() : null;
        Symmetry sym = new Symmetry(settings.useHorizontalSymmetry(), settings.useVerticalSymmetry(),
                settings.transformationPercent());
        SamplerConfig cfg = (settings.diffusionSamplingMode().equals("plms")
                ? SamplerConfig.plms(settings.skipSteps(), settings.clipDenoised())
                : SamplerConfig.ddim(settings.eta(), settings.skipSteps(), settings.clipDenoised())).withSymmetry(sym);
        // DiscoArt's v1 prompts: the plan gives every step's prompts and weights; these fixed ones go unused
        List<Prompt> prompts = settings.promptsV1() != null
                ? settings.promptTexts().stream().map(t -> new Prompt(t, 1.0)).toList()
                : Prompt.normalize(Prompt.parseAll(settings.textPrompts()));
        List<String> texts = prompts.stream().map(Prompt::text).toList();
        Tensor weights = keep(weightsOf(prompts), device);
        Map<String, ClipModel> clips = new LinkedHashMap<>();
        Map<String, Tensor> embeds = new LinkedHashMap<>();
        for (String name : settings.clipModels()) {
            ClipModel clip = ClipModel.demo(name);
            try (NoGradGuard ng = new NoGradGuard()) { // on the CPU, where the demo CLIP is built
                embeds.put(name, keep(clip.encodeText(Tensors.fromLongRows(DemoTokens.tokenize(texts))).to(torch.ScalarType.Float), device));
            }
            clip.releaseTextTower(); // as a run does once its prompts are encoded
            if (!device.is_cpu()) clip.to(device, false);
            clips.put(name, clip);
        }
        toDevice(unet, sec, device);
        long seed = settings.seed() == null ? 0 : settings.seed();
        return new StepSetup(label + " (demo networks)", plan, alphas, cfg, settings.width(), settings.height(), seed,
                settings.skipAugs(), unet, sec, clips, embeds, weights, device);
    }

    private static void toDevice(UNetModel unet, SecondaryModel sec, Device device) {
        if (device.is_cpu()) return;
        unet.to(device, false);
        if (sec != null) sec.to(device, false);
    }

    /** The pipeline disco run would build over these networks, with {@code perf}. */
    public disco.run.Pipeline pipeline(disco.run.PerfOptions perf, java.util.function.Consumer<String> log) {
        return new disco.run.Pipeline(new disco.run.Pipeline.Networks(unet, secondary, clips, null),
                new disco.run.Pipeline.Targets(targetEmbeds, weights),
                new disco.run.Pipeline.Sampling(plan, alphas, sampler, width, height, skipAugs), perf,
                disco.run.Pipeline.Stages.FAST, device, log);
    }

    @Override
    public void close() {
        for (Tensor t : targetEmbeds.values()) t.close();
        weights.close();
    }
}
