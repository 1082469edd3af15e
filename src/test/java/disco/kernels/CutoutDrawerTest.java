package disco.kernels;

import disco.util.RandomStream;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** DD's cut drawing: overview geometry, inner-crop sizes and gray fraction, augmentation sharing, determinism. */
class CutoutDrawerTest {
    static CutDraws stream(long seed, int step) {
        return CutDraws.of(RandomStream.of(seed, 0, step, "ViT-B/32", "cutouts"));
    }

    @Test
    void overviewPadsTheShortSideWithDdsArgumentOrder() {
        // wide image: height padded by (W - H) // 2 on each side
        List<Cut> wide = CutoutDrawer.overview(0, 64, 96, 4);
        assertEquals(4, wide.size());
        Cut c = wide.get(0);
        assertEquals(List.of(-16, 0, 96, 96), List.of(c.y0(), c.x0(), c.height(), c.width()));
        assertEquals(List.of(false, true, false, true), wide.stream().map(Cut::grayPre).toList());
        assertEquals(List.of(false, false, true, true), wide.stream().map(Cut::hflip).toList());
        // tall image with an odd difference: width padded by (H - W) // 2, the result is not square (as in DD)
        Cut t = CutoutDrawer.overview(0, 101, 64, 1).get(0);
        assertEquals(List.of(0, -18, 101, 100), List.of(t.y0(), t.x0(), t.height(), t.width()));
        // k > 4: k plain copies
        List<Cut> six = CutoutDrawer.overview(0, 64, 96, 6);
        assertEquals(6, six.size());
        assertTrue(six.stream().noneMatch(x -> x.grayPre() || x.hflip()));
        assertTrue(CutoutDrawer.overview(0, 64, 96, 0).isEmpty());
    }

    @Test
    void innerCropsFollowTheGivenDraws() {
        // size = int(r ** pow * (max - min) + min): H=64, W=96, S=32 → max 64, min 32
        List<Cut> cuts = CutoutDrawer.innerCrops(0, 64, 96, 32, 3, 0.5, 0.34,
                CutDraws.scripted(new double[] {0.3, 0.9, 0.05}, new int[] {23, 15, 17, 2, 28, 25}));
        assertEquals(List.of(49, 62, 39), cuts.stream().map(Cut::height).toList());
        assertEquals(List.of(23, 17, 28), cuts.stream().map(Cut::x0).toList());
        assertEquals(List.of(15, 2, 25), cuts.stream().map(Cut::y0).toList());
        // gray when i <= int(0.34 * 3) = 1
        assertEquals(List.of(true, true, false), cuts.stream().map(Cut::grayPre).toList());
        // DD's quirk: with cut_icgray_p = 0 the first inner crop is still gray (i <= int(0 * n) = 0)
        List<Cut> zero = CutoutDrawer.innerCrops(0, 64, 96, 32, 3, 1, 0.0,
                CutDraws.scripted(new double[] {0.5, 0.5, 0.5}, new int[] {0, 0, 0, 0, 0, 0}));
        assertEquals(List.of(true, false, false), zero.stream().map(Cut::grayPre).toList());
        assertThrows(IllegalStateException.class, () -> CutoutDrawer.innerCrops(0, 64, 96, 32, 1, 0.5, 0,
                CutDraws.scripted(new double[] {0.3}, new int[] {90, 0})));
    }

    @Test
    void innerCropsStayInsideTheImage() {
        CutDraws d = stream(1, 0);
        for (int trial = 0; trial < 50; trial++) {
            for (Cut c : CutoutDrawer.innerCrops(0, 77, 130, 224, 8, 1.3, 0.2, d)) {
                assertTrue(c.height() >= 77 && c.height() <= 77, "min_size = min(H, W, S) = max_size here");
                assertTrue(c.y0() >= 0 && c.x0() >= 0 && c.y0() + c.height() <= 77 && c.x0() + c.width() <= 130);
            }
            for (Cut c : CutoutDrawer.innerCrops(0, 300, 500, 64, 8, 1.3, 0.2, d)) {
                assertTrue(c.height() >= 64 && c.height() <= 300);
                assertTrue(c.y0() >= 0 && c.x0() >= 0 && c.y0() + c.height() <= 300 && c.x0() + c.width() <= 500);
            }
        }
    }

