package disco.kernels;

import disco.torch.Tensors;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/** The gradient stage through the binding: its definition from the loss pieces, the NaN guard, the clamp. */
class GradientStageTest {
    @BeforeAll
    static void load() {
        Kernels.init();
    }

    static Tensor randn(Random r, double scale, long... shape) {
        long count = 1;
        for (long s : shape) count *= s;
        float[] a = new float[(int) count];
        for (int i = 0; i < a.length; i++) a[i] = (float) (r.nextGaussian() * scale);
        return Tensors.fromFloats(a, shape);
    }

    @Test
    void stageIsTheMaskedScaledSumPlusTvAndSat() {
        Random r = new Random(1);
        int n = 2, c = 3, h = 8, w = 6;
        Tensor x = randn(r, 1.3, n, c, h, w), pred = randn(r, 1.5, n, c, h, w);
        Tensor g0 = randn(r, 1e-3, n, c, h, w), g1 = randn(r, 1e-3, n, c, h, w), g2 = randn(r, 1e-3, n, c, h, w);
        Tensor stacked = torch.stack(new org.bytedeco.pytorch.TensorVector(g0, g1, g2));
        boolean[] mask = {true, false, true};
        double cgs = 5000, tvs = 100, sats = 50;
        int cutn = 2;
        GradientStage.Result res = GradientStage.compute(x, pred, stacked, mask, cgs, cutn, tvs, sats);
        assertFalse(res.nan());
        assertEquals(List.of(), res.nanModels());

        float[] want = Tensors.toFloats(g0.add(g2).mul(new Scalar(cgs / cutn))
                .add(Losses.tvBackward(x, Tensors.fromFloats(new float[] {(float) tvs, (float) tvs}, n)))
                .add(Losses.satBackward(x, Tensors.fromFloats(new float[] {(float) sats}, 1))));
        float[] got = Tensors.toFloats(res.xInGrad());
        double maxRef = 0, maxDiff = 0;
        for (int i = 0; i < got.length; i++) {
            maxRef = Math.max(maxRef, Math.abs(want[i]));
            maxDiff = Math.max(maxDiff, Math.abs(want[i] - got[i]));
        }
        assertTrue(maxDiff <= 1e-5 * maxRef, "max diff " + maxDiff + " vs " + maxRef);
        assertArrayEquals(Tensors.toFloats(Losses.tv(x)), res.tvLosses());
        assertArrayEquals(Tensors.toFloats(Losses.range(pred)), res.rangeLosses());
        assertEquals(Tensors.toFloats(Losses.sat(x))[0], res.satLoss());

        // the list form: null = model off
        GradientStage.Result viaList = GradientStage.compute(x, pred, Arrays.asList(g0, null, g2), cgs, cutn, tvs, sats);
        assertArrayEquals(got, Tensors.toFloats(viaList.xInGrad()));
    }

    @Test
    void nanInAnActiveModelZeroesTheGradientAndNamesTheModel() {
        Random r = new Random(2);
        int n = 1, c = 3, h = 4, w = 4;
        Tensor x = randn(r, 1, n, c, h, w), pred = randn(r, 1, n, c, h, w);
        float[] bad = Tensors.toFloats(randn(r, 1, n, c, h, w));
        bad[5] = Float.NaN;
        Tensor g0 = randn(r, 1, n, c, h, w), g1 = Tensors.fromFloats(bad, n, c, h, w);
        GradientStage.Result res = GradientStage.compute(x, pred, Arrays.asList(g0, g1), 1000, 1, 10, 10);
        assertTrue(res.nan());
        assertEquals(List.of(1), res.nanModels());
        for (float v : Tensors.toFloats(res.xInGrad())) assertEquals(0f, v);
        // the same NaN in a model that is off this step is ignored
        GradientStage.Result off = GradientStage.compute(x, pred, Arrays.asList(g0, null), 1000, 1, 10, 10);
        assertFalse(off.nan());
        assertEquals(List.of(), off.nanModels());
    }

