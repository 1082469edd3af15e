package disco.sampling;

import disco.torch.Tensors;
import disco.torch.TorchWorkers;
import disco.util.DiscoException;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;

import java.util.ArrayList;
import java.util.List;

import static disco.torch.Scalars.f;

/**
 * DD's generation loop, one executed step at a time: DDIM with eta and PLMS (DD's fork of guided-diffusion,
 * {@code ddim_sample} / {@code plms_sample} with {@code cond_fn} through {@code condition_score}), {@code skip_steps},
 * {@code clip_denoised}, and DD's symmetry transformation. The float32 arithmetic follows guided-diffusion's
 * operation order (schedule values cast to float32, eps re-derived from pred_xstart) so results match DD's.
 *
 * <p>Driving it: {@code s = start(...)}; then while {@code !done(s)}: {@code out = step(s)}; use {@code out}; close
 * {@code s} (unless forking) and continue from {@code out.state()}. Every cross-step value lives in the
 * {@link SamplerState}; the sampler itself is immutable. Each step runs in one {@link PointerScope}, so native memory
 * does not grow across steps.
 *
 * <p>Executed step {@code j} (0-based) runs at respaced index {@code stepsToRun() - 1 - j}, DD's {@code cur_t}.
 */
public final class Sampler {
    private final SamplerConfig cfg;
    private final Denoiser denoiser;
    private final Guidance guidance;
    private final NoiseSource noise;
    private final int batch;
    private final SpacedAlphas a;
    private final TorchWorkers workers;

    /**
     * @param denoiser the primary denoiser (the UNet) the update uses
     * @param guidance DD's cond_fn, or null for unguided sampling
     * @param noise where x_T and DDIM's step noise come from
     * @param batch batch number (of n_batches), passed to the guidance for its random keys
     */
    public Sampler(SamplerConfig cfg, Denoiser denoiser, Guidance guidance, NoiseSource noise, int batch) {
        this(cfg, denoiser, guidance, noise, batch, null);
    }

    /**
     * @param workers where the denoiser's forward runs while the guidance runs, at a call whose guidance does not
     *     reuse that forward (DD's secondary-model steps, PLMS's first calls): the two only read {@code x}, so they
     *     may run at the same time; null: one after the other. The same numbers either way, up to the rounding of
     *     the forward's intra-op thread count
     */
    public Sampler(SamplerConfig cfg, Denoiser denoiser, Guidance guidance, NoiseSource noise, int batch,
                   TorchWorkers workers) {
        this.workers = workers;
        this.cfg = cfg;
        this.denoiser = denoiser;
        this.guidance = guidance;
        this.noise = noise;
        this.batch = batch;
        this.a = denoiser.alphas();
        if (cfg.skipSteps() >= a.size()) {
            throw DiscoException.badInput("settings: skip_steps: expected less than steps (" + a.size() + "), got "
                    + cfg.skipSteps());
        }
    }

    public SamplerConfig config() {
        return cfg;
    }

    /** Number of executed steps: {@code steps - skip_steps}. */
    public int stepsToRun() {
        return a.size() - cfg.skipSteps();
    }

    /** Respaced index of executed step {@code step}. */
    public int indexOf(int step) {
        return stepsToRun() - 1 - step;
    }

    public boolean done(SamplerState s) {
        return s.stepsDone() >= stepsToRun();
    }

    /** {@link #start(Tensor, Tensor)} with x_T drawn from the noise source (on the init image's device, else the CPU). */
    public SamplerState start(long[] shape, Tensor init) {
        return start(shape, init, init != null ? init.device() : null);
    }

    /** {@link #start(Tensor, Tensor)} with x_T drawn from the noise source and moved to {@code device} (null: CPU). */
    public SamplerState start(long[] shape, Tensor init, org.bytedeco.pytorch.Device device) {
        try (PointerScope scope = new PointerScope()) {
            Tensor xT = noise.initialNoise(shape);
            if (device != null) xT = xT.to(device, torch.ScalarType.Float);
            return startIn(xT, init);
        }
    }

    /**
     * The state before the first executed step. As DD: when {@code skip_steps > 0} or an init image is given,
     * {@code x = q_sample(init or 0, t0, x_T)}; otherwise {@code x = x_T}.
     *
     * @param xT starting noise [N, 3, H, W]
     * @param init init image in [-1, 1] of the same shape, or null
     */
    public SamplerState start(Tensor xT, Tensor init) {
        try (PointerScope scope = new PointerScope()) {
            return startIn(xT, init);
        }
    }

