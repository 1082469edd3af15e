package disco.run;

import disco.guidance.ClipGuidance;
import disco.models.clip.ClipModel;
import disco.settings.Prompt;
import disco.torch.Tensors;
import disco.util.DiscoException;
import disco.util.RandomStream;

import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.IntStream;

/**
 * DD's image prompts ({@code image_prompts}, {@code "path:weight"}): each image is read as
 * {@code Image.open(path).convert('RGB')}, resized with {@code TF.resize(img, min(side_x, side_y, *img.size), LANCZOS)}
 * (Pillow's LANCZOS, {@link PilResize}: the short side to that value, the long side {@code int(new_short * long /
 * short)}), mapped to [-1, 1], and cut by DD's simple {@code MakeCutouts(input_resolution, 16)}: padded by
 * {@code h // 4} on every side (value 0), 13 random squares and 3 copies of the whole padded image, each through DD's
 * {@code resample} (a Lanczos-2 prefilter on every axis that shrinks, then bicubic interpolation with A = -0.75 and
 * {@code align_corners=True}). CLIP's normalisation is applied to these [-1, 1] cutouts as DD does, and their 16
 * embeddings join the model's targets with weight {@code weight / 16} each ({@link #weights}).
 *
 * <p>DD draws the squares from torch's generator; a run here draws them from a {@link RandomStream} keyed by the
 * batch seed, the CLIP model and the prompt ({@link #random}), so a run reproduces and batch {@code i} is batch 0 of a
 * run with seed {@code seed + i}. DD's augmentations of these cutouts (with {@code skip_augs: false}) are not
 * implemented: {@code Settings} refuses image prompts unless {@code skip_augs} is true.
 */
public final class ImagePrompts {
    private ImagePrompts() {}

    /** DD's {@code cutn} for image prompts (fixed in DD's {@code do_run}). */
    public static final int CUTN = 16;

    /** One image prompt, read and resized: {@code to_tensor(img)} in [0, 1], CHW. */
    public record Image(String path, double weight, int width, int height, float[] chw) {}

    /** One cutout of {@code MakeCutouts}: the whole padded image, or the square at (offsetX, offsetY) of side size. */
    public record Cut(boolean full, int size, int offsetX, int offsetY) {}

    /** The draws of {@code MakeCutouts}' random squares. */
    @FunctionalInterface
    public interface Draws {
        /**
         * Cutout {@code ch} (one with {@code ch <= cutn - cutn / 4}) of an image padded to sideX × sideY, whose shorter
         * side is {@code maxSize}.
         */
        Cut draw(int ch, int cutSize, int maxSize, int sideX, int sideY);
    }

    /** Reads and resizes every prompt as DD does (a missing or unreadable file is one line naming it, exit 2). */
    public static List<Image> load(List<String> prompts, int sideX, int sideY) {
        List<Image> out = new ArrayList<>();
        for (String p : prompts) {
            Prompt parsed = Prompt.parse(p);
            RgbImage img = ImageLoading.readRgb(Path.of(parsed.text()), "image prompt");
            RgbImage r = resize(img, sideX, sideY);
            out.add(new Image(parsed.text(), parsed.weight(), r.width(), r.height(), toTensor(r)));
        }
        return out;
    }

    /** {@code TF.resize(img, min(side_x, side_y, *img.size), LANCZOS)} (torchvision's short-side rule, Pillow's filter). */
    public static RgbImage resize(RgbImage img, int sideX, int sideY) {
        int s = Math.min(Math.min(sideX, sideY), Math.min(img.width(), img.height()));
        int[] wh = shortSide(img.width(), img.height(), s);
        return PilResize.resize(img, wh[0], wh[1], PilResize.Filter.LANCZOS);
    }

    /** torchvision's {@code _compute_resized_output_size} for one int: {width, height}. */
    static int[] shortSide(int w, int h, int size) {
        int shortS = Math.min(w, h), longS = Math.max(w, h);
        int newLong = (int) ((double) ((long) size * longS) / shortS);
        return w <= h ? new int[] {size, newLong} : new int[] {newLong, size};
    }

