package disco.guidance;

import disco.plan.DiffusionSchedule;
import disco.plan.StepPlan;
import disco.sampling.EpsDenoiser;
import disco.sampling.GuidanceCall;
import disco.sampling.GuidanceResult;
import disco.sampling.NoiseSource;
import disco.sampling.SpacedAlphas;
import disco.torch.Tensors;
import disco.sampling.XStartDenoiser;
import disco.settings.Scheduled;
import disco.torch.Torch;
import org.bytedeco.pytorch.AutoGradMode;
import org.bytedeco.pytorch.ScalarOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

import static disco.torch.Scalars.s;
import static org.junit.jupiter.api.Assertions.*;

/**
 * ClipGuidance (explicit backward through every stage) against DD's cond_fn transcribed with autograd end to end,
 * on small differentiable fakes: a tanh eps model, a flip "cutout" stage, linear image encoders.
 */
class ClipGuidanceTest {
    static final int N = 2, H = 8, W = 8, D = 5;

    @BeforeAll
    static void init() {
        Torch.init();
    }

    static Tensor randn(long seed, long... shape) {
        return NoiseSource.random(seed, 0).initialNoise(shape);
    }

    /** Fake overview cutouts: [image, hflip(image)] cut-major, with its adjoint. */
    static final class FlipCutouts implements CutoutStage {
        static Tensor forward(Tensor img) {
            return torch.cat(new TensorVector(img, img.flip(3)), 0);
        }

        @Override
        public Cuts make(Tensor image01, disco.plan.PlanStep step, int cutSize, disco.util.RandomStream random) {
            assertEquals(2, step.overview());
            Tensor out = forward(image01);
            long n = image01.size(0);
            return new Cuts() {
                public Tensor images() {
                    return out;
                }

                public int cutsPerImage() {
                    return 2;
                }

                public Tensor backward(Tensor g) {
                    return g.narrow(0, 0, n).add(g.narrow(0, n, n).flip(3));
                }
            };
        }
    }

    static Tensor net(Tensor x, Tensor ts) {
        return x.mul(ts.mul(s(0.001)).add(s(0.5)).view(-1, 1, 1, 1)).tanh().mul(s(1.3));
    }

    static Tensor secondaryNet(Tensor x, Tensor ct) {
        return x.mul(ct.view(-1, 1, 1, 1)).sin();
    }

    record Setup(StepPlan plan, SpacedAlphas alphas, List<ClipGuidance.Model> models, List<Tensor> weights) {}

    static Setup setup(String useSecondary, boolean clamp) {
        DiffusionSchedule sched = DiffusionSchedule.create(1000, 10, "ddim10");
        Map<Scheduled, String> sc = new EnumMap<>(Scheduled.class);
        sc.put(Scheduled.CUT_OVERVIEW, "[2]*1000");
        sc.put(Scheduled.CUT_INNERCUT, "[0]*1000");
        sc.put(Scheduled.CUTN_BATCHES, "2");
        sc.put(Scheduled.CLIP_GUIDANCE_SCALE, "5000");
        sc.put(Scheduled.TV_SCALE, "100");
        sc.put(Scheduled.RANGE_SCALE, "150");
        sc.put(Scheduled.SAT_SCALE, "50");
        sc.put(Scheduled.CLAMP_GRAD, clamp ? "True" : "False");
        sc.put(Scheduled.CLAMP_MAX, "0.05");
        sc.put(Scheduled.USE_SECONDARY_MODEL, useSecondary);
        StepPlan plan = StepPlan.build(sched, 2, List.of("A", "B"), Map.of("A", "[True]*500+[False]*500",
                "B", "[False]*300+[True]*700"), sc);
        List<ClipGuidance.Model> models = new ArrayList<>();
        List<Tensor> ws = new ArrayList<>();
        for (int k = 0; k < 2; k++) {
            Tensor proj = randn(100 + k, 3 * H * W, D).mul(s(0.05));
            Tensor target = randn(200 + k, 3, D);
            Tensor w = Tensors.fromFloats(new float[] {2f / 2.5f, 1f / 2.5f, -0.5f / 2.5f}, 3);
            ws.add(proj);
            models.add(new ClipGuidance.Model(k == 0 ? "A" : "B", ImageEncoder.of(H, t -> t.flatten(1, -1).matmul(proj)),
                    target, w));
        }
        return new Setup(plan, SpacedAlphas.of(sched), models, ws);
    }

    static Tensor clamp1(Tensor x) {
        return x.clamp(new ScalarOptional(s(-1)), new ScalarOptional(s(1)));
    }

