package disco.run;

import disco.util.DiscoException;
import disco.util.RandomStream;

import java.nio.file.Path;

/**
 * DD's starting images: {@code init_image} (read, RGB, PIL LANCZOS resize to width×height, to [-1, 1]) and
 * {@code perlin_init} ({@code regen_perlin}: two octave stacks of Perlin noise, bilinear-resized, autocontrasted and
 * averaged). Results are model-space float32 {@code [3, H, W]} (CHW); DD expands one init over the batch.
 */
public final class InitImages {
    private InitImages() {}

    /** {@code Image.open(f).convert('RGB').resize((width, height), LANCZOS)} → {@code to_tensor * 2 - 1}. */
    public static float[] fromFile(Path file, int width, int height) {
        RgbImage img = ImageLoading.readRgb(file);
        return PilResize.resize(img, width, height, PilResize.Filter.LANCZOS).toModelSpace();
    }

    /** The perlin modes DD offers. */
    public enum PerlinMode {
        COLOR, GRAY, MIXED;

        public static PerlinMode parse(String s, String where) {
            return switch (s == null ? "" : s.trim().toLowerCase()) {
                case "color", "colour" -> COLOR;
                case "gray", "grey" -> GRAY;
                case "mixed" -> MIXED;
                default -> throw DiscoException.badInput(where + ": perlin_mode: expected color, gray or mixed, got '" + s + "'");
            };
        }
    }

    /**
     * DD's {@code regen_perlin()}: {@code init = create_perlin_noise([1.5**-i*0.5 for i in range(12)], 1, 1, gray1)},
     * {@code init2 = create_perlin_noise([1.5**-i*0.5 for i in range(8)], 4, 4, gray2)} (gray1/gray2 = false/false for
     * color, true/true for gray, false/true for mixed), then {@code (to_tensor(init) + to_tensor(init2)) / 2 * 2 - 1}.
     * The gradient draws come from {@code stream} (DD uses torch's global generator).
     */
    public static float[] perlin(PerlinMode mode, int width, int height, RandomStream stream) {
        boolean gray1 = mode == PerlinMode.GRAY;
        boolean gray2 = mode != PerlinMode.COLOR;
        RgbImage a = createPerlinNoise(octaves(12), 1, 1, gray1, width, height, stream.derive("init"));
        RgbImage b = createPerlinNoise(octaves(8), 4, 4, gray2, width, height, stream.derive("init2"));
        int plane = width * height;
        float[] out = new float[3 * plane];
        for (int c = 0; c < 3; c++) {
            for (int p = 0; p < plane; p++) {
                float va = (a.rgb()[p * 3 + c] & 0xff) / 255f;
                float vb = (b.rgb()[p * 3 + c] & 0xff) / 255f;
                out[c * plane + p] = (va + vb) / 2f * 2f - 1f;
            }
        }
        return out;
    }

    static double[] octaves(int n) {
        double[] o = new double[n];
        for (int i = 0; i < n; i++) o[i] = Math.pow(1.5, -i) * 0.5;
        return o;
    }

    /**
     * DD's {@code create_perlin_noise}: {@code perlin_ms} (0.5 + Σ perlin(w·2^o, h·2^o, 2^(n-o)) · octave_o per
     * channel, an N×N field with N = w·2^n), torchvision's tensor {@code resize} to (height, width) (bilinear,
     * align_corners=False, no antialias), clamp to [0, 1], {@code to_pil_image} (×255 truncated), gray → RGB, and
     * {@code ImageOps.autocontrast} per channel. Only the field values the bilinear resize reads are evaluated; each is
     * computed with the same float32 operations as DD's full field.
     */
    static RgbImage createPerlinNoise(double[] octaves, int w0, int h0, boolean grayscale, int width, int height,
                                      RandomStream stream) {
        int channels = grayscale ? 1 : 3;
        int n = octaves.length;
        int fieldRows = w0 << n; // perlin(width=w, ...) gives w*scale rows; resize treats them as image rows
        int fieldCols = h0 << n;
        // gradients per channel per octave: gx, gy of shape [(w+1), (h+1)], drawn as one randn(2, w+1, h+1) from
        // the stream; only the entries next to sampled cells are evaluated (RandomStream is random-access)
        Gaussians[][] g = new Gaussians[channels][n];
        for (int c = 0; c < channels; c++) {
            for (int o = 0; o < n; o++) {
                int gw = (w0 << o) + 1, gh = (h0 << o) + 1;
                g[c][o] = new Gaussians(stream.derive(c).derive(o), gw * gh);
            }
        }
        int[] r0 = new int[height], r1 = new int[height];
        float[] ly = new float[height];
        linearIndices(fieldRows, height, r0, r1, ly);
        int[] c0 = new int[width], c1 = new int[width];
        float[] lx = new float[width];
        linearIndices(fieldCols, width, c0, c1, lx);

        byte[] pix = new byte[width * height * channels];
        for (int c = 0; c < channels; c++) {
            for (int y = 0; y < height; y++) {
                for (int x = 0; x < width; x++) {
                    float v00 = field(octaves, h0, g[c], r0[y], c0[x]);
                    float v01 = field(octaves, h0, g[c], r0[y], c1[x]);
                    float v10 = field(octaves, h0, g[c], r1[y], c0[x]);
                    float v11 = field(octaves, h0, g[c], r1[y], c1[x]);
                    float wx1 = lx[x], wx0 = 1f - wx1, wy1 = ly[y], wy0 = 1f - wy1;
                    float v = wy0 * (wx0 * v00 + wx1 * v01) + wy1 * (wx0 * v10 + wx1 * v11);
                    if (!(v >= 0f)) v = 0f;
                    if (v > 1f) v = 1f;
                    pix[(y * width + x) * channels + c] = (byte) (int) (v * 255f);
                }
            }
        }
        byte[] rgb = new byte[width * height * 3];
        for (int p = 0; p < width * height; p++) {
            for (int c = 0; c < 3; c++) rgb[p * 3 + c] = pix[p * channels + (grayscale ? 0 : c)];
        }
        return autocontrast(new RgbImage(width, height, rgb));
    }

