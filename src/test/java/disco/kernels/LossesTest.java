package disco.kernels;

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
            float[] got = HostTensors.toFloats(Losses.tv(HostTensors.fromFloats(x, n, c, h, w)));
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
        float[] g = HostTensors.toFloats(Losses.tvBackward(HostTensors.fromFloats(x, n, c, h, w),
                HostTensors.fromFloats(gl, n)));
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
        int rc = GuidanceNative.disco_tv_loss(x.data_ptr(), 1, 1, 2, 2, loss.data_ptr(), Kernels.CUDA, null);
        assertEquals(NativeLib.DISCO_ENOCUDA, rc);
        assertTrue(Kernels.lastError().contains("built without CUDA"), Kernels.lastError());
        KernelException e = assertThrows(KernelException.class, () -> Kernels.check(rc));
        assertEquals(NativeLib.DISCO_ENOCUDA, e.code());
    }
}
