package disco.kernels;

import disco.torch.Tensors;
import disco.util.RandomStream;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** The cutout kernels through the JavaCPP binding: adjoint, finite differences, bad input, fixtures, CUDA. */
class CutoutsTest {
    @BeforeAll
    static void load() {
        Kernels.init();
    }

    static float[] uniform(Random r, int n, double lo, double hi) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) (lo + (hi - lo) * r.nextDouble());
        return a;
    }

    static double dot(float[] a, float[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) s += (double) a[i] * b[i];
        return s;
    }

    /** Random DD-like cuts: overview and inner crops with (per cut) augmentations from a stream. */
    static CutSet randomSet(int h, int w, int size, long seed, boolean skipAugs) {
        CutSettings s = new CutSettings(4, 3, 0.7, 0.2, skipAugs, true);
        return CutoutDrawer.draw(0, h, w, size, s, CutDraws.of(RandomStream.of(seed, 0, 0, "test", "cutouts")));
    }

    @Test
    void backwardIsTheAdjointOfTheLinearForward() {
        Random r = new Random(3);
        for (int trial = 0; trial < 4; trial++) {
            try (PointerScope scope = new PointerScope()) {
                int h = 8 + r.nextInt(30), w = 8 + r.nextInt(30), size = 4 + r.nextInt(12);
                // skip_augs: overview + inner crops only (purely linear)
                CutSet set = randomSet(h, w, size, trial, true);
                float[] x = uniform(r, 3 * h * w, -1, 1);
                float[] y = uniform(r, set.cuts().size() * 3 * size * size, -1, 1);
                Tensor xt = Tensors.fromFloats(x, 1, 3, h, w);
                float[] ax = Tensors.toFloats(set.forward(xt));
                float[] aty = Tensors.toFloats(set.backward(xt, Tensors.fromFloats(y, set.cuts().size(), 3, size, size)));
                double lhs = dot(ax, y), rhs = dot(x, aty);
                assertEquals(lhs, rhs, 1e-4 * (Math.abs(lhs) + 1), "adjoint trial " + trial);
            }
        }
    }

    @Test
    void backwardMatchesFiniteDifferencesWithAugmentations() {
        Random r = new Random(5);
        try (PointerScope scope = new PointerScope()) {
            int h = 20, w = 27, size = 9;
            CutSet set = randomSet(h, w, size, 11, false);
            Tensor noise = set.noiseTensor();
            assertNotNull(noise);
            float[] x = uniform(r, 3 * h * w, 0.1, 0.9), v = uniform(r, x.length, -1, 1);
            float[] y = uniform(r, set.cuts().size() * 3 * size * size, -1, 1);
            double eps = 2e-4;
            float[] xp = x.clone(), xm = x.clone();
            for (int i = 0; i < x.length; i++) {
                xp[i] += (float) (eps * v[i]);
                xm[i] -= (float) (eps * v[i]);
            }
            double fp = dot(Tensors.toFloats(Cutouts.forward(Tensors.fromFloats(xp, 1, 3, h, w), set.cuts(), size, noise)), y);
            double fm = dot(Tensors.toFloats(Cutouts.forward(Tensors.fromFloats(xm, 1, 3, h, w), set.cuts(), size, noise)), y);
            double fd = (fp - fm) / (2 * eps);
            double an = dot(v, Tensors.toFloats(Cutouts.backward(Tensors.fromFloats(x, 1, 3, h, w), set.cuts(), size,
                    noise, Tensors.fromFloats(y, set.cuts().size(), 3, size, size))));
            assertEquals(fd, an, 2e-2 * (Math.abs(fd) + Math.abs(an)) + 1e-3);
        }
    }

    @Test
    void badInputIsAnExceptionNamingTheArgument() {
        try (PointerScope scope = new PointerScope()) {
            Tensor img = torch.rand(1, 3, 8, 10);
            List<Cut> ok = List.of(Cut.box(0, 0, 0, 8, 8));
            var e = assertThrows(IllegalArgumentException.class, () -> Cutouts.forward(img.to(torch.ScalarType.Double), ok, 4, null));
            assertTrue(e.getMessage().contains("image") && e.getMessage().contains("float32"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> Cutouts.forward(torch.rand(1, 8, 10, 3).permute(0, 3, 1, 2), ok, 4, null));
            assertTrue(e.getMessage().contains("contiguous"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> Cutouts.forward(torch.rand(1, 4, 8, 10), ok, 4, null));
            assertTrue(e.getMessage().contains("image"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> Cutouts.forward(img, List.of(Cut.box(0, 8, 0, 4, 4)), 4, null));
            assertTrue(e.getMessage().contains("cuts[0]") && e.getMessage().contains("outside"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> Cutouts.forward(img, List.of(Cut.box(1, 0, 0, 4, 4)), 4, null));
            assertTrue(e.getMessage().contains("image index"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class,
                    () -> Cutouts.forward(img, List.of(Cut.box(0, 0, 0, 4, 4).withNoise(0.01f, 0, 0)), 4, null));
            assertTrue(e.getMessage().contains("noise"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> Cutouts.forward(img, ok, 4, torch.rand(1, 3, 3, 5, 5)));
            assertTrue(e.getMessage().contains("noise") && e.getMessage().contains("shape"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> Cutouts.backward(img, ok, 4, null, torch.rand(2, 3, 4, 4)));
            assertTrue(e.getMessage().contains("grad_out"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> new Cut.Jitter(List.of(0, 0), 1, 1, 1, 0));
            assertThrows(IllegalArgumentException.class, () -> Cut.Jitter.single(3, 0.7));
        }
    }

    @Test
    void cudaMatchesCpu() {
        assumeTrue(Kernels.hasCuda() && torch.cuda_is_available(), "no CUDA build or GPU");
        try (PointerScope scope = new PointerScope()) {
            int h = 48, w = 80, size = 24;
            CutSet set = randomSet(h, w, size, 21, false);
            Random r = new Random(9);
            Tensor x = Tensors.fromFloats(uniform(r, 3 * h * w, 0, 1), 1, 3, h, w);
            Tensor g = Tensors.fromFloats(uniform(r, set.cuts().size() * 3 * size * size, -1, 1), set.cuts().size(), 3, size, size);
            float[] cpu = Tensors.toFloats(set.forward(x)), cpuG = Tensors.toFloats(set.backward(x, g));
            Tensor xc = x.cuda(), gc = g.cuda();
            float[] gpu = Tensors.toFloats(set.forward(xc)), gpuG = Tensors.toFloats(set.backward(xc, gc));
            assertTrue(disco.util.Compare.maxRelErr(gpu, cpu) < 1e-5);
            assertTrue(disco.util.Compare.maxRelErr(gpuG, cpuG) < 1e-4);
        }
    }
}
