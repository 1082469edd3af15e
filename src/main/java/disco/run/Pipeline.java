package disco.run;

import disco.guidance.ClipGuidance;
import disco.guidance.CutoutStage;
import disco.guidance.ImageEncoder;
import disco.guidance.LossKernels;
import disco.guidance.NativeCutoutStage;
import disco.guidance.NativeLossKernels;
import disco.guidance.TorchCutoutStage;
import disco.guidance.TorchLossKernels;
import disco.models.clip.ClipModel;
import disco.models.lpips.LpipsModel;
import disco.guidance.InitLoss;
import disco.models.secondary.SecondaryModel;
import disco.models.unet.UNetModel;
import disco.plan.DiffusionSchedule;
import disco.plan.PlanStep;
import disco.plan.StepPlan;
import disco.sampling.Denoiser;
import disco.sampling.EpsDenoiser;
import disco.sampling.Guidance;
import disco.sampling.GuidanceCall;
import disco.sampling.GuidanceResult;
import disco.sampling.NoiseSource;
import disco.sampling.Sampler;
import disco.sampling.SamplerConfig;
import disco.sampling.SpacedAlphas;
import disco.sampling.Symmetry;
import disco.sampling.XStartDenoiser;
import disco.settings.Prompt;
import disco.settings.Settings;
import disco.torch.Autocast;
import disco.torch.TorchWorkers;
import disco.torch.Precision;
import disco.torch.Tensors;
import disco.util.DiscoException;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.function.Supplier;
import java.util.function.UnaryOperator;

/**
 * The one pipeline factory: networks + sampling settings (plan, schedule, sampler) + performance options + stage
 * choice → the samplers and DD's {@code cond_fn} a run steps with. {@code disco run}, {@code resume}, {@code demo},
 * {@code sweep}, {@code bench step} (both modes) and the sampler reference checks all build their steps here, so a
 * bench figure describes what a run does.
 *
 * <p>Stages: {@link Stages#FAST} is the engine's step (one UNet forward with grad reused by the sampler and the
 * guidance, the native cutout and loss kernels, {@code --clip-batch} cutn batches per CLIP call).
 * {@link Stages#DD} is the same step the way Disco Diffusion runs it (the sampler's UNet forward without grad and
 * cond_fn's second one with grad, the cutouts and losses as LibTorch ops with autograd, one CLIP call per cutn
 * batch). Both compute the same values.
 *
 * <p>Performance options ({@link PerfOptions}) act here: precision (an autocast region around each network call;
 * fp16 on CUDA also converts the UNet torso to float16 as guided-diffusion's {@code convert_to_fp16}),
 * channels-last weights and inputs, UNet checkpointing, the CLIP batch ({@code auto} resolved from the memory
 * estimate), CLIP residency ({@link Residency}) and the process-wide switches.
 */
public final class Pipeline implements Engine {
    /** Which implementation of the cutouts, losses and UNet reuse a step uses. */
    public enum Stages {
        FAST("fast"), DD("dd");

        public final String label;

        Stages(String label) {
            this.label = label;
        }
    }

    /**
     * The networks of a run, loaded or built by the caller (CLI: from the model directory, or the demo's).
     *
     * @param lpips DD's LPIPS network for the {@code init_scale} term, or null when the run cannot need it
     */
    public record Networks(UNetModel unet, SecondaryModel secondary, Map<String, ClipModel> clips, TextEncoder text,
                           LpipsModel lpips) {
        /** Networks without LPIPS. */
        public Networks(UNetModel unet, SecondaryModel secondary, Map<String, ClipModel> clips, TextEncoder text) {
            this(unet, secondary, clips, text, null);
        }

        /** The same networks with {@code lpips}. */
        public Networks withLpips(LpipsModel lpips) {
            return new Networks(unet, secondary, clips, text, lpips);
        }

        /**
         * Frees every CLIP model's text tower ({@link ClipModel#releaseTextTower}): for networks that serve one
         * pipeline whose prompts are encoded (a run, a resume, a benchmark), never for networks shared by a
         * sweep's variants. Returns the bytes freed.
         */
        public long releaseTextTowers() {
            long freed = 0;
            for (ClipModel c : clips.values()) if (c.hasTextTower()) freed += c.releaseTextTower();
            return freed;
        }
    }