    /** {@code TF.to_tensor}: bytes / 255 as float32, CHW. */
    static float[] toTensor(RgbImage r) {
        int plane = r.width() * r.height();
        float[] out = new float[3 * plane];
        for (int c = 0; c < 3; c++) {
            for (int p = 0; p < plane; p++) out[c * plane + p] = (r.rgb()[p * 3 + c] & 0xff) / 255f;
        }
        return out;
    }

    /**
     * The run's draws for one image prompt and CLIP model: {@code normal ~ N(0.8, 0.3)},
     * {@code size = int(max_size * clamp(normal, cut_size / max_size, 1))}, then {@code offsetx} in
     * {@code [0, sideX - size]} and {@code offsety} in {@code [0, sideY - size]}, in that order, from {@code stream}.
     */
    public static Draws random(RandomStream stream) {
        return (ch, cutSize, maxSize, sideX, sideY) -> {
            float normal = (float) (0.8 + 0.3 * stream.nextGaussian());
            float lo = (float) ((double) cutSize / maxSize);
            float c = Math.min(Math.max(normal, lo), 1f);
            int size = (int) (maxSize * c);
            int ox = stream.nextInt(0, Math.abs(sideX - size + 1));
            int oy = stream.nextInt(0, Math.abs(sideY - size + 1));
            return new Cut(false, size, ox, oy);
        };
    }

    /** The stream of one prompt's draws for one model in one batch (keyed by the batch seed; batch key 0). */
    public static RandomStream stream(long batchSeed, String model, int prompt) {
        return RandomStream.of(batchSeed, 0, -1, model, "image_prompt").derive(prompt);
    }

    /**
     * DD's {@code MakeCutouts(cut_size, cutn, skip_augs=True)} on {@code t = to_tensor(img) * 2 - 1}: {@code chw01} is
     * {@code to_tensor(img)} ([0, 1], CHW, height × width); returns {@code [cutn, 3, cut_size, cut_size]} in [-1, 1]
     * (before CLIP's normalisation).
     */
    public static float[] cutouts(float[] chw01, int height, int width, int cutSize, int cutn, Draws draws) {
        int pad = height / 4;
        int ph = height + 2 * pad, pw = width + 2 * pad;
        float[] padded = new float[3 * ph * pw];
        for (int c = 0; c < 3; c++) {
            for (int y = 0; y < height; y++) {
                for (int x = 0; x < width; x++) {
                    padded[(c * ph + y + pad) * pw + x + pad] = chw01[(c * height + y) * width + x] * 2f - 1f;
                }
            }
        }
        int maxSize = Math.min(ph, pw);
        int plane = 3 * cutSize * cutSize;
        float[] out = new float[cutn * plane];
        for (int ch = 0; ch < cutn; ch++) {
            float[] r;
            if (ch > cutn - cutn / 4) {
                r = resample(padded, 3, ph, pw, cutSize, cutSize);
            } else {
                Cut cut = draws.draw(ch, cutSize, maxSize, pw, ph);
                r = resample(crop(padded, ph, pw, cut), 3, cut.size(), cut.size(), cutSize, cutSize);
            }
            System.arraycopy(r, 0, out, ch * plane, plane);
        }
        return out;
    }

    /** {@code input[:, :, oy:oy+size, ox:ox+size]} (slicing clips at the edges, as Python's does). */
    static float[] crop(float[] img, int h, int w, Cut cut) {
        int s = cut.size();
        if (cut.offsetX() < 0 || cut.offsetY() < 0 || cut.offsetX() + s > w || cut.offsetY() + s > h || s < 1) {
            throw new IllegalArgumentException("cutout " + cut + " outside the padded image " + w + "x" + h);
        }
        float[] out = new float[3 * s * s];
        for (int c = 0; c < 3; c++) {
            for (int y = 0; y < s; y++) {
                System.arraycopy(img, (c * h + y + cut.offsetY()) * w + cut.offsetX(), out, (c * s + y) * s, s);
            }
        }
        return out;
    }

    /**
     * DD's {@code resample(input, (dh, dw), align_corners=True)} on {@code [c, h, w]}: on each axis that shrinks a
     * Lanczos-2 kernel ({@code lanczos(ramp(new / old, 2), 2)}) applied after reflect padding of
     * {@code (len - 1) // 2} (height first), then bicubic interpolation ({@code A = -0.75}, align_corners) to dh × dw.
     */
    public static float[] resample(float[] in, int c, int h, int w, int dh, int dw) {
        float[] x = in;
        if (dh < h) x = filterRows(x, c, h, w, lanczosKernel((double) dh / h));
        if (dw < w) x = filterCols(x, c, h, w, lanczosKernel((double) dw / w));
        return bicubic(x, c, h, w, dh, dw);
    }