    /** DD's cond_fn, written with autograd through everything. */
    static Tensor reference(Setup st, Tensor x0, int curT, int schedIndex, boolean secondary, boolean clamp,
                            List<Double> lossesOut) {
        disco.plan.PlanStep p = st.plan.steps().stream().filter(e -> e.index() == schedIndex).findFirst().orElseThrow();
        SpacedAlphas a = st.alphas;
        try (AutoGradMode on = new AutoGradMode(true)) {
            Tensor x = x0.detach().requires_grad_(true);
            Tensor pred;
            if (secondary) {
                Tensor ct = torch.full(new long[] {N}, s(a.cosineTime(curT)));
                pred = secondaryNet(x, ct);
            } else {
                Tensor ts = torch.full(new long[] {N}, s(a.modelTime(curT)));
                Tensor eps = net(x, ts);
                pred = x.mul(s((float) a.sqrtRecipAlphaBar(curT))).sub(eps.mul(s((float) a.sqrtRecipM1AlphaBar(curT))));
            }
            double fac = a.sqrtOneMinusAlphaBar(curT);
            Tensor xIn = pred.mul(s((float) fac)).add(x.mul(s((float) (1 - fac))));
            Tensor xInGrad = torch.zeros_like(xIn);
            for (ClipGuidance.Model m : st.models) {
                if (!p.active().contains(m.name())) continue;
                for (int b = 0; b < p.cutnBatches(); b++) {
                    Tensor cuts = FlipCutouts.forward(xIn.add(s(1)).div(s(2)));
                    Tensor clipIn = ClipGuidance.normalise(cuts);
                    Tensor emb = clipIn.flatten(1, -1).matmul(st.weights.get(st.models.indexOf(m)));
                    Tensor xn = emb.div(emb.square().sum(new long[] {-1}, true, null).sqrt()).unsqueeze(1);
                    Tensor y = m.targetEmbeds();
                    Tensor yn = y.div(y.square().sum(new long[] {-1}, true, null).sqrt()).unsqueeze(0);
                    Tensor dists = xn.sub(yn).square().sum(new long[] {-1}, false, null).sqrt().div(s(2)).arcsin()
                            .pow(s(2)).mul(s(2));
                    Tensor losses = dists.view(2, N, -1).mul(m.weights()).sum(new long[] {2}, false, null)
                            .mean(new long[] {0}, false, null);
                    lossesOut.add(losses.sum().item_double());
                    Tensor g = torch.grad(new TensorVector(losses.sum().mul(s(p.clipGuidanceScale()))),
                            new TensorVector(xIn), new TensorVector(), new org.bytedeco.pytorch.BoolOptional(true), false, false).get(0);
                    xInGrad = xInGrad.add(g.div(s(p.cutnBatches())));
                }
            }
            Tensor padded = torch.cat(new TensorVector(xIn, xIn.narrow(3, W - 1, 1)), 3);
            padded = torch.cat(new TensorVector(padded, padded.narrow(2, H - 1, 1)), 2);
            Tensor xd = padded.narrow(2, 0, H).narrow(3, 1, W).sub(padded.narrow(2, 0, H).narrow(3, 0, W));
            Tensor yd = padded.narrow(2, 1, H).narrow(3, 0, W).sub(padded.narrow(2, 0, H).narrow(3, 0, W));
            Tensor tv = xd.square().add(yd.square()).mean(new long[] {1, 2, 3}, false, null);
            Tensor range = pred.sub(clamp1(pred)).square().mean(new long[] {1, 2, 3}, false, null);
            Tensor sat = xIn.sub(clamp1(xIn)).abs().mean();
            Tensor loss = tv.sum().mul(s(p.tvScale())).add(range.sum().mul(s(p.rangeScale()))).add(sat.mul(s(p.satScale())));
            xInGrad = xInGrad.add(torch.grad(new TensorVector(loss), new TensorVector(xIn), new TensorVector(),
                    new org.bytedeco.pytorch.BoolOptional(true), false, false).get(0));
            Tensor grad = torch.grad(new TensorVector(xIn), new TensorVector(x), new TensorVector(xInGrad),
                    new org.bytedeco.pytorch.BoolOptional(true), false, false).get(0).neg();
            if (clamp) {
                Tensor mag = grad.square().mean().sqrt();
                grad = grad.mul(mag.clamp_max(s(p.clampMax()))).div(mag);
            }
            return grad.detach();
        }
    }

    static double maxRel(Tensor ours, Tensor ref) {
        float[] o = Tensors.toFloats(ours), r = Tensors.toFloats(ref);
        double num = 0, den = 0;
        for (int k = 0; k < r.length; k++) {
            num = Math.max(num, Math.abs(o[k] - r[k]));
            den = Math.max(den, Math.abs(r[k]));
        }
        return num / den;
    }

    void check(String useSecondary, boolean clamp, int curT, int schedIndex, boolean reusePrimary) {
        check(useSecondary, clamp, curT, schedIndex, reusePrimary, new TorchLossKernels());
        check(useSecondary, clamp, curT, schedIndex, reusePrimary, new NativeLossKernels());
    }

