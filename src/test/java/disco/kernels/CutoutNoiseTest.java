package disco.kernels;

import disco.torch.Tensors;
import disco.util.RandomStream;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The native kernels' noise (the CPU twin, {@code disco_cutouts_noise}: what the keyed cutout kernels add) against
 * the reference generator, {@link RandomStream} + {@link CutDraws#parallelGaussians} (Java's Math.log/Math.cos/Math.sin):
 * every element within 1 float ulp, and bitwise equal but for rare cases. Why not a bitwise guarantee: both sides
 * compute sqrt(-2 log u1) cos(2 pi u2) in double and round to float, but with different log/cos implementations
 * (HotSpot's intrinsics, fdlibm's algorithms in the kernel), each within 1 ulp of double; the float results can only
 * differ when the exact value lies within ~2^-52 (relative) of a float rounding boundary, i.e. about once in 2^29
 * values — none of the values below.
 */
class CutoutNoiseTest {
    static long[] compare(CutSet.KeyedNoise k) {
        float[] ref = k.values();
        float[] got;
        try (PointerScope scope = new PointerScope()) {
            got = Tensors.toFloats(Cutouts.noise(k, null, 0));
        }
        assertEquals(ref.length, got.length);
        long inexact = 0;
        for (int i = 0; i < ref.length; i++) {
            if (Float.floatToRawIntBits(ref[i]) == Float.floatToRawIntBits(got[i])) continue;
            inexact++;
            assertTrue(Math.abs(ref[i] - got[i]) <= Math.ulp(ref[i]),
                    "element " + i + " of key " + k.key() + " start " + k.start() + ": " + got[i] + " vs " + ref[i]);
        }
        return new long[] {inexact, ref.length};
    }

    @Test
    void kernelNoiseEqualsTheReferenceGenerator() {
        long inexact = 0, total = 0;
        RandomStream base = RandomStream.of(1234, 0, 17, "ViT-B/32", "cutouts");
        long[] keys = {base.key(), base.derive(3).key(), 0L, -1L, 0x9E3779B97F4A7C15L, RandomStream.of(7, 2, 0, "RN50", "cutouts").key()};
        int[] sizes = {1, 9 * 5 * 5, 9 * 16 * 32 * 32, 65537 * 3};
        long[] starts = {0, 1, 2 * 12345 + 9, 1L << 40};
        for (long key : keys) {
            for (int n : sizes) {
                for (long start : starts) {
                    long[] r = compare(new CutSet.KeyedNoise(key, start, n));
                    inexact += r[0];
                    total += r[1];
                }
            }
        }
        assertTrue(total > 5_000_000);
        assertTrue(inexact * 100_000 <= total, inexact + " of " + total + " values not bitwise equal");
        System.out.println("CutoutNoiseTest: " + (total - inexact) + " of " + total + " values bitwise equal to RandomStream's");
    }

    @Test
    void aStartPositionIsAShiftOfTheSameStream() {
        long key = RandomStream.of(5, 0, 3, "m", "cutouts").key();
        try (PointerScope scope = new PointerScope()) {
            float[] all = Tensors.toFloats(Cutouts.noise(new CutSet.KeyedNoise(key, 100, 5000), null, 0));
            // 1234 pairs further on: 2 * 1234 normals further on
            float[] tail = Tensors.toFloats(Cutouts.noise(new CutSet.KeyedNoise(key, 100 + 2 * 1234, 5000 - 2 * 1234), null, 0));
            assertArrayEquals(java.util.Arrays.copyOfRange(all, 2 * 1234, 5000), tail);
        }
    }

    @Test
    void drawnSetsReserveTheStreamPositionsTheJavaDrawUsed() {
        CutSettings s = new CutSettings(4, 3, 1.0, 0.2, false, false);
        RandomStream a = RandomStream.of(9, 0, 4, "RN50", "cutouts").derive(1), b = RandomStream.of(9, 0, 4, "RN50", "cutouts").derive(1);
        CutSet keyed = CutoutDrawer.draw(0, 40, 60, 16, s, CutDraws.of(a));
        // the draw as it was before keys: the same cuts, then the normals drawn in Java from where the cuts stopped
        CutDraws old = CutDraws.of(b);
        List<Cut> cuts = CutoutDrawer.draw(0, 40, 60, 16, new CutSettings(4, 3, 1.0, 0.2, false, false), old).cuts();
        assertEquals(keyed.cuts(), cuts);
        RandomStream c = RandomStream.of(9, 0, 4, "RN50", "cutouts").derive(1);
        CutDraws replay = CutDraws.of(c);
        CutoutDrawer.innerCrops(0, 40, 60, 16, 3, 1.0, 0.2, replay);
        for (int i = 0; i < 9; i++) replay.uniform();  // one augmentation draw per batch: 9 uniforms ...
        for (int i = 0; i < 3; i++) replay.integer(0, 4 - i);  // ... and the permutation's 3 integers
        float[] java = new float[7 * 9 * 16 * 16];
        replay.gaussians(java);
        assertEquals(c.position(), a.position());
        try (PointerScope scope = new PointerScope()) {
            Tensor nz = keyed.noiseTensor();
            float[] mine = Tensors.toFloats(nz);
            long[] r = compare(keyed.keyed());
            assertEquals(java.length, r[1]);
            int same = 0;
            for (int i = 0; i < java.length; i++) if (java[i] == mine[i]) same++;
            assertTrue(same >= java.length - r[0] && same > java.length * 0.999, same + " of " + java.length);
        }
    }

    @Test
    void keyedForwardAndBackwardEqualTheGivenForms() {
        try (PointerScope scope = new PointerScope()) {
            CutSettings s = new CutSettings(4, 5, 0.8, 0.2, false, true);
            int h = 30, w = 44, size = 14;
            CutSet keyed = CutoutDrawer.draw(0, h, w, size, s, CutDraws.of(RandomStream.of(3, 0, 1, "t", "cutouts")));
            CutSet given = keyed.withJavaNoise();
            java.util.Random r = new java.util.Random(4);
            float[] x = new float[3 * h * w], g = new float[keyed.cuts().size() * 3 * size * size];
            for (int i = 0; i < x.length; i++) x[i] = r.nextFloat();
            for (int i = 0; i < g.length; i++) g[i] = r.nextFloat() - 0.5f;
            Tensor xt = Tensors.fromFloats(x, 1, 3, h, w), gt = Tensors.fromFloats(g, keyed.cuts().size(), 3, size, size);
            Tensor state = keyed.newState(xt);
            // one slot per jitter op (DD's ColorJitter: 4), each holding that op's input
            assertArrayEquals(new long[] {4, keyed.cuts().size(), 3, size, size}, Kernels.shapeOf(state));
            var wrong = assertThrows(IllegalArgumentException.class,
                    () -> keyed.forward(xt, xt.new_empty(keyed.cuts().size(), 3, size, size), 0));
            assertTrue(wrong.getMessage().contains("state"), wrong.getMessage());
            float[] fk = Tensors.toFloats(keyed.forward(xt, state, 0)), fg = Tensors.toFloats(given.forward(xt));
            float[] bk = Tensors.toFloats(keyed.backward(xt, state, gt, 0)), bk2 = Tensors.toFloats(keyed.backward(xt, gt));
            float[] bg = Tensors.toFloats(given.backward(xt, gt));
            assertTrue(disco.util.Compare.maxRelErr(fk, fg) <= 1e-6);
            assertTrue(disco.util.Compare.maxRelErr(bk, bg) <= 1e-6);
            assertArrayEquals(bk, bk2, "the backward from the forward's state equals the recomputing one");
            float[] base = Tensors.toFloats(Cutouts.baselineForward(xt, given.cuts(), size, given.noiseTensor()));
            assertArrayEquals(fg, base, "the CPU twin equals the first kernel bitwise");
            var e = assertThrows(IllegalArgumentException.class,
                    () -> Cutouts.forwardKeyed(xt, keyed.cuts(), size, new CutSet.KeyedNoise(1, 0, 5), null, 0));
            assertTrue(e.getMessage().contains("noise"), e.getMessage());
        }
    }
}
