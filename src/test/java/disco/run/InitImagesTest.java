package disco.run;

import disco.util.DiscoException;
import disco.util.RandomStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.*;

class InitImagesTest {
    @TempDir
    Path tmp;

    @Test
    void initImageConvertsLikePilConvertRgbThenLanczos() throws Exception {
        // RGBA: convert('RGB') drops alpha (no compositing)
        BufferedImage rgba = new BufferedImage(13, 9, BufferedImage.TYPE_4BYTE_ABGR);
        RgbImage ref = PilResizeTest.make(13, 9);
        for (int y = 0; y < 9; y++)
            for (int x = 0; x < 13; x++) {
                int a = (x * 20) & 0xff;
                rgba.setRGB(x, y, (a << 24) | (ref.get(x, y, 0) << 16) | (ref.get(x, y, 1) << 8) | ref.get(x, y, 2));
            }
        Path f = tmp.resolve("rgba.png");
        ImageIO.write(rgba, "png", f.toFile());
        assertArrayEquals(ref.rgb(), ImageLoading.readRgb(f).rgb());
        float[] init = InitImages.fromFile(f, 5, 4);
        RgbImage expected = PilResize.resize(ref, 5, 4, PilResize.Filter.LANCZOS);
        assertEquals(3 * 5 * 4, init.length);
        assertEquals((expected.get(2, 1, 1) / 255f) * 2f - 1f, init[1 * 20 + 1 * 5 + 2]);

        // gray: replicated to three equal channels, values untouched by colour management
        BufferedImage gray = new BufferedImage(4, 2, BufferedImage.TYPE_BYTE_GRAY);
        byte[] g = {0, 10, 20, 30, (byte) 128, (byte) 200, (byte) 250, (byte) 255};
        gray.getRaster().setDataElements(0, 0, 4, 2, g);
        Path gf = tmp.resolve("gray.png");
        ImageIO.write(gray, "png", gf.toFile());
        RgbImage gi = ImageLoading.readRgb(gf);
        for (int i = 0; i < 8; i++)
            for (int c = 0; c < 3; c++) assertEquals(g[i] & 0xff, gi.get(i % 4, i / 4, c));

        // JPEG reads (decoder may differ from libjpeg by ±1; here we only check it decodes to the right size)
        Path jf = tmp.resolve("a.jpg");
        ImageIO.write(ref.toBufferedImage(), "jpg", jf.toFile());
        assertEquals(13, ImageLoading.readRgb(jf).width());
    }

    @Test
    void unreadableInitImageIsBadInputNamingTheFile() throws Exception {
        Path junk = tmp.resolve("junk.png");
        Files.writeString(junk, "this is not a png");
        DiscoException e = assertThrows(DiscoException.class, () -> InitImages.fromFile(junk, 64, 64));
        assertEquals(2, e.exitCode());
        assertTrue(e.getMessage().startsWith(junk.toString()), e.getMessage());
        DiscoException e2 = assertThrows(DiscoException.class, () -> InitImages.fromFile(tmp.resolve("none.png"), 64, 64));
        assertTrue(e2.getMessage().contains("none.png"));
    }

    @Test
    void autocontrastStretchesEachChannel() {
        byte[] b = {10, 0, 5, 20, 0, 5, 30, 0, 5};
        RgbImage out = InitImages.autocontrast(new RgbImage(3, 1, b));
        assertEquals(0, out.get(0, 0, 0));
        assertEquals(127, out.get(1, 0, 0)); // int(20 * 12.75 - 127.5) = 127
        assertEquals(255, out.get(2, 0, 0));
        assertEquals(0, out.get(1, 0, 1));  // single-valued channel: identity
        assertEquals(5, out.get(1, 0, 2));
    }

