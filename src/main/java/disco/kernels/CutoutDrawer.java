package disco.kernels;

import java.util.ArrayList;
import java.util.List;

/**
 * Draws {@link Cut}s following Disco Diffusion's {@code MakeCutoutsDango} (v5, animation_mode 'None'):
 * <ul>
 * <li>overview: the image padded to a square (F.pad of the short side by {@code (long - short) // 2} each side;
 *     DD's argument order pads width by {@code (H - min) // 2} and height by {@code (W - min) // 2}) resized to S;
 *     {@code k <= 4} gives [plain, gray, hflip, gray∘hflip][:k], {@code k > 4} gives k plain copies;</li>
 * <li>inner crops: {@code size = int(r ** cut_ic_pow * (max_size - min_size) + min_size)} (float32 as torch does),
 *     {@code max_size = min(H, W)}, {@code min_size = min(H, W, S)}, offsets x then y uniform in
 *     {@code [0, side - size]}; crop i is gray when {@code i <= int(cut_icgray_p * cut_innercut)};</li>
 * <li>augmentations unless {@code skip_augs}: DD's T.Compose — RandomHorizontalFlip(0.5), noise 0.01,
 *     RandomAffine(degrees=10, translate=(0.05, 0.05), bilinear, fill 0), noise 0.01, RandomGrayscale(0.1),
 *     noise 0.01, ColorJitter(0.1, 0.1, 0.1, 0.1) — one parameter draw for the whole batch as DD does, or one per cut
 *     with {@code aug_per_cut}. Noise is standard normals times 0.01 per element.</li>
 * </ul>
 * Draw order: inner crops (uniform, integer x, integer y per crop), then augmentation parameters (per batch or per
 * cut: flip uniform, angle uniform, tx uniform, ty uniform, gray uniform, jitter permutation, brightness, contrast,
 * saturation, hue uniforms), then the noise normals — reserved as a key and start position
 * ({@link CutDraws#keyedGaussians}) that the native kernels generate from, not drawn here.
 */
public final class CutoutDrawer {
    public static final double NOISE = 0.01;
    public static final double FLIP_P = 0.5;
    public static final double DEGREES = 10;
    public static final double TRANSLATE = 0.05;
    public static final double GRAY_P = 0.1;
    public static final double JITTER = 0.1;

    private CutoutDrawer() {}

    /**
     * The draws of one {@code MakeCutoutsDango} call: the stream keyed (seed, batch, step, model, "cutouts"),
     * derived per cutn batch, so every (step, model, cutn batch) has its own reproducible draws whatever ran before.
     */
    public static CutDraws drawsFor(long seed, int batch, int step, String model, int cutnBatch) {
        return CutDraws.of(disco.util.RandomStream.of(seed, batch, step, model, "cutouts").derive(cutnBatch));
    }

    /** DD's cuts for image {@code image} ({@code height x width}) at cut size {@code size}. */
    public static CutSet draw(int image, int height, int width, int size, CutSettings s, CutDraws draws) {
        List<Cut> cuts = new ArrayList<>(overview(image, height, width, s.overview()));
        cuts.addAll(innerCrops(image, height, width, size, s.innerCut(), s.icPow(), s.icGrayP(), draws));
        if (s.skipAugs() || cuts.isEmpty()) return new CutSet(cuts, size, null);
        List<Cut> augmented = new ArrayList<>(cuts.size());
        Aug batch = s.augPerCut() ? null : Aug.draw(size, draws);
        for (Cut c : cuts) augmented.add((batch != null ? batch : Aug.draw(size, draws)).apply(c));
        return new CutSet(augmented, size, null, draws.keyedGaussians((long) augmented.size() * 9 * size * size));
    }

    /** The overview cuts (no draws). */
    public static List<Cut> overview(int image, int height, int width, int k) {
        List<Cut> cuts = new ArrayList<>();
        if (k <= 0) return cuts;
        int m = Math.min(height, width);
        int padW = (height - m) / 2; // F.pad's first pair pads the last dim (width) by (sideY - max_size) // 2
        int padH = (width - m) / 2;
        Cut plain = Cut.box(image, -padH, -padW, height + 2 * padH, width + 2 * padW);
        if (k <= 4) {
            Cut[] four = {plain, plain.withGrayPre(true), plain.withHflip(true), plain.withGrayPre(true).withHflip(true)};
            for (int i = 0; i < k; i++) cuts.add(four[i]);
        } else {
            for (int i = 0; i < k; i++) cuts.add(plain);
        }
        return cuts;
    }

    /** The inner crops, consuming (uniform, integer x, integer y) per crop from {@code draws}. */
    public static List<Cut> innerCrops(int image, int height, int width, int size, int count, double icPow,
            double icGrayP, CutDraws draws) {
        List<Cut> cuts = new ArrayList<>();
        int maxSize = Math.min(height, width);
        int minSize = Math.min(Math.min(height, width), size);
        int grayUpTo = (int) (icGrayP * count); // python int() truncates toward zero
        for (int i = 0; i < count; i++) {
            float r = (float) draws.uniform();
            float p = (float) Math.pow(r, (float) icPow);
            int sz = (int) (p * (float) (maxSize - minSize) + (float) minSize);
            int ox = draws.integer(0, width - sz + 1);
            int oy = draws.integer(0, height - sz + 1);
            cuts.add(Cut.box(image, oy, ox, sz, sz).withGrayPre(i <= grayUpTo));
        }
        return cuts;
    }

    /** One draw of DD's augmentation parameters. */
    record Aug(boolean flip, Cut.Affine affine, boolean gray, Cut.Jitter jitter) {
        static Aug draw(int size, CutDraws d) {
            boolean flip = d.uniform() < FLIP_P;
            double angle = -DEGREES + 2 * DEGREES * d.uniform();
            double maxD = TRANSLATE * size;
            // torchvision: int(round(uniform(-max_dx, max_dx))), round half to even
            double tx = Math.rint(-maxD + 2 * maxD * d.uniform());
            double ty = Math.rint(-maxD + 2 * maxD * d.uniform());
            boolean gray = d.uniform() < GRAY_P;
            List<Integer> order = new ArrayList<>(List.of(0, 1, 2, 3));
            for (int i = 3; i > 0; i--) { // Fisher–Yates (torch.randperm(4))
                int j = d.integer(0, i + 1);
                Integer t = order.get(i);
                order.set(i, order.get(j));
                order.set(j, t);
            }
            double b = 1 - JITTER + 2 * JITTER * d.uniform();
            double c = 1 - JITTER + 2 * JITTER * d.uniform();
            double s = 1 - JITTER + 2 * JITTER * d.uniform();
            double h = -JITTER + 2 * JITTER * d.uniform();
            return new Aug(flip, new Cut.Affine(angle, tx, ty, true), gray, new Cut.Jitter(order, b, c, s, h));
        }

        Cut apply(Cut c) {
            float n = (float) NOISE;
            return c.withHflip(c.hflip() ^ flip).withAffine(affine).withGrayAug(gray).withNoise(n, n, n).withJitter(jitter);
        }
    }
}