    /** Prompt texts → token ids [P, 77] for one CLIP model (the BPE tokenizer, or the demo's byte-level one). */
    @FunctionalInterface
    public interface TextEncoder {
        long[][] tokens(List<String> texts);
    }

    /**
     * Per CLIP model (plan key) its prompt embeddings [P, D], and the prompt weights [P] (normalised as DD does);
     * weights are null for DiscoArt's version-1 prompts, whose weights the plan gives per step and model.
     */
    public record Targets(Map<String, Tensor> embeds, Tensor weights) implements AutoCloseable {
        @Override
        public void close() {
            for (Tensor t : embeds.values()) t.close();
            if (weights != null) weights.close();
        }
    }

    /**
     * DD's {@code fuzzy_prompt}: each prompt's target becomes {@link Settings#FUZZY_COPIES} copies of its embedding
     * plus Gaussian noise of standard deviation {@code randMag}, clamped to [0, 1], each with the prompt's weight
     * (then divided by {@code |sum|} over all copies). DD draws the noise with torch's global generator; here it is
     * keyed by (batch seed, model, prompt, copy), so batch {@code i} is batch 0 of a run with seed {@code seed + i}.
     */
    public record Fuzzy(double randMag) {}

    /** What the settings decide for sampling: the step plan, the respaced schedule, the sampler, the image size. */
    public record Sampling(StepPlan plan, SpacedAlphas alphas, SamplerConfig sampler, int width, int height,
                           boolean skipAugs) {}

    /** Wraps the stages of a step (the bench times them); {@link #NONE} leaves them as they are. */
    public interface Hooks {
        default Denoiser denoiser(String name, Denoiser d) {
            return d;
        }

        default ImageEncoder encoder(String name, ImageEncoder e) {
            return e;
        }

        default CutoutStage cutouts(CutoutStage c) {
            return c;
        }

        default LossKernels losses(LossKernels l) {
            return l;
        }

        Hooks NONE = new Hooks() {};
    }

    private final Networks nets;
    private final Targets targets;
    private final boolean ownsTargets;
    /** DD's image prompts (read and resized) and the text prompts (raw weights) their targets are built with. */
    private List<ImagePrompts.Image> imagePrompts = List.of();
    private List<Prompt> textPrompts = List.of();
    /** Per batch seed: the text targets followed by the image prompts' 16 embeddings per image (closed with this). */
    private final Map<Long, Targets> imageTargets = new LinkedHashMap<>();
    private final Sampling sampling;
    private final PerfOptions perf;
    private final int clipBatch;
    /** How many CLIP calls of a step run at the same time ({@code --clip-workers} resolved), and their threads. */
    private final int clipWorkers;
    private TorchWorkers workers;
    private final Stages stages;
    private final Device device;
    private final Residency residency;
    private final Consumer<String> log;
    private final Fuzzy fuzzy;
    /** Fuzzy targets per batch seed (closed with the pipeline). */
    private final Map<Long, Targets> fuzzyTargets = new LinkedHashMap<>();

    /**
     * @param targets the prompt embeddings per model of {@code sampling.plan().models()} (the caller keeps them)
     * @param stages the stages {@link #sampler(int, long)} uses
     */
    public Pipeline(Networks nets, Targets targets, Sampling sampling, PerfOptions perf, Stages stages, Device device,
                    Consumer<String> log) {
        this(nets, targets, false, sampling, perf, stages, device, log, null);
    }