    /** {@code lanczos(ramp(ratio, 2), 2)} in float32: taps over (-2, 2) spaced by ratio, normalised to sum 1. */
    static float[] lanczosKernel(double ratio) {
        int n = (int) Math.ceil(2 / ratio + 1);
        float[] ramp = new float[n];
        double cur = 0;
        for (int i = 0; i < n; i++) {
            ramp[i] = (float) cur;
            cur += ratio;
        }
        // cat([-out[1:].flip(0), out])[1:-1]
        int len = 2 * n - 3;
        float[] xs = new float[len];
        for (int i = 0; i < n - 2; i++) xs[i] = -ramp[n - 2 - i];
        for (int i = 0; i < n - 1; i++) xs[n - 2 + i] = ramp[i];
        float[] k = new float[len];
        float sum = 0;
        for (int i = 0; i < len; i++) {
            float v = xs[i];
            k[i] = -2f < v && v < 2f ? sinc(v) * sinc(v / 2f) : 0f;
            sum += k[i];
        }
        for (int i = 0; i < len; i++) k[i] /= sum;
        return k;
    }

    private static float sinc(float x) {
        if (x == 0f) return 1f;
        float px = (float) Math.PI * x;
        return (float) Math.sin(px) / px;
    }

    private static int reflect(int i, int n) {
        if (i < 0) return -i;
        if (i >= n) return 2 * (n - 1) - i;
        return i;
    }

    private static void checkPad(int pad, int n, String axis) {
        if (pad >= n) {
            // torch's reflect padding needs pad < size; DD fails there too
            throw new IllegalArgumentException("resample: reflect padding " + pad + " >= " + axis + " " + n);
        }
    }

    private static float[] filterRows(float[] x, int c, int h, int w, float[] k) {
        int pad = (k.length - 1) / 2;
        checkPad(pad, h, "height");
        float[] out = new float[x.length];
        IntStream.range(0, c * h).parallel().forEach(cy -> {
            int ch = cy / h, y = cy % h;
            for (int xx = 0; xx < w; xx++) {
                float s = 0;
                for (int t = 0; t < k.length; t++) s += k[t] * x[(ch * h + reflect(y - pad + t, h)) * w + xx];
                out[(ch * h + y) * w + xx] = s;
            }
        });
        return out;
    }

    private static float[] filterCols(float[] x, int c, int h, int w, float[] k) {
        int pad = (k.length - 1) / 2;
        checkPad(pad, w, "width");
        float[] out = new float[x.length];
        IntStream.range(0, c * h).parallel().forEach(cy -> {
            int row = cy * w;
            for (int xx = 0; xx < w; xx++) {
                float s = 0;
                for (int t = 0; t < k.length; t++) s += k[t] * x[row + reflect(xx - pad + t, w)];
                out[row + xx] = s;
            }
        });
        return out;
    }

    /** Per output index: the 4 clamped input indices and PyTorch's cubic weights (A = -0.75, align_corners). */
    private static void cubicTaps(int in, int out, int[] idx, float[] wts) {
        float scale = out > 1 ? (float) (in - 1) / (out - 1) : 0f;
        for (int i = 0; i < out; i++) {
            float real = scale * i;
            int i0 = (int) Math.floor(real);
            float t = real - i0;
            final float a = -0.75f;
            wts[i * 4] = cc2(t + 1f, a);
            wts[i * 4 + 1] = cc1(t, a);
            wts[i * 4 + 2] = cc1(1f - t, a);
            wts[i * 4 + 3] = cc2(2f - t, a);
            for (int j = 0; j < 4; j++) idx[i * 4 + j] = Math.min(Math.max(i0 - 1 + j, 0), in - 1);
        }
    }

    private static float cc1(float x, float a) {
        return ((a + 2f) * x - (a + 3f)) * x * x + 1f;
    }