    void check(String useSecondary, boolean clamp, int curT, int schedIndex, boolean reusePrimary, LossKernels lk) {
        Setup st = setup(useSecondary, clamp);
        EpsDenoiser unet = new EpsDenoiser(ClipGuidanceTest::net, st.alphas);
        XStartDenoiser sec = new XStartDenoiser(ClipGuidanceTest::secondaryNet, st.alphas);
        List<String> logs = new ArrayList<>();
        ClipGuidance g = new ClipGuidance(st.plan, unet, sec, st.models, new FlipCutouts(), lk, 1, logs::add);
        Tensor x = randn(9, N, 3, H, W).mul(s(1.5));
        boolean secondary = useSecondary.equals("True");
        assertEquals(!secondary, g.usesPrimaryDenoiser(schedIndex));
        var ev = reusePrimary ? unet.evaluate(x, curT, true) : null;
        GuidanceResult r = g.guide(new GuidanceCall(x, curT, schedIndex, ev, 0, 3, 0));
        List<Double> refLosses = new ArrayList<>();
        Tensor ref = reference(st, x, curT, schedIndex, secondary, clamp, refLosses);
        double err = maxRel(r.grad(), ref);
        assertTrue(err < 1e-5, lk.getClass().getSimpleName() + ": grad max rel err " + err);
        assertEquals(refLosses.size(), r.losses().size());
        for (int k = 0; k < refLosses.size(); k++) assertEquals(refLosses.get(k), r.losses().get(k).value(), 1e-5);
        assertFalse(r.nanGuarded());
        if (clamp) assertEquals(0.05, r.rmsAfter(), 1e-4);
        if (ev != null) assertFalse(ev.hasGrad(), "the reused forward was pulled back");
    }

    @Test
    void unetPathMatchesAutogradCondFnWithBothModelsActive() {
        check("False", true, 6, 6, true); // index 6: t=600, schedule 399: A and B on
    }

    @Test
    void unetPathEvaluatesItselfWithoutReuseAndWithoutClamp() {
        check("False", false, 7, 7, false); // index 7: only A
    }

    @Test
    void secondaryPathMatchesAutograd() {
        check("True", true, 4, 4, false); // index 4: only B
    }

    @Test
    void plmsSecondCallDenoisesAtCurTButSchedulesAtTheNextIndex() {
        check("False", true, 7, 6, false);
    }

    @Test
    void nanGradientIsZeroedAndLogged() {
        Setup st = setup("False", true);
        EpsDenoiser nanNet = new EpsDenoiser((x, ts) -> x.mul(s(Double.NaN)), st.alphas);
        List<String> logs = new ArrayList<>();
        ClipGuidance g = new ClipGuidance(st.plan, nanNet, null, st.models, new FlipCutouts(), new NativeLossKernels(), 1,
                logs::add);
        GuidanceResult r = g.guide(new GuidanceCall(randn(3, N, 3, H, W), 6, 6, null, 0, 1, 0));
        assertTrue(r.nanGuarded());
        assertEquals(1, logs.size());
        assertTrue(logs.get(0).contains("step 1"), logs.get(0));
        for (float v : Tensors.toFloats(r.grad())) assertEquals(0f, v);
    }

    @Test
    void rejectsAPlanNamingAnUnloadedModel() {
        Setup st = setup("False", true);
        EpsDenoiser unet = new EpsDenoiser(ClipGuidanceTest::net, st.alphas);
        assertThrows(IllegalArgumentException.class, () -> new ClipGuidance(st.plan, unet, null,
                st.models.subList(0, 1), new FlipCutouts(), new TorchLossKernels(), 1, null));
    }

    @Test
    void normaliseIsTorchvisionsNormalizeWithClipsConstantsAndItsBackwardIsTheVjp() {
        // OpenAI CLIP's constants, written out: (x - mean) / std per channel
        double[] mean = {0.48145466, 0.4578275, 0.40821073}, std = {0.26862954, 0.26130258, 0.27577711};
        Tensor x = randn(5, 2, 3, 2, 2);
        float[] xv = Tensors.toFloats(x), n = Tensors.toFloats(ClipGuidance.normalise(x));
        for (int i = 0; i < xv.length; i++) {
            int c = (i / 4) % 3;
            assertEquals((xv[i] - mean[c]) / std[c], n[i], 1e-5);
        }
        Tensor g = randn(6, 2, 3, 2, 2);
        Tensor leaf = x.detach().requires_grad_(true);
        Tensor viaAutograd = Tensors.vjp(ClipGuidance.normalise(leaf), leaf, g);
        float[] want = Tensors.toFloats(viaAutograd), got = Tensors.toFloats(ClipGuidance.normaliseBackward(g));
        for (int i = 0; i < want.length; i++) assertEquals(want[i], got[i], 1e-6);
    }
}
