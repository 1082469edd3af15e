package disco.run;

import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import java.util.zip.CRC32;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PilResizeTest {
    /** The same synthetic image the reference file was made from (pillow-resize-reference.txt's generator). */
    static RgbImage make(int w, int h) {
        byte[] b = new byte[w * h * 3];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                for (int c = 0; c < 3; c++) b[(y * w + x) * 3 + c] = (byte) ((x * 37 + y * 91 + c * 53 + ((x * y) % 17) * 11) % 256);
        return new RgbImage(w, h, b);
    }

    @Test
    void lanczosCoefficientsByHand() {
        // 4 -> 2: scale 2, support 3*2 = 6; output pixel 0 has centre 1.0, window [0, 4) after clamping,
        // taps at (x - 1 + 0.5) / 2 = -0.25, 0.25, 0.75, 1.25 of sinc(x) * sinc(x / 3), normalised.
        PilResize.Coeffs c = PilResize.precompute(4, 0f, 4f, 2, PilResize.Filter.LANCZOS);
        assertEquals(13, c.ksize());
        assertEquals(0, c.bounds()[0]);
        assertEquals(4, c.bounds()[1]);
        double[] raw = {lanczos(-0.25), lanczos(0.25), lanczos(0.75), lanczos(1.25)};
        // sinc(0.25)·sinc(0.25/3) = (sin(π/4)/(π/4))·(sin(π/12)/(π/12)) = 0.900316·0.988616 = 0.890067
        assertEquals(0.890067, raw[0], 1e-6);
        assertEquals(0.890067, raw[1], 1e-6);
        // sinc(0.75)·sinc(0.25) = 0.300105·0.900316 = 0.270189
        assertEquals(0.270189, raw[2], 1e-6);
        // sinc(1.25)·sinc(1.25/3) = (-0.180063)·(0.621079... ) : negative lobe
        assertTrue(raw[3] < 0);
        double sum = raw[0] + raw[1] + raw[2] + raw[3];
        for (int i = 0; i < 4; i++) assertEquals(raw[i] / sum, c.kk()[i], 1e-15);
        // 22-bit fixed point: round half away from zero
        int[] fixed = c.fixedPoint();
        assertEquals((int) (0.5 + raw[0] / sum * (1 << 22)), fixed[0]);
        assertEquals((int) (-0.5 + raw[3] / sum * (1 << 22)), fixed[3]);
    }

    private static double lanczos(double x) {
        return sinc(x) * sinc(x / 3);
    }

    private static double sinc(double x) {
        return x == 0 ? 1 : Math.sin(Math.PI * x) / (Math.PI * x);
    }

    @Test
    void constantImageStaysConstant() {
        byte[] b = new byte[10 * 7 * 3];
        java.util.Arrays.fill(b, (byte) 200);
        RgbImage out = PilResize.resize(new RgbImage(10, 7, b), 4, 13, PilResize.Filter.LANCZOS);
        for (byte v : out.rgb()) assertEquals(200, v & 0xff);
    }

    @Test
    void matchesPillowByteForByte() throws Exception {
        RgbImage src = make(13, 9);
        int cases = 0;
        try (BufferedReader r = new BufferedReader(new InputStreamReader(
                getClass().getResourceAsStream("pillow-resize-reference.txt"), StandardCharsets.UTF_8))) {
            String line;
            while ((line = r.readLine()) != null) {
                if (line.startsWith("#") || line.isBlank()) continue;
                String[] f = line.split(" ");
                int w = Integer.parseInt(f[1]), h = Integer.parseInt(f[2]);
                if (f[0].equals("CRC")) {
                    RgbImage out = PilResize.resize(make(64, 48), w, h, PilResize.Filter.LANCZOS);
                    CRC32 crc = new CRC32();
                    crc.update(out.rgb());
                    assertEquals(Long.parseLong(f[3]), crc.getValue(), "64x48 -> " + w + "x" + h);
                } else {
                    RgbImage out = PilResize.resize(src, w, h, PilResize.Filter.valueOf(f[0]));
                    assertArrayEquals(HexFormat.of().parseHex(f[3]), out.rgb(), f[0] + " 13x9 -> " + w + "x" + h);
                }
                cases++;
            }
        }
        assertEquals(16, cases);
    }
}