    @Test
    void augmentationsAreOneDrawPerBatchOrPerCut() {
        CutSettings batch = new CutSettings(4, 4, 1, 0.2, false, false);
        CutSet a = CutoutDrawer.draw(0, 64, 96, 32, batch, stream(7, 3));
        assertEquals(8, a.cuts().size());
        assertEquals(8 * 9 * 32 * 32, a.noiseValues().length);
        assertNull(a.noise(), "the engine's draws are keyed, not values");
        Cut first = a.cuts().get(0);
        for (Cut c : a.cuts()) {
            assertEquals(first.affine(), c.affine());
            assertEquals(first.jitter(), c.jitter());
            assertEquals(first.grayAug(), c.grayAug());
            assertEquals(0.01f, c.noise2());
        }
        // the batch flip composes with the overview's own flips
        assertNotEquals(a.cuts().get(0).hflip(), a.cuts().get(2).hflip());
        Cut.Affine af = first.affine();
        assertTrue(Math.abs(af.angle()) <= 10 && Math.abs(af.tx()) <= 2 && af.tx() == Math.rint(af.tx()));
        assertTrue(af.fillMask());
        Cut.Jitter j = first.jitter();
        assertEquals(4, j.order().size());
        assertTrue(j.brightness() >= 0.9 && j.brightness() <= 1.1 && Math.abs(j.hue()) <= 0.1);

        CutSet p = CutoutDrawer.draw(0, 64, 96, 32, new CutSettings(4, 4, 1, 0.2, false, true), stream(7, 3));
        long distinct = p.cuts().stream().map(Cut::affine).distinct().count();
        assertTrue(distinct > 1, "aug_per_cut draws per cut");

        CutSet skip = CutoutDrawer.draw(0, 64, 96, 32, new CutSettings(4, 4, 1, 0.2, true, false), stream(7, 3));
        assertNull(skip.noiseValues());
        assertTrue(skip.cuts().stream().noneMatch(c -> c.affine() != null || c.jitter() != null || c.hasNoise()));
    }

    @Test
    void settingsComeFromThePlannedStep() {
        disco.plan.PlanStep step = new disco.plan.PlanStep(0, 7, 700, 701, 299, List.of("RN50"), 4, 2, 0.7, 0.2,
                false, 3, 5000, 100, 150, 50, 0, true, 0.05);
        assertEquals(new CutSettings(4, 2, 0.7, 0.2, true, false), CutSettings.of(step, true, false));
    }

    @Test
    void parallelGaussiansAreBoxMullerPairsOfTheStream() {
        RandomStream a = RandomStream.of(3, 1, 2, "m", "noise"), b = RandomStream.of(3, 1, 2, "m", "noise");
        a.nextDouble();
        b.nextDouble();
        long start = b.position();
        // odd: the last normal is the cosine of a pair whose sine is not used; 2^16 + 1 pairs cross a chunk
        float[] x = new float[200_003], y = new float[200_003];
        for (int i = 0; i < x.length; i += 2) {
            double u1 = 1.0 - a.nextDouble(), u2 = a.nextDouble();
            double r = Math.sqrt(-2.0 * Math.log(u1));
            x[i] = (float) (r * Math.cos(2.0 * Math.PI * u2));
            if (i + 1 < x.length) x[i + 1] = (float) (r * Math.sin(2.0 * Math.PI * u2));
        }
        CutDraws.parallelGaussians(b, y);
        assertArrayEquals(x, y);
        assertEquals(start + 2L * y.length, b.position());
        double mean = 0, var = 0, cross = 0;
        for (int i = 0; i + 1 < y.length; i += 2) cross += (double) y[i] * y[i + 1];
        for (float v : y) mean += v;
        mean /= y.length;
        for (float v : y) var += (v - mean) * (v - mean);
        var /= y.length;
        assertEquals(0.0, mean, 0.01);
        assertEquals(1.0, var, 0.01);
        assertEquals(0.0, cross / (y.length / 2), 0.01, "the two normals of a pair are uncorrelated");
    }

    @Test
    void drawsArePureFunctionsOfTheKey() {
        CutSettings s = new CutSettings(2, 6, 1.2, 0.2, false, false);
        CutSet a = CutoutDrawer.draw(0, 200, 300, 64, s, stream(42, 5));
        CutSet b = CutoutDrawer.draw(0, 200, 300, 64, s, stream(42, 5));
        CutSet c = CutoutDrawer.draw(0, 200, 300, 64, s, stream(42, 6));
        assertEquals(a.cuts(), b.cuts());
        assertEquals(a.keyed(), b.keyed());
        assertArrayEquals(a.noiseValues(), b.noiseValues());
        assertNotEquals(a.cuts(), c.cuts());
        CutSet d0 = CutoutDrawer.draw(0, 200, 300, 64, s, CutoutDrawer.drawsFor(42, 0, 5, "RN50", 0));
        CutSet d0again = CutoutDrawer.draw(0, 200, 300, 64, s, CutoutDrawer.drawsFor(42, 0, 5, "RN50", 0));
        CutSet d1 = CutoutDrawer.draw(0, 200, 300, 64, s, CutoutDrawer.drawsFor(42, 0, 5, "RN50", 1));
        assertEquals(d0.cuts(), d0again.cuts());
        assertNotEquals(d0.cuts(), d1.cuts());
    }
}
