package disco.kernels;

import disco.torch.Tensors;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/** The loss kernels through the JavaCPP binding, against straightforward Java loops, plus bad input. */
class LossesTest {
    @BeforeAll
    static void load() {
        Kernels.init();
    }

    static float[] randn(Random r, int n, double scale) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) (r.nextGaussian() * scale);
        return a;
    }

    /** DD's tv_loss with explicit indices (replicate padding: the difference past the edge is 0). */
    static double[] tvRef(float[] x, int n, int c, int h, int w) {
        double[] out = new double[n];
        for (int b = 0; b < n; b++) {
            double s = 0;
            for (int ch = 0; ch < c; ch++)
                for (int i = 0; i < h; i++)
                    for (int j = 0; j < w; j++) {
                        int o = ((b * c + ch) * h + i) * w + j;
                        double dx = j + 1 < w ? x[o + 1] - x[o] : 0, dy = i + 1 < h ? x[o + w] - x[o] : 0;
                        s += dx * dx + dy * dy;
                    }
            out[b] = s / (c * h * w);
        }
        return out;
    }

    @Test
    void tvMatchesReferenceOnRandomSizes() {
        Random r = new Random(7);
        for (int trial = 0; trial < 6; trial++) {
            int n = 1 + r.nextInt(3), c = 1 + r.nextInt(3), h = 1 + r.nextInt(12), w = 1 + r.nextInt(12);
            float[] x = randn(r, n * c * h * w, 1);
            float[] got = Tensors.toFloats(Losses.tv(Tensors.fromFloats(x, n, c, h, w)));
            double[] ref = tvRef(x, n, c, h, w);
            for (int b = 0; b < n; b++) assertEquals(ref[b], got[b], 1e-5 * Math.max(1, Math.abs(ref[b])));
        }
    }

    @Test
    void tvBackwardMatchesFiniteDifferences() {
        Random r = new Random(11);
        int n = 2, c = 3, h = 5, w = 7;
        float[] x = randn(r, n * c * h * w, 1);
        float[] gl = {0.7f, -1.3f};
        float[] g = Tensors.toFloats(Losses.tvBackward(Tensors.fromFloats(x, n, c, h, w),
                Tensors.fromFloats(gl, n)));
        double eps = 1e-3;
        for (int probe = 0; probe < 20; probe++) {
            int k = r.nextInt(x.length);
            float[] xp = x.clone(), xm = x.clone();
            xp[k] += (float) eps;
            xm[k] -= (float) eps;
            double[] lp = tvRef(xp, n, c, h, w), lm = tvRef(xm, n, c, h, w);
            double num = (gl[0] * (lp[0] - lm[0]) + gl[1] * (lp[1] - lm[1])) / (xp[k] - xm[k]);
            assertEquals(num, g[k], 1e-3 * Math.max(1e-2, Math.abs(num)), "element " + k);
        }
    }

    @Test
    void wrongDtypeNamesTheArgument() {
        Tensor x = torch.ones(1, 3, 4, 4).to(torch.ScalarType.Double);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Losses.tv(x));
        assertTrue(e.getMessage().contains("x: expected float32"), e.getMessage());
    }

    @Test
    void nonContiguousNamesTheArgument() {
        Tensor x = torch.ones(1, 3, 4, 5).transpose(2, 3);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Losses.tv(x));
        assertTrue(e.getMessage().contains("x: expected a contiguous tensor"), e.getMessage());
    }

    @Test
    void wrongShapeNamesTheArgument() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Losses.tv(torch.ones(3, 4, 4)));
        assertTrue(e.getMessage().contains("x: expected shape [*, *, *, *], got [3, 4, 4]"), e.getMessage());
        Tensor x = torch.ones(2, 3, 4, 4);
        e = assertThrows(IllegalArgumentException.class, () -> Losses.tvBackward(x, torch.ones(3)));
        assertTrue(e.getMessage().contains("grad_loss: expected shape [2]"), e.getMessage());
    }

    @Test
    void cudaRequestOnCpuBuildIsAnErrorNotACrash() {
        org.junit.jupiter.api.Assumptions.assumeFalse(Kernels.builtWithCuda(), "library built with CUDA");
        Tensor x = torch.ones(1, 1, 2, 2), loss = torch.zeros(1);
        int rc = GuidanceNative.disco_tv_loss(x.data_ptr(), 1, 1, 2, 2, loss.data_ptr(), Kernels.CUDA, 0);
        assertEquals(NativeLib.DISCO_ENOCUDA, rc);
        assertTrue(Kernels.lastError().contains("built without CUDA"), Kernels.lastError());
        KernelException e = assertThrows(KernelException.class, () -> Kernels.check(rc));
        assertEquals(NativeLib.DISCO_ENOCUDA, e.code());
    }

    @Test
    void rangeAndSatMatchDdFormulas() {
        Random r = new Random(3);
        int n = 2, c = 3, h = 6, w = 5, per = c * h * w;
        float[] x = randn(r, n * per, 1.5);
        Tensor t = Tensors.fromFloats(x, n, c, h, w);
        float[] range = Tensors.toFloats(Losses.range(t));
        double satSum = 0;
        for (int b = 0; b < n; b++) {
            double s = 0;
            for (int e = 0; e < per; e++) {
                double v = x[b * per + e], d = v - Math.max(-1, Math.min(1, v));
                s += d * d;
                satSum += Math.abs(d);
            }
            assertEquals(s / per, range[b], 1e-6 * Math.max(1, s / per));
        }
        float sat = Tensors.toFloats(Losses.sat(t))[0];
        assertEquals(satSum / x.length, sat, 1e-6);
        // backward: 2 (x - clamp x) gl / per for range; sign(x) gl / count outside [-1, 1] for sat
        float[] gr = Tensors.toFloats(Losses.rangeBackward(t, Tensors.fromFloats(new float[] {1f, 2f}, 2)));
        float[] gs = Tensors.toFloats(Losses.satBackward(t, Tensors.fromFloats(new float[] {3f}, 1)));
        for (int e = 0; e < x.length; e++) {
            double v = x[e], d = v - Math.max(-1, Math.min(1, v));
            assertEquals(2 * d * (e < per ? 1 : 2) / per, gr[e], 1e-6);
            assertEquals(Math.abs(v) > 1 ? Math.signum(v) * 3.0 / x.length : 0.0, gs[e], 1e-7);
        }
    }

    static double sph(float[] x, int i, float[] y, int j, int d) {
        double nx = 0, ny = 0, s = 0;
        for (int k = 0; k < d; k++) {
            nx += x[i * d + k] * x[i * d + k];
            ny += y[j * d + k] * y[j * d + k];
        }
        nx = Math.max(Math.sqrt(nx), 1e-12);
        ny = Math.max(Math.sqrt(ny), 1e-12);
        for (int k = 0; k < d; k++) {
            double t = x[i * d + k] / nx - y[j * d + k] / ny;
            s += t * t;
        }
        double as = Math.asin(Math.sqrt(s) / 2);
        return 2 * as * as;
    }

    @Test
    void sphericalBroadcastsLikeDd() {
        Random r = new Random(5);
        int a = 4, b = 3, d = 16;
        float[] x = randn(r, a * d, 1), y = randn(r, b * d, 1);
        float[] out3 = Tensors.toFloats(Losses.spherical(Tensors.fromFloats(x, a, 1, d), Tensors.fromFloats(y, 1, b, d)));
        float[] out2 = Tensors.toFloats(Losses.spherical(Tensors.fromFloats(x, a, d), Tensors.fromFloats(y, b, d)));
        assertArrayEquals(out2, out3);
        for (int i = 0; i < a; i++)
            for (int j = 0; j < b; j++) assertEquals(sph(x, i, y, j, d), out2[i * b + j], 1e-5);
    }

    @Test
    void clipLossMatchesDdAndItsGradientMatchesFiniteDifferences() {
        Random r = new Random(9);
        int cuts = 3, n = 2, p = 2, d = 8;
        float[] e = randn(r, cuts * n * d, 1), t = randn(r, p * d, 1), wts = {0.75f, -0.25f};
        double scale = 5.0;
        Tensor we = Tensors.fromFloats(wts, p);
        Losses.ClipLoss cl = Losses.clipLoss(Tensors.fromFloats(e, cuts * n, d), Tensors.fromFloats(t, p, d), we, n, scale);
        float[] losses = Tensors.toFloats(cl.losses());
        double total = 0;
        for (int b = 0; b < n; b++) {
            double s = 0;
            for (int k = 0; k < cuts; k++)
                for (int j = 0; j < p; j++) s += wts[j] * sph(e, k * n + b, t, j, d);
            assertEquals(s / cuts, losses[b], 1e-5);
            total += s / cuts;
        }
        assertEquals(total, Tensors.toFloats(cl.lossSum())[0], 1e-5);
        assertEquals(Tensors.toFloats(cl.losses().sum())[0], Tensors.toFloats(cl.lossSum())[0]);
        float[] g = Tensors.toFloats(cl.gradEmbeds());
        for (int probe = 0; probe < 10; probe++) {
            int q = r.nextInt(e.length);
            float[] ep = e.clone(), em = e.clone();
            ep[q] += 1e-3f;
            em[q] -= 1e-3f;
            double fp = 0, fm = 0;
            for (int row = 0; row < cuts * n; row++)
                for (int j = 0; j < p; j++) {
                    fp += wts[j] * sph(ep, row, t, j, d) / cuts;
                    fm += wts[j] * sph(em, row, t, j, d) / cuts;
                }
            double num = scale * (fp - fm) / (ep[q] - em[q]);
            assertEquals(num, g[q], 2e-3 * Math.max(0.1, Math.abs(num)), "element " + q);
        }
    }

    @Test
    void sphericalBadShapesNameTheArgument() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Losses.spherical(torch.ones(2, 2, 4), torch.ones(3, 4)));
        assertTrue(e.getMessage().contains("x: expected shape [a, d] or [a, 1, d]"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Losses.spherical(torch.ones(2, 4), torch.ones(3, 5)));
        assertTrue(e.getMessage().contains("y: expected embedding width 4"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Losses.clipLoss(torch.ones(5, 4), torch.ones(2, 4), torch.ones(2), 2, 1));
        assertTrue(e.getMessage().contains("image_embeds: expected cuts*n rows"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Losses.clipLoss(torch.ones(4, 4), torch.ones(2, 4), torch.ones(3), 2, 1));
        assertTrue(e.getMessage().contains("weights: expected shape [2]"), e.getMessage());
    }
}