    private Pipeline(Networks nets, Targets targets, boolean ownsTargets, Sampling sampling, PerfOptions perf,
                     Stages stages, Device device, Consumer<String> log, Fuzzy fuzzy) {
        this.fuzzy = fuzzy;
        if (fuzzy != null && targets.weights() == null) {
            throw new IllegalArgumentException("fuzzy prompts need DD's prompt weights");
        }
        this.nets = nets;
        this.targets = targets;
        this.ownsTargets = ownsTargets;
        this.sampling = sampling;
        this.perf = perf;
        this.stages = stages;
        this.device = device;
        this.log = log == null ? m -> {} : log;
        perf.check(device);
        int multiple = nets.unet().config().sizeMultiple();
        if (sampling.width() % multiple != 0 || sampling.height() % multiple != 0) {
            throw DiscoException.badInput("settings: width_height: the diffusion model takes sizes that are multiples of "
                    + multiple + ", found [" + sampling.width() + ", " + sampling.height() + "]");
        }
        if (needsSecondary(sampling.plan()) && nets.secondary() == null) {
            throw DiscoException.badInput("settings: use_secondary_model: on at some steps but no secondary model is loaded");
        }
        for (String name : sampling.plan().models()) {
            if (!nets.clips().containsKey(name)) throw new IllegalArgumentException("no CLIP model loaded for '" + name + "'");
            if (!targets.embeds().containsKey(name)) throw new IllegalArgumentException("no prompt embeddings for '" + name + "'");
        }
        perf.applyGlobal(device);
        prepareNetworks(nets, perf, device);
        // auto: on the CPU one cutn batch per CLIP call, as DD does (at real sizes merged calls were measured both
        // slower and larger there: bench/README.md); on CUDA the most that the memory estimate fits
        this.clipBatch = perf.clipBatch() != PerfOptions.CLIP_BATCH_AUTO ? perf.clipBatch() : !device.is_cuda() ? 1
                : MemoryEstimate.autoClipBatch(MemoryEstimate.inputs(this), MemoryEstimate.availableBytes(device), this.log);
        this.residency = new Residency(sampling.plan(), clipsOfPlan(), device, perf.offloadInactive());
        this.clipWorkers = perf.clipWorkersResolved();
    }

    /** The resolved {@code --clip-workers}: how many CLIP calls of a step the engine's stages run at the same time. */
    public int clipWorkers() {
        return clipWorkers;
    }

    /** The workers the engine's stages run a step's CLIP calls on (started at the first use), or null for one. */
    private synchronized TorchWorkers workers() {
        if (clipWorkers < 2) return null;
        if (workers == null) workers = TorchWorkers.start(clipWorkers, Math.max(1, torch.get_num_threads() / clipWorkers));
        return workers;
    }

    /**
     * The pipeline of a run: the plan, schedule and sampler from the settings, the prompts encoded by each CLIP
     * model of {@code clip_models} (owned and closed with the pipeline), the engine's stages.
     */
    public static Pipeline forSettings(Settings settings, Networks nets, PerfOptions perf, Device device,
                                       Consumer<String> log) {
        // image prompts are read (a bad file: one line, exit 2) before any network runs
        List<ImagePrompts.Image> images = ImagePrompts.load(settings.imagePrompts(), settings.width(), settings.height());
        Targets t = settings.promptsV1() != null
                ? encodeTexts(settings.promptTexts(), null, settings.clipModels(), nets, device)
                : encodePrompts(settings.textPrompts(), settings.clipModels(), nets, device);
        try {
            Pipeline p = new Pipeline(nets, t, true, sampling(settings), perf, Stages.FAST, device, log,
                    settings.fuzzyPrompt() ? new Fuzzy(settings.randMag()) : null);
            p.imagePrompts = images;
            p.textPrompts = images.isEmpty() ? List.of() : Prompt.parseAll(settings.textPrompts());
            return p;
        } catch (RuntimeException e) {
            t.close();
            throw e;
        }
    }

