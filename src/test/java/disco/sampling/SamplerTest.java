package disco.sampling;

import disco.torch.Tensors;
import disco.torch.Torch;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The samplers against an independent float64 transcription of guided-diffusion's ddim_sample / plms_sample /
 * condition_score, on a linear fake eps model {@code eps = w(t) * x} and a fake guidance {@code grad = k * x}.
 */
class SamplerTest {
    static final long[] SHAPE = {2, 3, 4, 6};
    static final double K = 0.3; // fake guidance gradient factor

    @BeforeAll
    static void init() {
        Torch.init();
    }

    static double w(SpacedAlphas a, int i) {
        return 0.1 + 0.0005 * a.modelTime(i);
    }

    /** eps = w(t) x, with a learned-sigma second half that must be ignored. */
    static EpsDenoiser fakeUnet(SpacedAlphas a) {
        return new EpsDenoiser((x, ts) -> {
            Tensor wt = ts.mul(new Scalar(0.0005)).add(new Scalar(0.1)).view(-1, 1, 1, 1);
            Tensor eps = x.mul(wt);
            return torch.cat(new TensorVector(eps, torch.ones_like(x).mul(new Scalar(7))), 1);
        }, a);
    }

    /** Fake cond_fn: grad = K x; records its calls; checks the reused primary evaluation's VJP. */
    static final class FakeGuidance implements Guidance {
        final boolean primary;
        final SpacedAlphas a;
        final List<int[]> calls = new ArrayList<>();

        FakeGuidance(boolean primary, SpacedAlphas a) {
            this.primary = primary;
            this.a = a;
        }

        @Override
        public boolean usesPrimaryDenoiser(int scheduleIndex) {
            return primary;
        }

        @Override
        public GuidanceResult guide(GuidanceCall c) {
            calls.add(new int[] {c.denoiseIndex(), c.scheduleIndex(), c.step(), c.call(), c.primary() == null ? 0 : 1});
            if (c.primary() != null) {
                assertTrue(c.primary().hasGrad());
                assertEquals(c.denoiseIndex(), c.primary().index());
                // pred = (A - B w) x, so the VJP of ones is (A - B w)
                int i = c.denoiseIndex();
                double jac = a.sqrtRecipAlphaBar(i) - a.sqrtRecipM1AlphaBar(i) * w(a, i);
                float[] v = Tensors.toFloats(c.primary().backwardPredXstart(torch.ones_like(c.x())));
                for (float f : v) assertEquals(jac, f, 1e-5 * Math.abs(jac) + 1e-6);
                assertFalse(c.primary().hasGrad());
            }
            return new GuidanceResult(c.x().mul(new Scalar(K)), List.of(), false, 0, 0);
        }
    }

    /** Fixed noises so the float64 reference sees the same draws. */
    static final class Noises implements NoiseSource {
        final NoiseSource inner = NoiseSource.random(42, 0);
        final Map<Integer, float[]> drawn = new HashMap<>();

        @Override
        public Tensor stepNoise(int step, long[] shape) {
            Tensor t = inner.stepNoise(step, shape);
            drawn.put(step, Tensors.toFloats(t));
            return t;
        }

        @Override
        public Tensor initialNoise(long[] shape) {
            return inner.initialNoise(shape);
        }
    }

    static Tensor randomInit() {
        Tensor t = NoiseSource.random(7, 3).initialNoise(SHAPE);
        return t.mul(new Scalar(0.5)).clamp(new org.bytedeco.pytorch.ScalarOptional(new Scalar(-1)),
                new org.bytedeco.pytorch.ScalarOptional(new Scalar(1)));
    }

    // ---- float64 reference (transcribed from guided-diffusion, elementwise since the fake model is) ----

    static double[] ref(SamplerConfig cfg, SpacedAlphas a, double[] x, boolean guided, Noises noises, int steps) {
        int nRun = a.size() - cfg.skipSteps();
        double[] old = null;
        for (int j = 0; j < steps; j++) {
            int i = nRun - 1 - j;
            if (cfg.symmetry().appliesBefore(i, nRun)) x = symmetrizeRef(x, cfg.symmetry());
            double[][] mo = modelOut(cfg, a, x, i, guided);
            double[] eps = mo[0], pred = mo[1];
            double ab = a.alphaBar(i), abp = a.alphaBarPrev(i);
            double[] next = new double[x.length];
            if (cfg.method() == SamplerConfig.Method.DDIM) {
                double sigma = cfg.eta() * Math.sqrt((1 - abp) / (1 - ab)) * Math.sqrt(1 - ab / abp);
                float[] z = noises.drawn.get(j);
                for (int k = 0; k < x.length; k++) {
                    next[k] = pred[k] * Math.sqrt(abp) + Math.sqrt(1 - abp - sigma * sigma) * eps[k]
                            + (i != 0 ? sigma * z[k] : 0);
                }
            } else {
                double[] epsPrime = new double[x.length];
                if (j == 0) {
                    double[] m1 = new double[x.length];
                    for (int k = 0; k < x.length; k++) m1[k] = pred[k] * Math.sqrt(abp) + Math.sqrt(1 - abp) * eps[k];
                    double[] eps2 = modelOutMixed(cfg, a, m1, i - 1, i, guided);
                    for (int k = 0; k < x.length; k++) epsPrime[k] = (eps[k] + eps2[k]) / 2;
                } else {
                    for (int k = 0; k < x.length; k++) epsPrime[k] = (3 * eps[k] - old[k]) / 2;
                }
                old = eps;
                for (int k = 0; k < x.length; k++) {
                    double pp = a.sqrtRecipAlphaBar(i) * x[k] - a.sqrtRecipM1AlphaBar(i) * epsPrime[k];
                    double mp = pp * Math.sqrt(abp) + Math.sqrt(1 - abp) * epsPrime[k];
                    next[k] = i != 0 ? mp : pred[k];
                }
            }
            x = next;
        }
        return x;
    }