    @Test
    void initTermJoinsTheSumLastAndTheGuardCoversIt() {
        Random r = new Random(5);
        int n = 1, c = 3, h = 6, w = 7;
        Tensor x = randn(r, 1.3, n, c, h, w), pred = randn(r, 1.5, n, c, h, w);
        Tensor g0 = randn(r, 1e-3, n, c, h, w), init = randn(r, 1e-2, n, c, h, w);
        GradientStage.Result without = GradientStage.compute(x, pred, Arrays.asList(g0, null), 5000, 2, 100, 50);
        GradientStage.Result with = GradientStage.compute(x, pred, Arrays.asList(g0, null), 5000, 2, 100, 50, init);
        // bitwise the sum the stage had before (its gradient, then + init, in float32)
        assertArrayEquals(Tensors.toFloats(without.xInGrad().add(init)), Tensors.toFloats(with.xInGrad()));
        assertArrayEquals(Tensors.toFloats(without.losses()), Tensors.toFloats(with.losses()));
        assertFalse(with.nan());
        Tensor bad = init.clone();
        bad.view(-1).narrow(0, 17, 1).fill_(new Scalar(Double.NaN));
        GradientStage.Result guarded = GradientStage.compute(x, pred, Arrays.asList(g0, null), 5000, 2, 100, 50, bad);
        assertTrue(guarded.nan());
        assertEquals(List.of(), guarded.nanModels(), "the init term is no model");
        for (float v : Tensors.toFloats(guarded.xInGrad())) assertEquals(0f, v);
        assertArrayEquals(new float[] {0, 0, 1}, Tensors.toFloats(guarded.nanFlags()));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> GradientStage.compute(x, pred, Arrays.asList(g0, null), 5000, 2, 100, 50, torch.ones(1, 3, 6, 6)));
        assertTrue(e.getMessage().contains("init_grad: expected shape [1, 3, 6, 7]"), e.getMessage());
    }

    @Test
    void clampReturnsTheRmsItUsedAndItsBackwardTakesItBack() {
        Random r = new Random(4);
        Tensor g = randn(r, 1, 1, 3, 9, 5), go = randn(r, 1, 1, 3, 9, 5);
        GradientStage.Clamped c = GradientStage.clampWithRms(g, 0.05);
        float[] a = Tensors.toFloats(g);
        double ss = 0;
        for (float v : a) ss += (double) v * v;
        assertEquals((float) Math.sqrt(ss / a.length), Tensors.toFloats(c.rms())[0]);
        assertArrayEquals(Tensors.toFloats(GradientStage.clamp(g, 0.05)), Tensors.toFloats(c.grad()));
        float[] again = Tensors.toFloats(GradientStage.clampBackward(g, go, 0.05));
        float[] reused = Tensors.toFloats(GradientStage.clampBackward(g, go, 0.05, c.rms()));
        for (int i = 0; i < again.length; i++) assertEquals(again[i], reused[i], 1e-6 * Math.abs(again[i]) + 1e-9);
    }

    @Test
    void clampFollowsDd() {
        Random r = new Random(3);
        Tensor g = randn(r, 1, 1, 3, 8, 8);
        float[] a = Tensors.toFloats(g);
        double ss = 0;
        for (float v : a) ss += v * v;
        double rms = Math.sqrt(ss / a.length);
        float[] out = Tensors.toFloats(GradientStage.clamp(g, 0.05));
        for (int i = 0; i < a.length; i++) assertEquals(a[i] * 0.05 / rms, out[i], 1e-6);
        // below the bound: unchanged
        float[] small = Tensors.toFloats(GradientStage.clamp(g.mul(new Scalar(1e-3)), 0.05));
        for (int i = 0; i < a.length; i++) assertEquals(a[i] * 1e-3, small[i], 1e-8);
        // its VJP against finite differences of the Java formula
        Tensor go = randn(r, 1, 1, 3, 8, 8);
        float[] gov = Tensors.toFloats(go);
        float[] vjp = Tensors.toFloats(GradientStage.clampBackward(g, go, 0.05));
        for (int probe = 0; probe < 5; probe++) {
            int k = r.nextInt(a.length);
            double[] f = new double[2];
            for (int s = 0; s < 2; s++) {
                double[] b = new double[a.length];
                for (int i = 0; i < a.length; i++) b[i] = a[i];
                b[k] += s == 0 ? 1e-4 : -1e-4;
                double q = 0;
                for (double v : b) q += v * v;
                double rr = Math.sqrt(q / b.length), fac = Math.min(rr, 0.05) / rr, dot = 0;
                for (int i = 0; i < b.length; i++) dot += gov[i] * b[i] * fac;
                f[s] = dot;
            }
            assertEquals((f[0] - f[1]) / 2e-4, vjp[k], 1e-4);
        }
    }

    @Test
    void badInputNamesTheArgument() {
        Tensor x = torch.ones(1, 3, 4, 4);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> GradientStage.compute(x, torch.ones(1, 3, 4, 5), null, new boolean[0], 1, 1, 1, 1));
        assertTrue(e.getMessage().contains("pred: expected shape [1, 3, 4, 4]"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> GradientStage.compute(x, x, torch.ones(1, 1, 3, 4, 4), new boolean[] {true, true}, 1, 1, 1, 1));
        assertTrue(e.getMessage().contains("model_grads: expected shape [2, 1, 3, 4, 4]"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> GradientStage.compute(x, x, null, new boolean[0], 1, 0, 1, 1));
        assertTrue(e.getMessage().contains("cutn_batches"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> GradientStage.clamp(x, 0));
        assertTrue(e.getMessage().contains("clamp_max"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> GradientStage.compute(x, x, Arrays.asList(torch.ones(1, 3, 4, 4).to(torch.ScalarType.Double)), 1, 1, 1, 1));
        assertTrue(e.getMessage().contains("model_grads[0]: expected float32"), e.getMessage());
    }
}