    /**
     * The targets a batch's guidance uses: the text targets, their fuzzy copies ({@link Fuzzy}), or, with image prompts, each model's text embeddings
     * followed by {@link ImagePrompts#CUTN} embeddings per image prompt (DD's {@code MakeCutouts} with draws keyed by
     * the batch seed, the model and the prompt) and DD's weights over all of them ({@link ImagePrompts#weights}).
     */
    public synchronized Targets targetsFor(long seed) {
        if (fuzzy != null) {
            // fuzzy_prompt: the fuzzy copies of the encoded prompts (Settings refuses them with image prompts)
            return fuzzyTargets.computeIfAbsent(seed, k -> fuzzyTargets(targets, fuzzy.randMag(), k, device));
        }
        if (imagePrompts.isEmpty()) return targets;
        Targets t = imageTargets.get(seed);
        if (t != null) return t;
        Map<String, Tensor> embeds = new LinkedHashMap<>();
        try (NoGradGuard ng = new NoGradGuard()) {
            for (Map.Entry<String, Tensor> e : targets.embeds().entrySet()) {
                ClipModel clip = nets.clips().get(e.getKey());
                try (PointerScope scope = new PointerScope()) {
                    TensorVector parts = new TensorVector();
                    parts.push_back(e.getValue());
                    for (int i = 0; i < imagePrompts.size(); i++) {
                        ImagePrompts.Draws draws = ImagePrompts.random(ImagePrompts.stream(seed, e.getKey(), i));
                        parts.push_back(toDevice(ImagePrompts.embed(clip, imagePrompts.get(i), ImagePrompts.CUTN, draws),
                                device));
                    }
                    Tensor all = torch.cat(parts, 0);
                    all.retainReference();
                    embeds.put(e.getKey(), all);
                }
            }
        }
        List<Double> iw = imagePrompts.stream().map(ImagePrompts.Image::weight).toList();
        float[] w = ImagePrompts.weights(textPrompts, iw, ImagePrompts.CUTN);
        Tensor weights = toDevice(Tensors.fromFloats(w, w.length), device);
        weights.retainReference();
        t = new Targets(embeds, weights);
        imageTargets.put(seed, t);
        return t;
    }

    /**
     * DD's sampling settings: the step plan, the DDIM-respaced schedule ({@code diffusion_model_config}'s
     * {@code noise_schedule} and {@code rescale_timesteps}), DDIM or PLMS with symmetry.
     */
    public static Sampling sampling(Settings s) {
        StepPlan plan = StepPlan.of(s);
        SpacedAlphas alphas = SpacedAlphas.of(plan.schedule()); // diffusion_model_config's noise_schedule, rescale_timesteps
        Symmetry sym = new Symmetry(s.useHorizontalSymmetry(), s.useVerticalSymmetry(), s.transformationPercent());
        SamplerConfig cfg = (s.diffusionSamplingMode().equals("plms")
                ? SamplerConfig.plms(s.skipSteps(), s.clipDenoised())
                : SamplerConfig.ddim(s.eta(), s.skipSteps(), s.clipDenoised())).withSymmetry(sym);
        return new Sampling(plan, alphas, cfg, s.width(), s.height(), s.skipAugs());
    }

    /** DD's prompt targets: each prompt's text encoded by each model, its weight normalised by |sum of weights|. */
    public static Targets encodePrompts(List<String> prompts, List<String> models, Networks nets, Device device) {
        List<Prompt> parsed = Prompt.normalize(Prompt.parseAll(prompts));
        List<String> texts = parsed.stream().map(Prompt::text).toList();
        float[] w = new float[parsed.size()];
        for (int i = 0; i < w.length; i++) w[i] = (float) parsed.get(i).weight();
        return encodeTexts(texts, w, models, nets, device);
    }

    /** {@code texts} encoded by each model; {@code w} the weights as the guidance uses them, or null (v1 prompts). */
    private static Targets encodeTexts(List<String> texts, float[] w, List<String> models, Networks nets, Device device) {
        Map<String, Tensor> embeds = new LinkedHashMap<>();
        try (NoGradGuard ng = new NoGradGuard()) {
            for (String name : models) {
                ClipModel clip = nets.clips().get(name);
                if (clip == null) throw new IllegalArgumentException("no CLIP model loaded for '" + name + "'");
                Tensor tokens = toDevice(Tensors.fromLongRows(nets.text().tokens(texts)), clip.device());
                Tensor e = toDevice(clip.encodeText(tokens).to(torch.ScalarType.Float), device);
                e.retainReference();
                embeds.put(name, e);
            }
        }
        if (w == null) return new Targets(embeds, null);
        Tensor weights = toDevice(Tensors.fromFloats(w, w.length), device);
        weights.retainReference();
        return new Targets(embeds, weights);
    }