    static double[][] modelOut(SamplerConfig cfg, SpacedAlphas a, double[] x, int i, boolean guided) {
        double[] eps = modelOutMixed(cfg, a, x, i, i, guided);
        double[] pred = new double[x.length];
        for (int k = 0; k < x.length; k++) pred[k] = a.sqrtRecipAlphaBar(i) * x[k] - a.sqrtRecipM1AlphaBar(i) * eps[k];
        return new double[][] {eps, pred};
    }

    /** Guided eps of get_model_output at index i (the fake guidance ignores its denoise index). */
    static double[] modelOutMixed(SamplerConfig cfg, SpacedAlphas a, double[] x, int i, int curT, boolean guided) {
        double[] eps = new double[x.length];
        for (int k = 0; k < x.length; k++) {
            double p = a.sqrtRecipAlphaBar(i) * x[k] - a.sqrtRecipM1AlphaBar(i) * w(a, i) * x[k];
            if (cfg.clipDenoised()) p = Math.max(-1, Math.min(1, p));
            double e = (a.sqrtRecipAlphaBar(i) * x[k] - p) / a.sqrtRecipM1AlphaBar(i);
            if (guided) e -= Math.sqrt(1 - a.alphaBar(i)) * K * x[k];
            eps[k] = e;
        }
        return eps;
    }

    static double[] symmetrizeRef(double[] x, Symmetry s) {
        int n = (int) SHAPE[0], c = (int) SHAPE[1], h = (int) SHAPE[2], wd = (int) SHAPE[3];
        double[] y = x.clone();
        for (int b = 0; b < n * c; b++) {
            for (int r = 0; r < h; r++) {
                for (int q = 0; q < wd; q++) {
                    int rr = r, qq = q;
                    if (s.horizontal() && q >= wd / 2) qq = wd - 1 - q;
                    if (s.vertical() && r >= h / 2) rr = h - 1 - r;
                    y[(b * h + r) * wd + q] = x[(b * h + rr) * wd + qq];
                }
            }
        }
        return y;
    }

    static double[] toDoubles(Tensor t) {
        float[] f = Tensors.toFloats(t);
        double[] d = new double[f.length];
        for (int k = 0; k < f.length; k++) d[k] = f[k];
        return d;
    }

    static double maxRel(float[] ours, double[] ref) {
        double num = 0, den = 0;
        for (int k = 0; k < ref.length; k++) {
            num = Math.max(num, Math.abs(ours[k] - ref[k]));
            den = Math.max(den, Math.abs(ref[k]));
        }
        return num / den;
    }

    /** Runs the sampler to the end, checking every step's output is finite and well-formed. */
    static float[] run(Sampler s, SamplerState st) {
        while (!s.done(st)) {
            StepOutput out = s.step(st);
            assertTrue(out.finite());
            assertEquals(s.indexOf(out.step()), out.index());
            st.close();
            st = out.state();
            out.close();
        }
        float[] r = Tensors.toFloats(st.x());
        st.close();
        return r;
    }

    void check(SamplerConfig cfg, boolean guided, boolean primary, Tensor init) {
        SpacedAlphas a = SpacedAlphas.linearDdim(1000, 10);
        Noises noises = new Noises();
        FakeGuidance g = guided ? new FakeGuidance(primary, a) : null;
        Sampler s = new Sampler(cfg, fakeUnet(a), g, noises, 0);
        SamplerState st = s.start(SHAPE, init);
        double[] x0 = toDoubles(st.x());
        float[] ours = run(s, st);
        double[] ref = ref(cfg, a, x0, guided, noises, s.stepsToRun());
        double err = maxRel(ours, ref);
        assertTrue(err < 1e-5, "max rel err " + err);
        if (guided) {
            int extra = cfg.method() == SamplerConfig.Method.PLMS ? 1 : 0;
            assertEquals(s.stepsToRun() + extra, g.calls.size());
        }
    }

    @Test
    void ddimUnguidedMatchesReference() {
        check(SamplerConfig.ddim(0.8, 2, false), false, false, null);
    }

    @Test
    void ddimGuidedReusesPrimaryEvaluation() {
        check(SamplerConfig.ddim(0.8, 3, false), true, true, null);
    }