    private static float cc2(float x, float a) {
        return ((a * x - 5f * a) * x + 8f * a) * x - 4f * a;
    }

    /** {@code F.interpolate(x, (dh, dw), mode='bicubic', align_corners=True)} on {@code [c, h, w]}. */
    static float[] bicubic(float[] x, int c, int h, int w, int dh, int dw) {
        int[] iy = new int[dh * 4], ix = new int[dw * 4];
        float[] wy = new float[dh * 4], wx = new float[dw * 4];
        cubicTaps(h, dh, iy, wy);
        cubicTaps(w, dw, ix, wx);
        float[] out = new float[c * dh * dw];
        for (int ch = 0; ch < c; ch++) {
            for (int oy = 0; oy < dh; oy++) {
                for (int ox = 0; ox < dw; ox++) {
                    float s = 0;
                    for (int j = 0; j < 4; j++) {
                        int row = (ch * h + iy[oy * 4 + j]) * w;
                        float r = 0;
                        for (int i = 0; i < 4; i++) r += wx[ox * 4 + i] * x[row + ix[ox * 4 + i]];
                        s += wy[oy * 4 + j] * r;
                    }
                    out[(ch * dh + oy) * dw + ox] = s;
                }
            }
        }
        return out;
    }

    /**
     * DD's {@code encode_image(normalize(MakeCutouts(...)(t))).float()} for one image and one CLIP model: the 16
     * embeddings {@code [cutn, embed_dim]} (float32, on the model's device, no autograd).
     */
    public static Tensor embed(ClipModel clip, Image img, int cutn, Draws draws) {
        int r = clip.inputResolution();
        float[] cuts = cutouts(img.chw(), img.height(), img.width(), r, cutn, draws);
        return encode(clip, cuts, cutn);
    }

    /** {@code encode_image(normalize(cutouts)).float()} for [-1, 1] cutouts {@code [n, 3, r, r]}. */
    public static Tensor encode(ClipModel clip, float[] cutouts, int n) {
        int r = clip.inputResolution();
        float[] x = cutouts.clone();
        normalize(x, r, ClipGuidance.CLIP_MEAN, ClipGuidance.CLIP_STD);
        try (NoGradGuard ng = new NoGradGuard()) {
            Tensor in = Tensors.fromFloats(x, n, 3, r, r);
            // where the weights are now (--offload-inactive may have moved the model to host memory)
            Tensor p0 = clip.parameters(true).get(0);
            if (!p0.is_cpu()) in = in.to(p0.device(), in.scalar_type());
            return clip.encodeImage(in).to(torch.ScalarType.Float);
        }
    }

    /** DD's {@code normalize} (CLIP's mean and std) applied in place to {@code [n, 3, r, r]}. */
    public static void normalize(float[] images, int resolution, float[] mean, float[] std) {
        int plane = resolution * resolution;
        int n = images.length / (3 * plane);
        for (int i = 0; i < n; i++) {
            for (int c = 0; c < 3; c++) {
                int o = (i * 3 + c) * plane;
                for (int p = 0; p < plane; p++) images[o + p] = (images[o + p] - mean[c]) / std[c];
            }
        }
    }

    /**
     * A model's target weights as DD builds them: the text prompts' weights, then {@code weight / cutn} repeated
     * {@code cutn} times per image prompt, all divided by {@code abs(sum)} (in float32, as DD's tensor); a sum below
     * {@link Prompt#MIN_ABS_SUM} is an error (DD's 'The weights must not sum to 0.').
     */
    public static float[] weights(List<Prompt> text, List<Double> imageWeights, int cutn) {
        float[] w = new float[text.size() + imageWeights.size() * cutn];
        int k = 0;
        for (Prompt p : text) w[k++] = (float) p.weight();
        for (double iw : imageWeights) {
            float v = (float) (iw / cutn);
            for (int i = 0; i < cutn; i++) w[k++] = v;
        }
        float sum = 0;
        for (float v : w) sum += v;
        if (Math.abs(sum) < Prompt.MIN_ABS_SUM) {
            throw new IllegalArgumentException("the prompt weights (text and image prompts) must not sum to 0: they sum"
                    + " to " + sum);
        }
        float norm = Math.abs(sum);
        for (int i = 0; i < w.length; i++) w[i] /= norm;
        return w;
    }
}