    /**
     * {@link Fuzzy}: the targets of one batch seed from the encoded ones. Prompt {@code p}'s copy {@code c} for
     * model {@code m} adds {@code randMag} times the normals of {@code RandomStream.of(seed, 0, -1, m,
     * "fuzzy_prompt").derive(p).derive(c)}; the weights are the DD weights repeated per copy and divided by
     * {@code |sum|} again (DD divides the repeated raw weights by their sum: the same values).
     */
    static Targets fuzzyTargets(Targets base, double randMag, long seed, Device device) {
        int copies = Settings.FUZZY_COPIES;
        Map<String, Tensor> embeds = new LinkedHashMap<>();
        try (NoGradGuard ng = new NoGradGuard(); PointerScope scope = new PointerScope()) {
            for (Map.Entry<String, Tensor> e : base.embeds().entrySet()) {
                Tensor base0 = e.getValue();
                int p = (int) base0.size(0), d = (int) base0.size(1);
                float[] src = Tensors.toFloats(base0);
                float[] out = new float[p * copies * d];
                float[] noise = new float[d];
                for (int i = 0; i < p; i++) {
                    for (int c = 0; c < copies; c++) {
                        disco.util.RandomStream.of(seed, 0, -1, e.getKey(), "fuzzy_prompt").derive(i).derive(c)
                                .fillGaussian(noise);
                        int o = (i * copies + c) * d;
                        for (int k = 0; k < d; k++) {
                            float v = src[i * d + k] + noise[k] * (float) randMag;
                            out[o + k] = Math.min(1f, Math.max(0f, v));
                        }
                    }
                }
                Tensor t = toDevice(Tensors.fromFloats(out, (long) p * copies, d), device);
                t.retainReference();
                embeds.put(e.getKey(), t);
            }
            float[] wv = Tensors.toFloats(base.weights());
            float[] rep = new float[wv.length * copies];
            double sum = 0;
            for (int i = 0; i < rep.length; i++) {
                rep[i] = wv[i / copies];
                sum += rep[i];
            }
            for (int i = 0; i < rep.length; i++) rep[i] = (float) (rep[i] / Math.abs(sum));
            Tensor weights = toDevice(Tensors.fromFloats(rep, rep.length), device);
            weights.retainReference();
            return new Targets(embeds, weights);
        }
    }

    /** Whether any executed step uses DD's secondary model (then it must be loaded). */
    public static boolean needsSecondary(StepPlan plan) {
        for (PlanStep s : plan.steps()) if (s.useSecondaryModel()) return true;
        return false;
    }

    private static final java.util.Set<Module> PREPARED = java.util.Collections.newSetFromMap(new java.util.WeakHashMap<>());

    /**
     * The one-time network changes: the CLIP ResNets' batch norms folded into their convolutions, and what the
     * options ask for (channels-last weights, DD's fp16 UNet torso on CUDA).
     */
    private static void prepareNetworks(Networks nets, PerfOptions perf, Device device) {
        synchronized (PREPARED) {
            Map<Module, String> all = new LinkedHashMap<>();
            all.put(nets.unet(), "unet");
            if (nets.secondary() != null) all.put(nets.secondary(), "secondary");
            for (ClipModel c : nets.clips().values()) all.put(c, kind(c));
            for (Map.Entry<Module, String> e : all.entrySet()) {
                if (PREPARED.contains(e.getKey())) continue;
                prepareNetwork(e.getKey(), e.getValue(), perf);
                PREPARED.add(e.getKey());
            }
            if (perf.precision() == Precision.FP16 && device.is_cuda() && nets.unet().torsoDtype() != torch.ScalarType.Half) {
                nets.unet().convertTorsoTo(torch.ScalarType.Half);
            }
        }
    }