    @Test
    void ddimGuidedWithoutPrimaryAndClipDenoised() {
        check(SamplerConfig.ddim(0.5, 0, true), true, false, null);
    }

    @Test
    void ddimFromInitImage() {
        check(SamplerConfig.ddim(0.8, 4, false), true, true, randomInit());
    }

    @Test
    void plmsGuidedMatchesReference() {
        check(SamplerConfig.plms(2, false), true, true, null);
    }

    @Test
    void plmsUnguidedClipDenoised() {
        check(SamplerConfig.plms(0, true), false, false, null);
    }

    @Test
    void symmetryMatchesReference() {
        Symmetry sym = new Symmetry(true, true, List.of(0.5));
        check(SamplerConfig.ddim(0.8, 2, false).withSymmetry(sym), true, true, null);
    }

    @Test
    void symmetryIsAppliedBeforeTheRightStep() {
        SpacedAlphas a = SpacedAlphas.linearDdim(1000, 10);
        Sampler s = new Sampler(SamplerConfig.ddim(0.8, 2, false)
                .withSymmetry(new Symmetry(true, false, List.of(0.5))), fakeUnet(a), null, new Noises(), 0);
        SamplerState st = s.start(SHAPE, null);
        List<Integer> applied = new ArrayList<>();
        while (!s.done(st)) {
            StepOutput out = s.step(st);
            if (out.symmetryApplied()) applied.add(out.index());
            st = out.state();
        }
        assertEquals(List.of(4), applied); // int(8 * (1 - 0.5))
    }

    @Test
    void plmsFirstStepCallsCondFnAtNextTimestepButDenoisesAtCurrent() {
        SpacedAlphas a = SpacedAlphas.linearDdim(1000, 10);
        FakeGuidance g = new FakeGuidance(true, a);
        Sampler s = new Sampler(SamplerConfig.plms(2, false), fakeUnet(a), g, new Noises(), 0);
        SamplerState st = s.start(SHAPE, null);
        StepOutput o1 = s.step(st);
        StepOutput o2 = s.step(o1.state());
        assertEquals(2, o1.guidance().size());
        assertEquals(1, o2.guidance().size());
        // {denoiseIndex, scheduleIndex, step, call, primary given}
        assertArrayEquals(new int[] {7, 7, 0, 0, 1}, g.calls.get(0));
        assertArrayEquals(new int[] {7, 6, 0, 1, 0}, g.calls.get(1));
        assertArrayEquals(new int[] {6, 6, 1, 0, 1}, g.calls.get(2));
        assertEquals(1, o1.state().oldEps().size());
    }

    @Test
    void stateRoundTripResumesExactly() {
        for (SamplerConfig cfg : List.of(SamplerConfig.ddim(0.8, 1, false), SamplerConfig.plms(1, false))) {
            SpacedAlphas a = SpacedAlphas.linearDdim(1000, 10);
            Sampler s = new Sampler(cfg, fakeUnet(a), new FakeGuidance(true, a), NoiseSource.random(5, 1), 1);
            float[] straight = run(s, s.start(SHAPE, null));
            SamplerState st = s.start(SHAPE, null);
            for (int k = 0; k < 4; k++) {
                StepOutput o = s.step(st);
                st = o.state();
            }
            // serialise through plain arrays, as a checkpoint would
            Map<String, Tensor> copy = new HashMap<>();
            st.tensors().forEach((k, t) -> copy.put(k, Tensors.fromFloats(Tensors.toFloats(t), Tensors.shape(t))));
            SamplerState resumed = SamplerState.of(copy, st.ints());
            assertEquals(4, resumed.stepsDone());
            assertArrayEquals(straight, run(s, resumed), cfg.method() + ": resumed run differs");
        }
    }

    @Test
    void detectsNonFiniteSamples() {
        SpacedAlphas a = SpacedAlphas.linearDdim(1000, 10);
        EpsDenoiser nan = new EpsDenoiser((x, ts) -> x.mul(new Scalar(Double.NaN)), a);
        Sampler s = new Sampler(SamplerConfig.ddim(0.8, 2, false), nan, null, new Noises(), 0);
        StepOutput o = s.step(s.start(SHAPE, null));
        assertFalse(o.finite());
    }

    @Test
    void skipStepsStartsFromQSampleOfZero() {
        SpacedAlphas a = SpacedAlphas.linearDdim(1000, 10);
        Sampler s = new Sampler(SamplerConfig.ddim(0.8, 3, false), fakeUnet(a), null, new Noises(), 0);
        Tensor xT = NoiseSource.random(1, 0).initialNoise(SHAPE);
        float[] got = Tensors.toFloats(s.start(xT, null).x());
        float[] n = Tensors.toFloats(xT);
        float c = (float) a.sqrtOneMinusAlphaBar(6);
        for (int k = 0; k < n.length; k++) assertEquals(n[k] * c, got[k], 1e-6);
        assertEquals(7, s.stepsToRun());
        assertEquals(6, s.indexOf(0));
        assertThrows(disco.util.DiscoException.class,
                () -> new Sampler(SamplerConfig.ddim(0.8, 10, false), fakeUnet(a), null, new Noises(), 0));
    }
}