    /** PyTorch's linear source indices (align_corners=False): src = max(0, scale·(dst + 0.5) − 0.5), float32. */
    static void linearIndices(int inSize, int outSize, int[] i0, int[] i1, float[] lambda) {
        float scale = (float) inSize / outSize;
        for (int d = 0; d < outSize; d++) {
            float src = scale * (d + 0.5f) - 0.5f;
            if (src < 0f) src = 0f;
            int idx = Math.min((int) Math.floor(src), inSize - 1);
            float l = Math.min(Math.max(src - idx, 0f), 1f);
            i0[d] = idx;
            i1[d] = idx + (idx < inSize - 1 ? 1 : 0);
            lambda[d] = l;
        }
    }

    /** One entry of DD's {@code perlin_ms} field for one channel: 0.5 + Σ_o perlin_o[row, col] · octave_o. */
    private static float field(double[] octaves, int h0, Gaussians[] g, int row, int col) {
        int n = octaves.length;
        float acc = 0f;
        int scale = 1 << n;
        for (int o = 0; o < n; o++) {
            int h = h0 << o;
            int wi = row / scale, a = row % scale;
            int hi = col / scale, b = col % scale;
            float p = perlinAt(g[o], h + 1, wi, hi, linspace(a, scale), linspace(b, scale));
            float term = p * (float) octaves[o];
            acc = o == 0 ? 0.5f + term : acc + term;
            scale /= 2;
        }
        return acc;
    }

    /** {@code torch.linspace(0, 1, steps + 1)[i]} (float32, computed from both ends as PyTorch does). */
    static float linspace(int i, int steps) {
        float step = 1f / steps;
        int total = steps + 1;
        return i < total / 2 ? i * step : 1f - (steps - i) * step;
    }

    private static float interp(float t) {
        return 3 * t * t - 2 * t * t * t;
    }

    /**
     * The standard normals {@code stream.fillGaussian(new float[2 * count])} would give (gx = the first
     * {@code count}, gy = the rest), evaluated on demand: normal {@code i} reads stream positions 2i and 2i+1.
     */
    static final class Gaussians {
        private final RandomStream stream;
        private final int count;
        private final float[] values;
        private final boolean[] done;

        Gaussians(RandomStream stream, int count) {
            this.stream = stream;
            this.count = count;
            this.values = new float[2 * count];
            this.done = new boolean[2 * count];
        }

        float gx(int i) {
            return get(i);
        }

        float gy(int i) {
            return get(count + i);
        }

        private float get(int i) {
            if (!done[i]) {
                stream.seek(2L * i);
                values[i] = (float) stream.nextGaussian();
                done[i] = true;
            }
            return values[i];
        }
    }

    /** DD's {@code perlin} at cell (wi, hi), offsets xs, ys; gradient grids are row-major [(w+1), (h+1)]. */
    private static float perlinAt(Gaussians g, int gh, int wi, int hi, float xs, float ys) {
        float wx = 1 - interp(xs);
        float wy = 1 - interp(ys);
        int i00 = wi * gh + hi, i10 = (wi + 1) * gh + hi, i01 = wi * gh + hi + 1, i11 = (wi + 1) * gh + hi + 1;
        float dots = 0f;
        dots += wx * wy * (g.gx(i00) * xs + g.gy(i00) * ys);
        dots += (1 - wx) * wy * (-g.gx(i10) * (1 - xs) + g.gy(i10) * ys);
        dots += wx * (1 - wy) * (g.gx(i01) * xs - g.gy(i01) * (1 - ys));
        dots += (1 - wx) * (1 - wy) * (-g.gx(i11) * (1 - xs) - g.gy(i11) * (1 - ys));
        return dots;
    }

    /** {@code ImageOps.autocontrast(image)} (cutoff 0): per channel, stretch [lo, hi] of the histogram to [0, 255]. */
    public static RgbImage autocontrast(RgbImage img) {
        byte[] in = img.rgb();
        byte[] out = new byte[in.length];
        for (int c = 0; c < 3; c++) {
            int lo = 255, hi = 0;
            for (int p = c; p < in.length; p += 3) {
                int v = in[p] & 0xff;
                if (v < lo) lo = v;
                if (v > hi) hi = v;
            }
            int[] lut = new int[256];
            if (hi <= lo) {
                for (int i = 0; i < 256; i++) lut[i] = i;
            } else {
                double scale = 255.0 / (hi - lo);
                double offset = -lo * scale;
                for (int i = 0; i < 256; i++) {
                    int v = (int) (i * scale + offset);
                    lut[i] = v < 0 ? 0 : Math.min(v, 255);
                }
            }
            for (int p = c; p < in.length; p += 3) out[p] = (byte) lut[in[p] & 0xff];
        }
        return new RgbImage(img.width(), img.height(), out);
    }
}
