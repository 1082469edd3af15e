package disco.kernels;

import java.util.List;

/**
 * One cutout: the source box of image {@code image} (rows {@code y0 .. y0+height}, columns {@code x0 .. x0+width};
 * pixels outside the image read 0, which is how DD's zero padding of the short side is expressed), resized to the
 * cut size with ResizeRight's antialiased cubic, then, in DD's order: {@code grayPre} (the overview/inner-crop
 * grayscale), {@code hflip}, noise 1, {@code affine} (null = none), noise 2, {@code grayAug} (RandomGrayscale),
 * noise 3, {@code jitter} (null = none). Noise scales multiply standard normals supplied with the batch.
 */
public record Cut(int image, int y0, int x0, int height, int width, boolean grayPre, boolean hflip, float noise1,
        Affine affine, float noise2, boolean grayAug, float noise3, Jitter jitter) {

    /** torchvision affine: rotation in degrees about the centre, translation in pixels; fill 0 with the mask. */
    public record Affine(double angle, double tx, double ty, boolean fillMask) {
        public Affine {
            if (!Double.isFinite(angle) || !Double.isFinite(tx) || !Double.isFinite(ty)) {
                throw new IllegalArgumentException("affine: angle and translation must be finite");
            }
        }
    }

    /** ColorJitter at fixed factors, applied in {@code order} (0 brightness, 1 contrast, 2 saturation, 3 hue). */
    public record Jitter(List<Integer> order, double brightness, double contrast, double saturation, double hue) {
        public static final List<Integer> IDENTITY_ORDER = List.of(0, 1, 2, 3);

        public Jitter {
            order = List.copyOf(order);
            if (order.size() > 4) throw new IllegalArgumentException("jitter: at most 4 ops, got " + order);
            boolean[] seen = new boolean[4];
            for (int op : order) {
                if (op < 0 || op > 3 || seen[op]) throw new IllegalArgumentException("jitter: order must be distinct ops 0..3, got " + order);
                seen[op] = true;
            }
            if (!(brightness >= 0) || !(contrast >= 0) || !(saturation >= 0)) {
                throw new IllegalArgumentException("jitter: brightness, contrast, saturation must be >= 0");
            }
            if (!(hue >= -0.5 && hue <= 0.5)) throw new IllegalArgumentException("jitter: hue must be in [-0.5, 0.5], got " + hue);
        }

        /** A single op at a factor (the others at their identity). */
        public static Jitter single(int op, double factor) {
            return new Jitter(List.of(op), op == 0 ? factor : 1, op == 1 ? factor : 1, op == 2 ? factor : 1,
                    op == 3 ? factor : 0);
        }
    }

    public Cut {
        if (image < 0) throw new IllegalArgumentException("cut: image index must be >= 0, got " + image);
        if (height < 1 || width < 1) throw new IllegalArgumentException("cut: box size must be positive, got " + height + "x" + width);
        if (!Float.isFinite(noise1) || !Float.isFinite(noise2) || !Float.isFinite(noise3)) {
            throw new IllegalArgumentException("cut: noise scales must be finite");
        }
    }

    /** A plain cut of a box (no augmentation). */
    public static Cut box(int image, int y0, int x0, int height, int width) {
        return new Cut(image, y0, x0, height, width, false, false, 0, null, 0, false, 0, null);
    }

    public Cut withGrayPre(boolean g) {
        return new Cut(image, y0, x0, height, width, g, hflip, noise1, affine, noise2, grayAug, noise3, jitter);
    }

    public Cut withHflip(boolean f) {
        return new Cut(image, y0, x0, height, width, grayPre, f, noise1, affine, noise2, grayAug, noise3, jitter);
    }

    public Cut withAffine(Affine a) {
        return new Cut(image, y0, x0, height, width, grayPre, hflip, noise1, a, noise2, grayAug, noise3, jitter);
    }

    public Cut withGrayAug(boolean g) {
        return new Cut(image, y0, x0, height, width, grayPre, hflip, noise1, affine, noise2, g, noise3, jitter);
    }

    public Cut withNoise(float n1, float n2, float n3) {
        return new Cut(image, y0, x0, height, width, grayPre, hflip, n1, affine, n2, grayAug, n3, jitter);
    }

    public Cut withJitter(Jitter j) {
        return new Cut(image, y0, x0, height, width, grayPre, hflip, noise1, affine, noise2, grayAug, noise3, j);
    }

    public boolean hasNoise() {
        return noise1 != 0 || noise2 != 0 || noise3 != 0;
    }

    /** The row of {@code disco/cutouts.h} (DISCO_CUT_* offsets) written at {@code dst[off ..]}. */
    void writeRow(float[] dst, int off) {
        dst[off] = image;
        dst[off + 1] = y0;
        dst[off + 2] = x0;
        dst[off + 3] = height;
        dst[off + 4] = width;
        dst[off + 5] = grayPre ? 1 : 0;
        dst[off + 6] = hflip ? 1 : 0;
        dst[off + 7] = noise1;
        if (affine != null) {
            dst[off + 8] = 1;
            dst[off + 9] = (float) affine.angle();
            dst[off + 10] = (float) affine.tx();
            dst[off + 11] = (float) affine.ty();
            dst[off + 12] = affine.fillMask() ? 1 : 0;
        }
        dst[off + 13] = noise2;
        dst[off + 14] = grayAug ? 1 : 0;
        dst[off + 15] = noise3;
        if (jitter != null) {
            dst[off + 16] = jitter.order().size();
            for (int j = 0; j < jitter.order().size(); j++) dst[off + 17 + j] = jitter.order().get(j);
            dst[off + 21] = (float) jitter.brightness();
            dst[off + 22] = (float) jitter.contrast();
            dst[off + 23] = (float) jitter.saturation();
            dst[off + 24] = (float) jitter.hue();
        } else {
            dst[off + 21] = dst[off + 22] = dst[off + 23] = 1;
        }
    }
}