    /**
     * One network's one-time changes ({@code unet}, {@code secondary}, {@code clip-resnet} or {@code clip-vit}): a
     * CLIP model's batch norms folded into its convolutions (the same function, a pass fewer a convolution), then
     * channels-last weights where the options ask for them. For a caller that holds networks outside a pipeline
     * (the pass benchmark); a pipeline does this once per network itself.
     */
    public static void prepareNetwork(Module m, String network, PerfOptions perf) {
        if (m instanceof ClipModel c) c.foldImageNorms();
        if (perf.channelsLast().forNetwork(network)) channelsLast(m);
    }

    /** The network kind of a CLIP model, as {@link #prepareNetwork} and the layout options name it. */
    public static String kind(ClipModel c) {
        return c.config().isVit() ? "clip-vit" : "clip-resnet";
    }

    /** Puts every 4-d parameter of a network in channels-last memory format (same values). */
    public static void channelsLast(Module m) {
        try (NoGradGuard ng = new NoGradGuard(); PointerScope scope = new PointerScope()) {
            TensorVector ps = m.parameters(true);
            for (long i = 0; i < ps.size(); i++) {
                Tensor p = ps.get(i);
                if (p.dim() == 4) p.set_data(p.contiguous(torch.MemoryFormat.ChannelsLast));
            }
        }
    }

    private Map<String, ClipModel> clipsOfPlan() {
        Map<String, ClipModel> m = new LinkedHashMap<>();
        for (String name : sampling.plan().models()) m.put(name, nets.clips().get(name));
        return m;
    }

    public Networks networks() {
        return nets;
    }

    public Sampling sampling() {
        return sampling;
    }

    public StepPlan plan() {
        return sampling.plan();
    }

    public PerfOptions perf() {
        return perf;
    }

    public Device device() {
        return device;
    }

    public Targets targets() {
        return targets;
    }

    /** The cutn batches per CLIP call the engine's stages use ({@code auto} resolved). */
    public int clipBatch() {
        return clipBatch;
    }

    public Residency residency() {
        return residency;
    }

    /** Runs {@code f} in the options' precision (an autocast region; fp32: as it is). */
    private <T> T precise(Supplier<T> f) {
        try (Autocast ac = Autocast.enter(device, perf.precision())) {
            return f.get();
        }
    }

    /** The network's input in the memory format its weights were put in. */
    private Tensor layout(String network, Tensor x) {
        return perf.channelsLast().forNetwork(network) && x.dim() == 4 ? x.contiguous(torch.MemoryFormat.ChannelsLast) : x;
    }

    /** The UNet as the sampler and guidance see it. */
    public EpsDenoiser unetDenoiser() {
        UNetModel unet = nets.unet();
        boolean plain = perf.precision() == Precision.FP32 && !perf.channelsLast().forNetwork("unet");
        EpsDenoiser.Network net = plain ? unet::forward
                : (x, t) -> precise(() -> unet.forward(layout("unet", x), t)).to(torch.ScalarType.Float);
        // the forward with grad keeps what its pull-back needs: DD's block checkpointing (recomputes every block)
        // when asked for, otherwise the lean trace (recomputes the residual blocks' norms and activations only)
        boolean blocks = perf.unetCheckpointing();
        EpsDenoiser.Network forward = net;
        net = new EpsDenoiser.Checkpointed() {
            @Override
            public Tensor forward(Tensor x, Tensor t) {
                return forward.forward(x, t);
            }

            @Override
            public EpsDenoiser.Trace trace(Tensor x, Tensor t) {
                UnaryOperator<Supplier<Tensor>> wrap = f -> () -> precise(f);
                UNetModel.Traced tr = blocks ? unet.trace(layout("unet", x), t, wrap) : unet.traceLean(layout("unet", x), t, wrap);
                return new EpsDenoiser.Trace() {
                    public Tensor output() {
                        return tr.output().to(torch.ScalarType.Float);
                    }

                    public Tensor vjp(Tensor g) {
                        return tr.vjp(g).to(torch.ScalarType.Float);
                    }

                    public void close() {
                        tr.close();
                    }
                };
            }
        };
        return new EpsDenoiser(net, sampling.alphas());
    }

