package disco.run;

import disco.guidance.ClipGuidance;
import disco.guidance.CutoutStage;
import disco.guidance.ImageEncoder;
import disco.guidance.LossKernels;
import disco.models.clip.ClipModel;
import disco.models.secondary.SecondaryModel;
import disco.models.unet.UNetModel;
import disco.plan.DiffusionSchedule;
import disco.plan.PlanStep;
import disco.plan.StepPlan;
import disco.sampling.EpsDenoiser;
import disco.sampling.NoiseSource;
import disco.sampling.Sampler;
import disco.sampling.SamplerConfig;
import disco.sampling.SpacedAlphas;
import disco.sampling.Symmetry;
import disco.torch.Tensors;
import disco.sampling.XStartDenoiser;
import disco.settings.Prompt;
import disco.settings.Settings;
import disco.util.DiscoException;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * The real engine: the UNet (and DD's secondary model where the plan uses it) as denoisers, the CLIP models with
 * the prompt embeddings, the cutout stage and the loss kernels composed into {@link ClipGuidance}, DDIM or PLMS as the
 * settings say. Built once per run; {@link #sampler} gives each batch its own sampler and guidance seeded with
 * {@code seed + i} (the sampler's batch key stays 0, so batch {@code i} is batch 0 of a run with seed {@code seed + i}).
 */
public final class DiscoEngine implements Engine {
    /** The networks of a run, loaded or built by the caller (CLI: from the model directory, or the demo's). */
    public record Networks(UNetModel unet, SecondaryModel secondary, Map<String, ClipModel> clips, TextEncoder text) {}

    /** Prompt texts → token ids [P, 77] for one CLIP model (the BPE tokenizer, or the demo's byte-level one). */
    @FunctionalInterface
    public interface TextEncoder {
        long[][] tokens(List<String> texts);
    }

    private final Settings settings;
    private final Networks nets;
    private final StepPlan plan;
    private final SpacedAlphas alphas;
    private final List<ClipGuidance.Model> models = new ArrayList<>();
    private final CutoutStage cutouts;
    private final LossKernels losses;
    private final Device device;
    private final Consumer<String> log;

    public DiscoEngine(Settings settings, Networks nets, CutoutStage cutouts, LossKernels losses, Device device,
                       Consumer<String> log) {
        this.settings = settings;
        this.nets = nets;
        this.plan = StepPlan.of(settings);
        this.alphas = SpacedAlphas.linearDdim(DiffusionSchedule.diffusionSteps(settings.steps()), settings.steps());
        this.cutouts = cutouts;
        this.losses = losses;
        this.device = device;
        this.log = log;
        int multiple = nets.unet().config().sizeMultiple();
        if (settings.width() % multiple != 0 || settings.height() % multiple != 0) {
            throw DiscoException.badInput("settings: width_height: the diffusion model takes sizes that are multiples of "
                    + multiple + ", found [" + settings.width() + ", " + settings.height() + "]");
        }
        if (needsSecondary(plan) && nets.secondary() == null) {
            throw DiscoException.badInput("settings: use_secondary_model: on at some steps but no secondary model is loaded");
        }
        List<Prompt> prompts = Prompt.normalize(Prompt.parseAll(settings.textPrompts()));
        List<String> texts = prompts.stream().map(Prompt::text).toList();
        float[] w = new float[prompts.size()];
        for (int i = 0; i < w.length; i++) w[i] = (float) prompts.get(i).weight();
        try (NoGradGuard ng = new NoGradGuard()) {
            for (String name : settings.clipModels()) {
                ClipModel clip = nets.clips().get(name);
                if (clip == null) throw new IllegalArgumentException("no CLIP model loaded for '" + name + "'");
                Tensor embeds = clip.encodeText(toDevice(longs(nets.text().tokens(texts)))).to(torch.ScalarType.Float);
                embeds.retainReference();
                Tensor weights = toDevice(Tensors.fromFloats(w, w.length));
                weights.retainReference();
                models.add(new ClipGuidance.Model(name, ImageEncoder.of(clip.inputResolution(), clip::encodeImage),
                        embeds, weights));
            }
        }
    }

    /** Whether any executed step uses DD's secondary model (then it must be loaded). */
    public static boolean needsSecondary(StepPlan plan) {
        for (PlanStep s : plan.steps()) if (s.useSecondaryModel()) return true;
        return false;
    }

    private static Tensor longs(long[][] rows) {
        int n = rows.length, l = rows[0].length;
        Tensor t = torch.empty(new long[] {n, l}, new org.bytedeco.pytorch.TensorOptions(torch.ScalarType.Long), null);
        long[] flat = new long[n * l];
        for (int i = 0; i < n; i++) System.arraycopy(rows[i], 0, flat, i * l, l);
        new LongPointer(t.data_ptr()).capacity(flat.length).put(flat);
        return t;
    }

    public StepPlan plan() {
        return plan;
    }

    @Override
    public Tensor toDevice(Tensor cpu) {
        return device == null || device.is_cpu() ? cpu : cpu.to(device, cpu.scalar_type());
    }

    @Override
    public Sampler sampler(int batch, long batchSeed) {
        EpsDenoiser primary = new EpsDenoiser(nets.unet()::forward, alphas);
        XStartDenoiser secondary = nets.secondary() == null ? null
                : new XStartDenoiser((x, t) -> nets.secondary().forward(x, t).pred(), alphas);
        ClipGuidance guidance = new ClipGuidance(plan, primary, needsSecondary(plan) ? secondary : null, models, cutouts,
                losses, batchSeed, log);
        Symmetry sym = new Symmetry(settings.useHorizontalSymmetry(), settings.useVerticalSymmetry(),
                settings.transformationPercent());
        SamplerConfig cfg = (settings.diffusionSamplingMode().equals("plms")
                ? SamplerConfig.plms(settings.skipSteps(), settings.clipDenoised())
                : SamplerConfig.ddim(settings.eta(), settings.skipSteps(), settings.clipDenoised())).withSymmetry(sym);
        NoiseSource cpuNoise = NoiseSource.random(batchSeed, 0);
        NoiseSource noise = device == null || device.is_cpu() ? cpuNoise : new NoiseSource() {
            @Override
            public Tensor stepNoise(int step, long[] shape) {
                return toDevice(cpuNoise.stepNoise(step, shape));
            }

            @Override
            public Tensor initialNoise(long[] shape) {
                return toDevice(cpuNoise.initialNoise(shape));
            }
        };
        return new Sampler(cfg, primary, guidance, noise, 0);
    }

    /** The prompt embeddings per CLIP model (as the guidance uses them), for tests and tools. */
    public Map<String, Tensor> targetEmbeds() {
        Map<String, Tensor> m = new LinkedHashMap<>();
        for (ClipGuidance.Model x : models) m.put(x.name(), x.targetEmbeds());
        return m;
    }

    @Override
    public void close() {
        for (ClipGuidance.Model m : models) {
            m.targetEmbeds().close();
            m.weights().close();
        }
    }
}
