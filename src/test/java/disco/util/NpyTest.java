package disco.util;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

class NpyTest {
    @Test
    void roundTripsFloat32() {
        float[] data = {1f, -2.5f, 3.25f, 0f, 7f, 8f};
        Npy.Array a = Npy.parse(Npy.encodeFloats(data, 2, 3), "mem");
        assertEquals("<f4", a.dtype());
        assertArrayEquals(new long[] {2, 3}, a.shape());
        assertArrayEquals(data, a.floats());
    }

    @Test
    void roundTripsFloat64OneDim() {
        double[] data = {1e-12, 0.5, 3};
        Npy.Array a = Npy.parse(Npy.encodeDoubles(data, 3), "mem");
        assertArrayEquals(new long[] {3}, a.shape());
        assertArrayEquals(data, a.doubles());
    }

    @Test
    void rejectsTruncatedData() {
        byte[] full = Npy.encodeFloats(new float[] {1, 2, 3, 4}, 4);
        byte[] cut = java.util.Arrays.copyOf(full, full.length - 3);
        DiscoException e = assertThrows(DiscoException.class, () -> Npy.parse(cut, "x.npy"));
        assertTrue(e.getMessage().contains("x.npy"));
        assertTrue(e.getMessage().contains("truncated"));
    }
}