    private SamplerState startIn(Tensor xT, Tensor init) {
        long[] shape = Tensors.shape(xT);
        if (shape.length != 4) throw new IllegalArgumentException("x_T must be [N, C, H, W]");
        if (cfg.symmetry().active()) {
            if (cfg.symmetry().horizontal() && shape[3] % 2 != 0) {
                throw DiscoException.badInput("settings: width_height: expected an even width for horizontal symmetry, got " + shape[3]);
            }
            if (cfg.symmetry().vertical() && shape[2] % 2 != 0) {
                throw DiscoException.badInput("settings: width_height: expected an even height for vertical symmetry, got " + shape[2]);
            }
        }
        int i0 = indexOf(0);
        Tensor x;
        if (init != null || cfg.skipSteps() > 0) {
            Tensor x0 = init != null ? init : torch.zeros_like(xT);
            if (!java.util.Arrays.equals(Tensors.shape(x0), shape)) {
                throw DiscoException.badInput("init image: expected shape " + java.util.Arrays.toString(shape)
                        + ", got " + java.util.Arrays.toString(Tensors.shape(x0)));
            }
            // q_sample: sqrt(ab) * x0 + sqrt(1 - ab) * noise
            x = x0.mul(f(a.sqrtAlphaBar(i0))).add(xT.mul(f(a.sqrtOneMinusAlphaBar(i0))));
        } else {
            x = xT.clone();
        }
        return new SamplerState(0, x, List.of(), init);
    }

    /** Runs the next executed step from {@code s} (which stays open). */
    public StepOutput step(SamplerState s) {
        int j = s.stepsDone();
        if (j >= stepsToRun()) throw new IllegalStateException("all " + stepsToRun() + " steps have run");
        int i = indexOf(j);
        try (PointerScope scope = new PointerScope()) {
            Tensor x = s.x();
            boolean sym = cfg.symmetry().appliesBefore(i, stepsToRun());
            if (sym) x = symmetrize(x, cfg.symmetry());
            List<GuidanceResult> gs = new ArrayList<>();
            Tensor sample;
            Tensor predShown;
            List<Tensor> oldEps;
            if (cfg.method() == SamplerConfig.Method.DDIM) {
                ModelOut mo = modelOutput(x, i, i, j, 0, gs, i, s.init());
                float ab = (float) a.alphaBar(i);
                float abp = (float) a.alphaBarPrev(i);
                float sigma = (float) cfg.eta() * (float) Math.sqrt((1f - abp) / (1f - ab)) * (float) Math.sqrt(1f - ab / abp);
                Tensor mean = mo.pred.mul(f(Math.sqrt(abp))).add(mo.eps.mul(f(Math.sqrt(1f - abp - sigma * sigma))));
                if (i != 0) {
                    Tensor z = noise.stepNoise(j, Tensors.shape(x)).to(x.device(), torch.ScalarType.Float);
                    sample = mean.add(z.mul(f(sigma)));
                } else {
                    sample = mean;
                }
                predShown = mo.predOrig;
                oldEps = List.of();
            } else {
                ModelOut mo = modelOutput(x, i, i, j, 0, gs, i, s.init());
                float abp = (float) a.alphaBarPrev(i);
                Tensor meanPred;
                List<Tensor> old;
                if (cfg.plmsOrder() > 1 && j == 0) {
                    // DD's pseudo improved-Euler first step: the second cond_fn call is at t - 1 while DD's
                    // cond_fn still denoises at cur_t (= i).
                    Tensor m1 = mo.pred.mul(f(Math.sqrt(abp))).add(mo.eps.mul(f(Math.sqrt(1f - abp))));
                    int prev = i - 1 < 0 ? a.size() - 1 : i - 1;
                    ModelOut mo2 = modelOutput(m1, prev, prev, j, 1, gs, i, s.init());
                    Tensor epsPrime = mo.eps.add(mo2.eps).div(s(2));
                    Tensor predPrime = xstartFromEps(x, i, epsPrime);
                    meanPred = predPrime.mul(f(Math.sqrt(abp))).add(epsPrime.mul(f(Math.sqrt(1f - abp))));
                    old = new ArrayList<>(List.of(mo.eps));
                } else {
                    old = new ArrayList<>(s.oldEps());
                    old.add(mo.eps);
                    int order = Math.min(cfg.plmsOrder(), old.size());
                    Tensor e1 = old.get(old.size() - 1);
                    Tensor epsPrime = switch (order) {
                        case 1 -> e1;
                        case 2 -> e1.mul(s(3)).sub(old.get(old.size() - 2)).div(s(2));
                        case 3 -> e1.mul(s(23)).sub(old.get(old.size() - 2).mul(s(16)))
                                .add(old.get(old.size() - 3).mul(s(5))).div(s(12));
                        default -> e1.mul(s(55)).sub(old.get(old.size() - 2).mul(s(59)))
                                .add(old.get(old.size() - 3).mul(s(37))).sub(old.get(old.size() - 4).mul(s(9)))
                                .div(s(24));
                    };
                    Tensor predPrime = xstartFromEps(x, i, epsPrime);
                    meanPred = predPrime.mul(f(Math.sqrt(abp))).add(epsPrime.mul(f(Math.sqrt(1f - abp))));
                }
                if (old.size() >= cfg.plmsOrder()) old.remove(0);
                sample = i != 0 ? meanPred : mo.pred;
                predShown = mo.predOrig;
                oldEps = old;
            }
            boolean finite = Tensors.allFinite(sample);
            SamplerState next = new SamplerState(j + 1, sample, oldEps, s.init());
            predShown.retainReference();
            return new StepOutput(j, i, next, predShown, List.copyOf(gs), sym, finite);
        }
    }