    /** DD's secondary model as a denoiser, or null when none is loaded. */
    public XStartDenoiser secondaryDenoiser() {
        SecondaryModel sec = nets.secondary();
        if (sec == null) return null;
        return new XStartDenoiser((x, t) -> precise(() -> sec.forward(layout("secondary", x), t).pred()).to(torch.ScalarType.Float),
                sampling.alphas());
    }

    /** The CLIP models of the plan with their prompt targets, each encoder wrapped by {@code hooks}. */
    public List<ClipGuidance.Model> clipModels(Hooks hooks) {
        return clipModels(hooks, targets);
    }

    private List<ClipGuidance.Model> clipModels(Hooks hooks, Targets targets) {
        List<ClipGuidance.Model> models = new ArrayList<>();
        for (String name : sampling.plan().models()) {
            ClipModel clip = nets.clips().get(name);
            ImageEncoder enc = ImageEncoder.of(clip.inputResolution(), t -> precise(() -> clip.encodeImage(layout(kind(clip), t))));
            models.add(new ClipGuidance.Model(name, hooks.encoder(name, enc), targets.embeds().get(name), targets.weights()));
        }
        return models;
    }

    /** DD's cond_fn with the given stages, every random draw keyed from {@code seed}. */
    public ClipGuidance guidance(Stages st, long seed, Hooks hooks) {
        return guidance(st, seed, hooks, hooks.denoiser("unet", unetDenoiser()));
    }

    private ClipGuidance guidance(Stages st, long seed, Hooks hooks, Denoiser primary) {
        XStartDenoiser sec = secondaryDenoiser();
        Denoiser secondary = sec == null ? null : hooks.denoiser("secondary", sec);
        CutoutStage cut = st == Stages.DD ? new TorchCutoutStage(sampling.skipAugs()) : new NativeCutoutStage(sampling.skipAugs(), false);
        LossKernels loss = st == Stages.DD ? new TorchLossKernels() : new NativeLossKernels();
        return new ClipGuidance(sampling.plan(), primary, needsSecondary(sampling.plan()) ? secondary : null,
                clipModels(hooks, targetsFor(seed)), hooks.cutouts(cut), hooks.losses(loss), seed, log, st == Stages.DD ? 1 : clipBatch,
                initLoss(), st == Stages.DD ? null : workers());
    }

    /** Whether any executed step has a non-zero {@code init_scale} (then a run with an init needs LPIPS). */
    public static boolean needsLpips(StepPlan plan) {
        for (PlanStep s : plan.steps()) if (s.initScale() != 0) return true;
        return false;
    }

    /**
     * DD's init term over the LPIPS network: autograd through LPIPS from {@code x_in}, seeded with
     * {@code init_scale} (the gradient of {@code lpips(x_in, init).sum() * init_scale}). The init's normalised
     * features are kept while the init stays the same tensor values (a run's init is fixed per batch).
     */
    private InitLoss initLoss() {
        LpipsModel lp = nets.lpips();
        if (lp == null) return null;
        return new InitLoss() {
            private Tensor cachedInit;
            private List<Tensor> cachedTarget;

            @Override
            public Tensor gradient(Tensor xIn, Tensor init, double scale) {
                List<Tensor> target = target(init);
                try (org.bytedeco.pytorch.AutoGradMode on = new org.bytedeco.pytorch.AutoGradMode(true)) {
                    Tensor leaf = xIn.detach().requires_grad_(true);
                    Tensor out = precise(() -> lp.forward(leaf, target)).to(torch.ScalarType.Float);
                    return Tensors.vjp(out, leaf, torch.full_like(out, new org.bytedeco.pytorch.Scalar(scale)));
                }
            }

            private List<Tensor> target(Tensor init) {
                synchronized (this) {
                    if (cachedInit != null && cachedInit.sizes().equals(init.sizes()) && cachedInit.equal(init)) {
                        return cachedTarget;
                    }
                    if (cachedInit != null) {
                        cachedInit.close();
                        for (Tensor t : cachedTarget) t.close();
                    }
                    try (PointerScope scope = new PointerScope()) {
                        Tensor copy = init.clone();
                        List<Tensor> t = precise(() -> lp.target(init));
                        copy.retainReference();
                        for (Tensor x : t) x.retainReference();
                        cachedInit = copy;
                        cachedTarget = t;
                    }
                    return cachedTarget;
                }
            }
        };
    }