    /** DD's perlin_ms + TF.resize + to_pil_image + autocontrast, computed on the whole field as DD does. */
    static RgbImage fullFieldPerlin(double[] octaves, int w0, int h0, boolean gray, int width, int height, RandomStream stream) {
        int channels = gray ? 1 : 3;
        int n = octaves.length;
        int rows = w0 << n, cols = h0 << n;
        float[][] fields = new float[channels][];
        for (int c = 0; c < channels; c++) {
            float[] out = new float[rows * cols];
            int scale = 1 << n;
            for (int o = 0; o < n; o++) {
                int w = w0 << o, h = h0 << o;
                float[] gg = new float[2 * (w + 1) * (h + 1)];
                stream.derive(c).derive(o).fillGaussian(gg);
                float[] xs = new float[scale];
                for (int i = 0; i < scale; i++) xs[i] = InitImages.linspace(i, scale);
                // dots[wi, hi, a, b] -> permute(0, 2, 1, 3) -> [w*scale, h*scale]
                for (int wi = 0; wi < w; wi++)
                    for (int hi = 0; hi < h; hi++)
                        for (int a = 0; a < scale; a++)
                            for (int b = 0; b < scale; b++) {
                                float x = xs[a], y = xs[b];
                                float wx = 1 - (3 * x * x - 2 * x * x * x), wy = 1 - (3 * y * y - 2 * y * y * y);
                                int H = h + 1, G = (w + 1) * (h + 1);
                                float gx00 = gg[wi * H + hi], gy00 = gg[G + wi * H + hi];
                                float gx10 = gg[(wi + 1) * H + hi], gy10 = gg[G + (wi + 1) * H + hi];
                                float gx01 = gg[wi * H + hi + 1], gy01 = gg[G + wi * H + hi + 1];
                                float gx11 = gg[(wi + 1) * H + hi + 1], gy11 = gg[G + (wi + 1) * H + hi + 1];
                                float d = 0f;
                                d += wx * wy * (gx00 * x + gy00 * y);
                                d += (1 - wx) * wy * (-gx10 * (1 - x) + gy10 * y);
                                d += wx * (1 - wy) * (gx01 * x - gy01 * (1 - y));
                                d += (1 - wx) * (1 - wy) * (-gx11 * (1 - x) - gy11 * (1 - y));
                                int idx = (wi * scale + a) * cols + hi * scale + b;
                                float term = d * (float) octaves[o];
                                out[idx] = o == 0 ? 0.5f + term : out[idx] + term;
                            }
                scale /= 2;
            }
            fields[c] = out;
        }
        int[] r0 = new int[height], r1 = new int[height], c0 = new int[width], c1 = new int[width];
        float[] ly = new float[height], lx = new float[width];
        InitImages.linearIndices(rows, height, r0, r1, ly);
        InitImages.linearIndices(cols, width, c0, c1, lx);
        byte[] rgb = new byte[width * height * 3];
        for (int c = 0; c < channels; c++)
            for (int y = 0; y < height; y++)
                for (int x = 0; x < width; x++) {
                    float[] f = fields[c];
                    float v = (1 - ly[y]) * ((1 - lx[x]) * f[r0[y] * cols + c0[x]] + lx[x] * f[r0[y] * cols + c1[x]])
                            + ly[y] * ((1 - lx[x]) * f[r1[y] * cols + c0[x]] + lx[x] * f[r1[y] * cols + c1[x]]);
                    v = Math.min(Math.max(v, 0f), 1f);
                    byte bv = (byte) (int) (v * 255f);
                    if (gray) for (int k = 0; k < 3; k++) rgb[(y * width + x) * 3 + k] = bv;
                    else rgb[(y * width + x) * 3 + c] = bv;
                }
        return InitImages.autocontrast(new RgbImage(width, height, rgb));
    }

    @Test
    void perlinSamplesTheFieldExactlyAsTheFullComputation() {
        RandomStream s = RandomStream.of(7, 0, 0, null, "perlin");
        double[] oct = InitImages.octaves(6);
        for (boolean gray : new boolean[] {false, true}) {
            RgbImage a = InitImages.createPerlinNoise(oct, 2, 2, gray, 64, 48, s);
            RgbImage b = fullFieldPerlin(oct, 2, 2, gray, 64, 48, s);
            assertArrayEquals(b.rgb(), a.rgb(), "gray=" + gray);
        }
        // upsampling too (field 64x64 -> 96x80)
        assertArrayEquals(fullFieldPerlin(oct, 1, 1, false, 96, 80, s).rgb(),
                InitImages.createPerlinNoise(oct, 1, 1, false, 96, 80, s).rgb());
    }

    @Test
    void perlinModesAndDeterminism() {
        int w = 64, h = 64;
        float[] a = InitImages.perlin(InitImages.PerlinMode.MIXED, w, h, RandomStream.of(1, 0, 0, null, "perlin"));
        float[] b = InitImages.perlin(InitImages.PerlinMode.MIXED, w, h, RandomStream.of(1, 0, 0, null, "perlin"));
        float[] c = InitImages.perlin(InitImages.PerlinMode.MIXED, w, h, RandomStream.of(2, 0, 0, null, "perlin"));
        assertArrayEquals(a, b);
        assertFalse(Arrays.equals(a, c));
        for (float v : a) assertTrue(v >= -1f && v <= 1f);
        float[] g = InitImages.perlin(InitImages.PerlinMode.GRAY, w, h, RandomStream.of(1, 0, 0, null, "perlin"));
        int plane = w * h;
        for (int p = 0; p < plane; p++) {
            assertEquals(g[p], g[plane + p]);
            assertEquals(g[p], g[2 * plane + p]);
        }
        float[] col = InitImages.perlin(InitImages.PerlinMode.COLOR, w, h, RandomStream.of(1, 0, 0, null, "perlin"));
        assertFalse(Arrays.equals(Arrays.copyOfRange(col, 0, plane), Arrays.copyOfRange(col, plane, 2 * plane)));
        assertThrows(DiscoException.class, () -> InitImages.PerlinMode.parse("rainbow", "settings.yml"));
    }
}
