package disco.kernels;

import disco.torch.Tensors;
import disco.util.Compare;
import disco.util.RandomStream;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/** The LibTorch-ops cutouts (DD's way) against the native kernels: forward values and autograd vs the VJP. */
class TorchCutoutsTest {
    @BeforeAll
    static void load() {
        Kernels.init();
    }

    static void compare(int h, int w, int size, CutSettings s, long seed) {
        try (PointerScope scope = new PointerScope()) {
            CutSet set = CutoutDrawer.draw(0, h, w, size, s, CutDraws.of(RandomStream.of(seed, 0, 0, "t", "cutouts")));
            Random r = new Random(seed);
            Tensor x = Tensors.fromFloats(CutoutsTest.uniform(r, 3 * h * w, 0, 1), 1, 3, h, w);
            Tensor g = Tensors.fromFloats(CutoutsTest.uniform(r, set.cuts().size() * 3 * size * size, -1, 1),
                    set.cuts().size(), 3, size, size);
            Tensor noise = set.noiseTensor();
            float[] kf = Tensors.toFloats(Cutouts.forward(x, set.cuts(), size, noise));
            float[] tf = Tensors.toFloats(TorchCutouts.forward(x, set.cuts(), size, noise));
            double ef = Compare.maxRelErr(kf, tf);
            assertTrue(ef < 1e-5, "forward " + s + ": " + ef);
            float[] kb = Tensors.toFloats(Cutouts.backward(x, set.cuts(), size, noise, g));
            float[] tb = Tensors.toFloats(TorchCutouts.backward(x, set.cuts(), size, noise, g));
            double eb = Compare.maxRelErr(kb, tb);
            assertTrue(eb < 1e-4, "backward " + s + ": " + eb);
        }
    }

    @Test
    void linearCutsMatch() {
        compare(40, 70, 16, new CutSettings(4, 4, 1.0, 0.25, true, false), 1);
        compare(70, 40, 24, new CutSettings(6, 2, 0.5, 0.0, true, false), 2);
    }

    @Test
    void batchAugmentationsMatch() {
        compare(36, 50, 20, new CutSettings(4, 3, 1.0, 0.2, false, false), 3);
        compare(36, 50, 20, new CutSettings(2, 3, 1.0, 0.2, false, false), 4);
    }

    @Test
    void perCutAugmentationsMatch() {
        compare(44, 30, 18, new CutSettings(4, 4, 1.0, 0.2, false, true), 5);
    }

    @Test
    void eachJitterOpMatchesAtGrayAndColourPixels() {
        try (PointerScope scope = new PointerScope()) {
            int s = 12;
            Random r = new Random(8);
            Tensor x = Tensors.fromFloats(CutoutsTest.uniform(r, 3 * s * s, -0.1, 1.1), 1, 3, s, s);
            for (int op = 0; op < 4; op++) {
                for (boolean gray : new boolean[] {false, true}) {
                    List<Cut> cuts = List.of(Cut.box(0, 0, 0, s, s).withGrayAug(gray)
                            .withJitter(Cut.Jitter.single(op, op == 3 ? 0.07 : 1.08)));
                    Tensor g = Tensors.fromFloats(CutoutsTest.uniform(r, 3 * s * s, -1, 1), 1, 3, s, s);
                    double ef = Compare.maxRelErr(Tensors.toFloats(Cutouts.forward(x, cuts, s, null)),
                            Tensors.toFloats(TorchCutouts.forward(x, cuts, s, null)));
                    double eb = Compare.maxRelErr(Tensors.toFloats(Cutouts.backward(x, cuts, s, null, g)),
                            Tensors.toFloats(TorchCutouts.backward(x, cuts, s, null, g)));
                    assertTrue(ef < 1e-6, "op " + op + " gray " + gray + " forward " + ef);
                    assertTrue(eb < 1e-5, "op " + op + " gray " + gray + " backward " + eb);
                }
            }
        }
    }
}