    /**
     * The sampler over {@link #guidance}, both on one UNet denoiser: in DD's stages the sampler's UNet forward is not
     * reused by the guidance.
     */
    public Sampler sampler(Stages st, long seed, NoiseSource noise, Hooks hooks) {
        Denoiser primary = hooks.denoiser("unet", unetDenoiser());
        ClipGuidance g = guidance(st, seed, hooks, primary);
        // the engine's stages run the sampler's UNet forward on a worker while a guidance that does not reuse it
        // runs (DD's secondary-model steps); DD's stages one after the other
        return new Sampler(sampling.sampler(), primary, st == Stages.DD ? withoutReuse(g) : g, noise, 0,
                st == Stages.DD ? null : workers());
    }

    /** The run's random noise for {@code seed} (x_T and each step's), drawn on the host and moved to the device. */
    public NoiseSource noise(long seed) {
        NoiseSource cpu = NoiseSource.random(seed, 0);
        if (device.is_cpu()) return cpu;
        return new NoiseSource() {
            @Override
            public Tensor stepNoise(int step, long[] shape) {
                return toDevice(cpu.stepNoise(step, shape));
            }

            @Override
            public Tensor initialNoise(long[] shape) {
                return toDevice(cpu.initialNoise(shape));
            }
        };
    }

    /**
     * DD's way of running the step: the guidance never reuses the sampler's UNet forward, so the sampler evaluates
     * the UNet without grad and DD's cond_fn evaluates it again with grad.
     */
    static Guidance withoutReuse(Guidance g) {
        return new Guidance() {
            @Override
            public boolean usesPrimaryDenoiser(int scheduleIndex) {
                return false;
            }

            @Override
            public GuidanceResult guide(GuidanceCall call) {
                return g.guide(call);
            }
        };
    }

    /**
     * Batch {@code batch}'s sampler in this pipeline's stages; seeds: the sampler's batch key stays 0, so batch
     * {@code i} is batch 0 of a run with seed {@code seed + i}.
     */
    @Override
    public Sampler sampler(int batch, long batchSeed) {
        return sampler(stages, batchSeed, noise(batchSeed), Hooks.NONE);
    }

    @Override
    public Map<String, Object> options() {
        return describe();
    }

    @Override
    public void beforeStep(int step) {
        residency.before(step);
    }

    @Override
    public Tensor toDevice(Tensor cpu) {
        return toDevice(cpu, device);
    }

    private static Tensor toDevice(Tensor t, Device device) {
        return device == null || device.is_cpu() && t.is_cpu() ? t : t.to(device, t.scalar_type());
    }

    /** The prompt embeddings per CLIP model (as the guidance uses them), for tests and tools. */
    public Map<String, Tensor> targetEmbeds() {
        return targets.embeds();
    }

    /** Every option in force, as the run's log and {@code disco bench step --json} report them. */
    public Map<String, Object> describe() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("device", device.is_cuda() ? "cuda" : "cpu");
        m.put("stages", stages.label);
        m.putAll(perf.toJson());
        m.put("clip_batch", PerfOptions.clipBatchLabel(clipBatch));
        m.put("clip_workers", clipWorkers);
        m.put("threads", torch.get_num_threads());
        m.put("unet_torso_dtype", nets.unet().torsoDtype() == torch.ScalarType.Half ? "float16" : "float32");
        return m;
    }

    @Override
    public void close() {
        for (Targets t : imageTargets.values()) t.close();
        imageTargets.clear();
        if (ownsTargets) targets.close();
        synchronized (this) {
            for (Targets t : fuzzyTargets.values()) t.close();
            fuzzyTargets.clear();
            if (workers != null) workers.close();
            workers = null;
        }
    }
}
