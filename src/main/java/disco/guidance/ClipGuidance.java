package disco.guidance;

import static disco.torch.Scalars.s;
import static disco.torch.Scalars.f;
import disco.plan.PlanStep;
import disco.plan.StepPlan;
import disco.sampling.Denoiser;
import disco.sampling.Guidance;
import disco.sampling.GuidanceCall;
import disco.sampling.GuidanceResult;
import disco.sampling.SpacedAlphas;
import disco.torch.TorchWorkers;
import disco.util.RandomStream;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * DD's {@code cond_fn}, composed from the stages:
 * <ol>
 * <li>the denoised estimate at {@code cur_t}: the primary denoiser's {@code pred_xstart} (with grad, reusing the
 * sampler's forward when it hands one over) or, where the plan turns {@code use_secondary_model} on, the secondary
 * model's {@code pred}; {@code x_in = pred * fac + x * (1 - fac)}, {@code fac = sqrt(1 - ab[cur_t])};</li>
 * <li>for each CLIP model active at the step, {@code cutn_batches} times: cutouts of {@code (x_in + 1) / 2} →
 * CLIP normalisation → image embeddings → spherical distance to the prompt embeddings,
 * {@code losses = dists.view([cuts, n, -1]).mul(weights).sum(2).mean(0)}; the gradient of
 * {@code losses.sum() * clip_guidance_scale / cutn_batches} is pulled back through the encoder, the normalisation
 * and the cutouts to {@code x_in};</li>
 * <li>tv and saturation gradients on {@code x_in} (DD's range loss is computed on {@code pred}, upstream of
 * {@code x_in}, so it contributes nothing to the gradient; it is not computed and not logged);</li>
 * <li>DD's init term, when the call carries an init and the step's {@code init_scale} is not 0: the gradient of
 * {@code lpips(x_in, init).sum() * init_scale} ({@link InitLoss}), added to the others;</li>
 * <li>NaN guard (a NaN anywhere in the {@code x_in} gradient → zero gradient, no clamp), then the pull-back to
 * {@code x} through the denoiser, negated, then the RMS clamp to {@code clamp_max} when {@code clamp_grad}.</li>
 * </ol>
 * Every scalar is read from the plan entry of {@link GuidanceCall#scheduleIndex()}; the denoiser choice from the
 * entry of {@link GuidanceCall#denoiseIndex()}. What a call logs (each cutn batch's CLIP loss, the NaN guard's flags,
 * the gradient RMS) stays on the device until one read at the end of the call ({@link StepReadback}); the guard
 * itself acts on the device, so the call never waits for it midway. Random cutout draws are keyed by (seed, batch, step, model,
 * "cutouts"), derived per cutn batch (and per call for PLMS's second call).
 */
public final class ClipGuidance implements Guidance {
    /** CLIP's image normalisation constants (OpenAI's), as DD's {@code normalize = T.Normalize(...)} uses them. */
    public static final float[] CLIP_MEAN = {0.48145466f, 0.4578275f, 0.40821073f};
    public static final float[] CLIP_STD = {0.26862954f, 0.26130258f, 0.27577711f};

    /**
     * One CLIP model of the run.
     *
     * @param name the model key as the plan's active lists name it
     * @param targetEmbeds prompt embeddings [P, D] (float32)
     * @param weights prompt weights [P] already divided by {@code abs(sum)}; null when every plan step names the
     *     model's prompts and weights ({@link PlanStep#promptsOf}, DiscoArt's version-1 prompts)
     */
    public record Model(String name, ImageEncoder encoder, Tensor targetEmbeds, Tensor weights) {}

    private final StepPlan plan;
    private final Map<Integer, PlanStep> byIndex = new HashMap<>();
    private final SpacedAlphas alphas;
    private final Denoiser primary;
    private final Denoiser secondary;
    private final List<Model> models;
    private final CutoutStage cutouts;
    private final LossKernels losses;
    private final long seed;
    private final Consumer<String> log;
    private final int cutnBatchesPerCall;
    private final InitLoss initLoss;
    private final TorchWorkers workers;

    /** {@code cutnBatchesPerCall} value: every cutn batch of a model in one encoder call. */
    public static final int ALL_CUTN_BATCHES = Integer.MAX_VALUE;

    /**
     * @param secondary DD's secondary model, or null (then a plan entry turning it on is an error)
     * @param log where NaN-guard events go (stderr in the CLI)
     */
    public ClipGuidance(StepPlan plan, Denoiser primary, Denoiser secondary, List<Model> models, CutoutStage cutouts,
                        LossKernels losses, long seed, Consumer<String> log) {
        this(plan, primary, secondary, models, cutouts, losses, seed, log, ALL_CUTN_BATCHES);
    }

    /**
     * @param cutnBatchesPerCall how many cutn batches of one CLIP model go through the image encoder in one call
     *     ({@link #ALL_CUTN_BATCHES}: all of them, one forward and one backward per model and step; 1: DD's one call
     *     per cutn batch). The cutouts, their random draws, the loss values and the gradient are the same either way;
     *     fewer, larger calls are faster and hold more activations at once.
     */
    public ClipGuidance(StepPlan plan, Denoiser primary, Denoiser secondary, List<Model> models, CutoutStage cutouts,
                        LossKernels losses, long seed, Consumer<String> log, int cutnBatchesPerCall) {
        this(plan, primary, secondary, models, cutouts, losses, seed, log, cutnBatchesPerCall, null);
    }

    /**
     * @param initLoss DD's LPIPS init loss, or null; a call that carries an init at a step whose {@code init_scale}
     *     is not 0 then fails (the caller loads LPIPS whenever a run can need it)
     */
    public ClipGuidance(StepPlan plan, Denoiser primary, Denoiser secondary, List<Model> models, CutoutStage cutouts,
                        LossKernels losses, long seed, Consumer<String> log, int cutnBatchesPerCall, InitLoss initLoss) {
        this(plan, primary, secondary, models, cutouts, losses, seed, log, cutnBatchesPerCall, initLoss, null);
    }

    /**
     * @param workers where a step's CLIP calls run when it has more than one (each model's groups of cutn batches
     *     are independent until their gradients are summed), or null: one after the other on the calling thread.
     *     The calls, their random draws and the order of the sums are the same either way; only the threads that
     *     compute them differ (the caller keeps the workers)
     */
    public ClipGuidance(StepPlan plan, Denoiser primary, Denoiser secondary, List<Model> models, CutoutStage cutouts,
                        LossKernels losses, long seed, Consumer<String> log, int cutnBatchesPerCall, InitLoss initLoss,
                        TorchWorkers workers) {
        this.workers = workers;
        this.initLoss = initLoss;
        if (cutnBatchesPerCall < 1) throw new IllegalArgumentException("cutnBatchesPerCall must be >= 1, got " + cutnBatchesPerCall);
        this.cutnBatchesPerCall = cutnBatchesPerCall;
        this.plan = plan;
        for (PlanStep s : plan.steps()) byIndex.put(s.index(), s);
        this.alphas = primary.alphas();
        this.primary = primary;
        this.secondary = secondary;
        this.models = List.copyOf(models);
        this.cutouts = cutouts;
        this.losses = losses;
        this.seed = seed;
        this.log = log == null ? m -> {} : log;
        for (PlanStep s : plan.steps()) {
            for (String m : s.active()) {
                if (models.stream().noneMatch(x -> x.name().equals(m))) {
                    throw new IllegalArgumentException("plan step " + s.step() + " activates '" + m + "', which is not loaded");
                }
            }
            if (s.useSecondaryModel() && secondary == null) {
                throw new IllegalArgumentException("plan step " + s.step() + " uses the secondary model, which is not loaded");
            }
        }
    }

    /**
     * The plan entry for a respaced index. Every executed index has one; DD's PLMS first step at index 0 calls
     * cond_fn at index -1 (wrapping to the last index), which no executed step covers: it reads the entry of the
     * last executed step then.
     */
    PlanStep entry(int index) {
        PlanStep s = byIndex.get(index);
        return s != null ? s : plan.step(plan.size() - 1);
    }

    /** The executed step number at a respaced index (that of the last step when no executed step has it). */
    public int stepOf(int index) {
        return entry(index).step();
    }

    @Override
    public boolean usesPrimaryDenoiser(int scheduleIndex) {
        return !entry(scheduleIndex).useSecondaryModel();
    }



    @Override
    public GuidanceResult guide(GuidanceCall call) {
        PlanStep sched = entry(call.scheduleIndex());
        PlanStep here = entry(call.denoiseIndex());
        int curT = call.denoiseIndex();
        Tensor x = call.x().detach();
        boolean useSecondary = here.useSecondaryModel();
        Denoiser d = useSecondary ? secondary : primary;
        Denoiser.Evaluation ev = !useSecondary && call.primary() != null ? call.primary() : d.evaluate(x, curT, true);
        try {
            return guideWith(call, sched, curT, x, ev);
        } finally {
            if (ev != call.primary()) ev.close();
        }
    }

    /** A logged loss value whose number is still on the device, at {@code index} of the call's readback. */
    private record PendingLoss(int step, int call, String model, int cutnBatch, int index) {}

    private GuidanceResult guideWith(GuidanceCall call, PlanStep sched, int curT, Tensor x, Denoiser.Evaluation ev) {
        Tensor pred = ev.predXstart();
        double facD = alphas.sqrtOneMinusAlphaBar(curT);
        Tensor xIn = pred.mul(f(facD)).add(x.mul(f(1 - facD)));
        long n = x.size(0);
        // what the call logs stays on the device until the one read at its end
        StepReadback readback = new StepReadback();
        List<PendingLoss> pending = new ArrayList<>();
        Tensor image01 = xIn.add(s(1)).div(s(2));
        int cutnBatches = sched.cutnBatches();
        // the step's CLIP calls (one per model and group of cutn batches), independent until their gradients are
        // summed: in model order, then batch order, on the workers when there are any
        List<Supplier<Tensor[]>> jobs = new ArrayList<>();
        List<int[]> jobOf = new ArrayList<>(); // {model index, first batch, batches, group of the model's batches}
        for (int mi = 0; mi < models.size(); mi++) {
            Model m = models.get(mi);
            if (!sched.active().contains(m.name())) continue;
            // DiscoArt's v1 prompts: this step's prompts (rows of the embeddings) and their normalised weights
            disco.plan.PromptWeights pw = sched.promptsOf(m.name());
            Tensor targets = m.targetEmbeds(), weights = m.weights();
            if (pw != null) {
                Tensor ids = disco.torch.Tensors.fromLongs(pw.idArray(), pw.ids().size())
                        .to(targets.device(), torch.ScalarType.Long);
                targets = targets.index_select(0, ids);
                weights = disco.torch.Tensors.fromFloats(pw.weightArray(), pw.ids().size())
                        .to(targets.device(), torch.ScalarType.Float);
            } else if (weights == null) {
                throw new IllegalStateException("step " + sched.step() + ": no prompt weights for " + m.name());
            }
            Tensor t = targets, w = weights;
            int group = 0;
            for (int b0 = 0; b0 < cutnBatches; b0 += Math.min(cutnBatchesPerCall, cutnBatches - b0)) {
                int first = b0, nb = Math.min(cutnBatchesPerCall, cutnBatches - b0);
                jobs.add(() -> clipBatches(call, sched, m, t, w, image01, n, first, nb));
                jobOf.add(new int[] {mi, first, nb, group++});
            }
        }
        List<Tensor[]> done;
        if (workers != null && jobs.size() > 1) {
            // handed to the workers group by group, each group's models in turn, so that the calls running at once
            // are mostly of different models (two of the largest model at once held the most memory); the results
            // come back in the jobs' order
            List<Integer> order = new ArrayList<>();
            for (int j = 0; j < jobs.size(); j++) order.add(j);
            order.sort(java.util.Comparator.<Integer>comparingInt(j -> jobOf.get(j)[3]).thenComparingInt(j -> jobOf.get(j)[0]));
            List<Supplier<Tensor[]>> submitted = new ArrayList<>(jobs.size());
            for (int j : order) submitted.add(jobs.get(j));
            List<Tensor[]> back = workers.run(submitted);
            Tensor[][] byJob = new Tensor[jobs.size()][];
            for (int k = 0; k < order.size(); k++) byJob[order.get(k)] = back.get(k);
            done = java.util.Arrays.asList(byJob);
        } else {
            done = new ArrayList<>(jobs.size());
            for (Supplier<Tensor[]> j : jobs) done.add(j.get());
        }
        Tensor[] sums = new Tensor[models.size()];
        for (int j = 0; j < done.size(); j++) {
            int[] at = jobOf.get(j);
            Tensor[] r = done.get(j);
            Model m = models.get(at[0]);
            for (int i = 0; i < at[2]; i++) {
                pending.add(new PendingLoss(call.step(), call.call(), m.name(), at[1] + i, readback.add(r[1 + i])));
            }
            sums[at[0]] = sums[at[0]] == null ? r[0] : sums[at[0]].add(r[0]);
        }
        List<Tensor> modelGrads = java.util.Arrays.asList(sums);
        Tensor initGrad = null;
        if (call.init() != null && sched.initScale() != 0) { // DD: if init is not None and init_scale
            if (initLoss == null) {
                throw new IllegalStateException("step " + call.step() + ": init_scale " + sched.initScale()
                        + " with an init image, but no LPIPS network was loaded");
            }
            initGrad = initLoss.gradient(xIn, call.init(), sched.initScale());
        }
        LossKernels.XInGrad xg = losses.xInGrad(xIn, pred, modelGrads, sched.clipGuidanceScale(), cutnBatches,
                sched.tvScale(), sched.satScale(), initGrad);
        int flagsAt = readback.add(xg.nanFlags());
        // DD's NaN guard has zeroed x_in_grad on the device; the pull-back and the clamp of a zero gradient give
        // zero, and once the flags are read a guarded call returns zeros as DD does (the pull-back's work is then
        // wasted: the price of not waiting for the device in the middle of the call)
        Tensor xInGrad = xg.grad();
        // grad = -autograd.grad(x_in, x, x_in_grad): x_in = pred * fac + x * (1 - fac)
        Tensor viaPred = ev.backwardPredXstart(xInGrad.mul(f(facD)));
        Tensor grad = viaPred.add(xInGrad.mul(f(1 - facD))).neg();
        int rmsAt;
        if (sched.clampGrad()) {
            LossKernels.Clamped c = losses.rmsClamp(grad, sched.clampMax());
            grad = c.grad();
            rmsAt = readback.add(c.rms());
        } else {
            rmsAt = readback.add(grad.square().mean().sqrt());
        }
        float[] v = readback.read(); // the call's one host read
        List<GuidanceResult.LossValue> values = new ArrayList<>(pending.size());
        for (PendingLoss p : pending) {
            values.add(new GuidanceResult.LossValue(p.step(), p.call(), p.model(), p.cutnBatch(), v[p.index()]));
        }
        if (v[flagsAt + models.size()] != 0) {
            List<String> who = new ArrayList<>();
            for (int k = 0; k < models.size(); k++) if (v[flagsAt + k] != 0) who.add(models.get(k).name());
            log.accept("step " + call.step() + " (t index " + call.scheduleIndex() + "): NaN in the guidance gradient"
                    + " from " + (who.isEmpty() ? initGrad != null ? "the tv/sat/init terms" : "the tv/sat terms"
                    : String.join(", ", who))
                    + "; gradient zeroed as DD does");
            return new GuidanceResult(torch.zeros_like(x), values, true, Double.NaN, 0.0);
        }
        double r = v[rmsAt];
        return new GuidanceResult(grad, values, false, r, sched.clampGrad() ? Math.min(r, sched.clampMax()) : r);
    }

    /**
     * Cutn batches {@code b0 .. b0 + nb - 1} of model {@code m}: cutouts drawn per batch, one encoder call over all
     * their cutouts, each batch's loss as DD computes it, one pull-back through the encoder, then each batch's cutout
     * adjoint. Returns {@code d losses.sum() / d x_in} summed over these batches, then each batch's loss sum (still
     * on the device). Reads only its arguments, so calls for other models and batches may run at the same time.
     */
    private Tensor[] clipBatches(GuidanceCall call, PlanStep sched, Model m, Tensor targets, Tensor weights,
                                 Tensor image01, long n, int b0, int nb) {
        List<CutoutStage.Cuts> cutsList = new ArrayList<>(nb);
        org.bytedeco.pytorch.TensorVector ins = new org.bytedeco.pytorch.TensorVector();
        for (int b = b0; b < b0 + nb; b++) {
            RandomStream rs = RandomStream.of(seed, call.batch(), call.step(), m.name(), "cutouts").derive(b);
            if (call.call() > 0) rs = rs.derive("call" + call.call());
            CutoutStage.Cuts cuts = cutouts.make(image01, sched, m.encoder().inputResolution(), rs);
            cutsList.add(cuts);
            ins.push_back(normalise(cuts.images()));
        }
        ImageEncoder.Encoded enc = m.encoder().encode(nb == 1 ? ins.get(0) : torch.cat(ins, 0));
        Tensor embAll = enc.embeddings();
        Tensor[] out = new Tensor[1 + nb];
        org.bytedeco.pytorch.TensorVector gEmbs = new org.bytedeco.pytorch.TensorVector();
        long off = 0;
        for (int i = 0; i < nb; i++) {
            long k = cutsList.get(i).images().size(0);
            Tensor emb = nb == 1 ? embAll : embAll.narrow(0, off, k);
            off += k;
            LossKernels.ClipTerm term = losses.clipLoss(emb, targets, weights, n);
            out[1 + i] = term.lossSum();
            gEmbs.push_back(term.gradEmbeds());
        }
        Tensor gClipIn = enc.backward(nb == 1 ? gEmbs.get(0) : torch.cat(gEmbs, 0));
        Tensor sum = null;
        off = 0;
        for (int i = 0; i < nb; i++) {
            CutoutStage.Cuts cuts = cutsList.get(i);
            long k = cuts.images().size(0);
            Tensor g = nb == 1 ? gClipIn : gClipIn.narrow(0, off, k);
            off += k;
            Tensor gXIn = cuts.backward(normaliseBackward(g)).div(s(2)); // image01 = (x_in + 1) / 2
            sum = sum == null ? gXIn : sum.add(gXIn);
        }
        out[0] = sum;
        return out;
    }

    private static Tensor channelConst(float[] v, Tensor like) {
        return disco.torch.Tensors.fromFloats(v, 1, 3, 1, 1).to(like.device(), torch.ScalarType.Float);
    }

    /** torchvision's Normalize with CLIP's mean and std. */
    static Tensor normalise(Tensor cuts) {
        return cuts.sub(channelConst(CLIP_MEAN, cuts)).div(channelConst(CLIP_STD, cuts));
    }

    /** The VJP of {@link #normalise}. */
    static Tensor normaliseBackward(Tensor g) {
        return g.div(channelConst(CLIP_STD, g));
    }
}
