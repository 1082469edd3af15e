package disco.util;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

class RandomStreamTest {
    @Test
    void sameKeySameDraws() {
        RandomStream a = RandomStream.of(42, 0, 7, "RN50", "cutouts");
        RandomStream b = RandomStream.of(42, 0, 7, "RN50", "cutouts");
        for (int i = 0; i < 100; i++) assertEquals(a.nextLong(), b.nextLong());
    }

    @Test
    void everyKeyPartChangesTheStream() {
        long base = RandomStream.of(42, 0, 7, "RN50", "noise").nextLong();
        assertNotEquals(base, RandomStream.of(43, 0, 7, "RN50", "noise").nextLong());
        assertNotEquals(base, RandomStream.of(42, 1, 7, "RN50", "noise").nextLong());
        assertNotEquals(base, RandomStream.of(42, 0, 8, "RN50", "noise").nextLong());
        assertNotEquals(base, RandomStream.of(42, 0, 7, "RN101", "noise").nextLong());
        assertNotEquals(base, RandomStream.of(42, 0, 7, "RN50", "augs").nextLong());
    }

    @Test
    void seekRestoresPosition() {
        RandomStream a = RandomStream.of(1, 2, 3, "m", "p");
        a.nextDouble();
        a.nextDouble();
        long pos = a.position();
        double next = a.nextDouble();
        a.seek(pos);
        assertEquals(next, a.nextDouble());
    }

    @Test
    void uniformAndGaussianMoments() {
        RandomStream r = RandomStream.of(7, 0, 0, "", "moments");
        int n = 200_000;
        double su = 0, sg = 0, sg2 = 0;
        for (int i = 0; i < n; i++) {
            double u = r.nextDouble();
            assertTrue(u >= 0 && u < 1);
            su += u;
            double g = r.nextGaussian();
            sg += g;
            sg2 += g * g;
        }
        assertEquals(0.5, su / n, 0.005);
        assertEquals(0.0, sg / n, 0.01);
        assertEquals(1.0, sg2 / n, 0.02);
    }

    @Test
    void nextIntStaysInRange() {
        RandomStream r = RandomStream.of(3, 0, 0, "", "ints");
        int[] counts = new int[5];
        for (int i = 0; i < 50_000; i++) counts[r.nextInt(2, 7) - 2]++;
        for (int c : counts) assertTrue(c > 9000 && c < 11000, "uniform over [2,7): " + c);
        assertThrows(IllegalArgumentException.class, () -> r.nextInt(3, 3));
    }
}