    private static org.bytedeco.pytorch.Scalar s(double v) {
        return new org.bytedeco.pytorch.Scalar(v);
    }

    /** What guided-diffusion's {@code get_model_output} gives: guided eps and pred_xstart, and the unguided one. */
    private record ModelOut(Tensor eps, Tensor pred, Tensor predOrig) {}

    /**
     * p_mean_variance at ({@code x}, {@code index}), then condition_score with a cond_fn call that denoises at
     * {@code denoiseIndex} and is scheduled at {@code scheduleIndex}.
     */
    private ModelOut modelOutput(Tensor x, int index, int scheduleIndex, int step, int call, List<GuidanceResult> gs,
                                 int denoiseIndex, Tensor init) {
        boolean reuse = guidance != null && denoiseIndex == index && guidance.usesPrimaryDenoiser(scheduleIndex);
        GuidanceCall gc = guidance == null ? null : new GuidanceCall(x, denoiseIndex, scheduleIndex, null, batch, step, call, init);
        if (guidance != null && !reuse && workers != null) {
            // the forward on a worker while the guidance (its own denoiser and CLIP calls) runs here
            TorchWorkers.Pending fwd = workers.start(() -> {
                try (Denoiser.Evaluation ev = denoiser.evaluate(x, index, false)) {
                    return new Tensor[] {new Tensor(ev.predXstart())}; // a handle of its own: ev closes first
                }
            });
            GuidanceResult g;
            try {
                g = guidance.guide(gc);
            } catch (RuntimeException e) {
                try {
                    fwd.get();
                } catch (RuntimeException ignored) {
                    // the guidance's failure is the one reported
                }
                throw e;
            }
            return guided(x, index, clipped(fwd.get()[0]), g, gs);
        }
        try (Denoiser.Evaluation ev = denoiser.evaluate(x, index, reuse)) {
            Tensor predOrig = clipped(ev.predXstart());
            if (guidance == null) return new ModelOut(epsFromXstart(x, index, predOrig), predOrig, predOrig);
            GuidanceResult g = guidance.guide(reuse ? gc.withPrimary(ev) : gc);
            return guided(x, index, predOrig, g, gs);
        }
    }

    private Tensor clipped(Tensor predOrig) {
        return cfg.clipDenoised() ? predOrig.clamp(new org.bytedeco.pytorch.ScalarOptional(s(-1)),
                new org.bytedeco.pytorch.ScalarOptional(s(1))) : predOrig;
    }

    /** condition_score: eps = eps(pred) - sqrt(1 - ab) * grad; pred = xstart(eps). */
    private ModelOut guided(Tensor x, int index, Tensor predOrig, GuidanceResult g, List<GuidanceResult> gs) {
        float ab = (float) a.alphaBar(index);
        Tensor eps = epsFromXstart(x, index, predOrig).sub(g.grad().mul(f(Math.sqrt(1f - ab))));
        Tensor pred = xstartFromEps(x, index, eps);
        gs.add(g.withoutGrad());
        return new ModelOut(epsFromXstart(x, index, pred), pred, predOrig);
    }

    /** guided-diffusion's {@code _predict_eps_from_xstart}: {@code (sqrt(1/ab) * x - pred) / sqrt(1/ab - 1)}. */
    Tensor epsFromXstart(Tensor x, int i, Tensor pred) {
        return x.mul(f(a.sqrtRecipAlphaBar(i))).sub(pred).div(f(a.sqrtRecipM1AlphaBar(i)));
    }

    /** guided-diffusion's {@code _predict_xstart_from_eps}: {@code sqrt(1/ab) * x - sqrt(1/ab - 1) * eps}. */
    Tensor xstartFromEps(Tensor x, int i, Tensor eps) {
        return x.mul(f(a.sqrtRecipAlphaBar(i))).sub(eps.mul(f(a.sqrtRecipM1AlphaBar(i))));
    }

    /** DD's symmetry_transformation_fn: left half mirrored to the right, then top half mirrored to the bottom. */
    public static Tensor symmetrize(Tensor x, Symmetry sym) {
        if (sym.horizontal()) {
            long w = x.size(3);
            Tensor left = x.narrow(3, 0, w / 2);
            x = torch.cat(new TensorVector(left, left.flip(3)), 3);
        }
        if (sym.vertical()) {
            long h = x.size(2);
            Tensor top = x.narrow(2, 0, h / 2);
            x = torch.cat(new TensorVector(top, top.flip(2)), 2);
        }
        return x;
    }
}
