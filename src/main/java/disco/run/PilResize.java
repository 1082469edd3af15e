package disco.run;

/**
 * Pillow's {@code Image.resize} for 8-bit images ({@code ImagingResample} in {@code src/libImaging/Resample.c}),
 * reproduced operation for operation so that {@code init.resize((W, H), Image.LANCZOS)} gives the same bytes:
 * separable two-pass resampling (horizontal pass over the rows the vertical pass will read, then vertical), the filter
 * support widened by the scale when downsampling, window bounds rounded as {@code (int)(center ± support + 0.5)},
 * double coefficients normalised to sum 1 and then quantised to 22-bit fixed point, integer accumulation starting at
 * half a unit, and the result clipped to 0..255.
 */
public final class PilResize {
    /** Pillow's resampling filters (name → filter function and support). */
    public enum Filter {
        BOX(0.5), BILINEAR(1.0), HAMMING(1.0), BICUBIC(2.0), LANCZOS(3.0);

        final double support;

        Filter(double support) {
            this.support = support;
        }

        double apply(double x) {
            switch (this) {
                case BOX:
                    return (x > -0.5 && x <= 0.5) ? 1.0 : 0.0;
                case BILINEAR:
                    if (x < 0.0) x = -x;
                    return x < 1.0 ? 1.0 - x : 0.0;
                case HAMMING:
                    if (x < 0.0) x = -x;
                    if (x == 0.0) return 1.0;
                    if (x >= 1.0) return 0.0;
                    x = x * Math.PI;
                    return Math.sin(x) / x * (0.54f + 0.46f * Math.cos(x));
                case BICUBIC: {
                    final double a = -0.5;
                    if (x < 0.0) x = -x;
                    if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
                    if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
                    return 0.0;
                }
                case LANCZOS:
                    if (-3.0 <= x && x < 3.0) return sinc(x) * sinc(x / 3);
                    return 0.0;
                default:
                    throw new AssertionError();
            }
        }

        private static double sinc(double x) {
            if (x == 0.0) return 1.0;
            x = x * Math.PI;
            return Math.sin(x) / x;
        }
    }

    static final int PRECISION_BITS = 32 - 8 - 2;

    private PilResize() {}

    /** Coefficients for one axis: per output pixel, the first input index, the tap count and ksize doubles. */
    record Coeffs(int ksize, int[] bounds, double[] kk) {
        int[] fixedPoint() {
            int[] out = new int[kk.length];
            for (int i = 0; i < kk.length; i++) {
                out[i] = kk[i] < 0 ? (int) (-0.5 + kk[i] * (1 << PRECISION_BITS)) : (int) (0.5 + kk[i] * (1 << PRECISION_BITS));
            }
            return out;
        }
    }

    /** {@code precompute_coeffs}: {@code in0}/{@code in1} are the box edges (floats in Pillow). */
    static Coeffs precompute(int inSize, float in0, float in1, int outSize, Filter filter) {
        double scale = (double) (in1 - in0) / outSize;
        double filterscale = scale < 1.0 ? 1.0 : scale;
        double support = filter.support * filterscale;
        int ksize = (int) Math.ceil(support) * 2 + 1;
        double[] kk = new double[outSize * ksize];
        int[] bounds = new int[outSize * 2];
        double invFilterscale = 1.0 / filterscale;
        for (int xx = 0; xx < outSize; xx++) {
            double center = in0 + (xx + 0.5) * scale;
            double ww = 0.0;
            int xmin = (int) (center - support + 0.5);
            if (xmin < 0) xmin = 0;
            int xmax = (int) (center + support + 0.5);
            if (xmax > inSize) xmax = inSize;
            xmax -= xmin;
            int k = xx * ksize;
            for (int x = 0; x < xmax; x++) {
                double w = filter.apply((x + xmin - center + 0.5) * invFilterscale);
                kk[k + x] = w;
                ww += w;
            }
            if (ww != 0.0) {
                for (int x = 0; x < xmax; x++) kk[k + x] /= ww;
            }
            bounds[xx * 2] = xmin;
            bounds[xx * 2 + 1] = xmax;
        }
        return new Coeffs(ksize, bounds, kk);
    }

    private static int clip8(int ss) {
        int v = ss >> PRECISION_BITS;
        return v < 0 ? 0 : (v > 255 ? 255 : v);
    }

    /** {@code image.resize((width, height), filter)} for an RGB image (box = the whole image, no reducing_gap). */
    public static RgbImage resize(RgbImage in, int width, int height, Filter filter) {
        if (width <= 0 || height <= 0) throw new IllegalArgumentException("target size " + width + "x" + height);
        if (in.width() == width && in.height() == height) return in;
        boolean needHorizontal = width != in.width();
        boolean needVertical = height != in.height();
        Coeffs vert = precompute(in.height(), 0f, in.height(), height, filter);
        int yboxFirst = vert.bounds[0];
        int yboxLast = vert.bounds[height * 2 - 2] + vert.bounds[height * 2 - 1];
        int[] vBounds = vert.bounds.clone();

        int curW = in.width(), curH = in.height();
        byte[] cur = in.rgb();
        if (needHorizontal) {
            Coeffs hor = precompute(in.width(), 0f, in.width(), width, filter);
            int[] k = hor.fixedPoint();
            for (int i = 0; i < height; i++) vBounds[i * 2] -= yboxFirst;
            int rows = yboxLast - yboxFirst;
            byte[] tmp = new byte[width * rows * 3];
            for (int yy = 0; yy < rows; yy++) {
                int inRow = (yy + yboxFirst) * curW * 3;
                for (int xx = 0; xx < width; xx++) {
                    int xmin = hor.bounds[xx * 2], xmax = hor.bounds[xx * 2 + 1];
                    int kb = xx * hor.ksize;
                    int s0 = 1 << (PRECISION_BITS - 1), s1 = s0, s2 = s0;
                    for (int x = 0; x < xmax; x++) {
                        int p = inRow + (x + xmin) * 3;
                        int kx = k[kb + x];
                        s0 += (cur[p] & 0xff) * kx;
                        s1 += (cur[p + 1] & 0xff) * kx;
                        s2 += (cur[p + 2] & 0xff) * kx;
                    }
                    int o = (yy * width + xx) * 3;
                    tmp[o] = (byte) clip8(s0);
                    tmp[o + 1] = (byte) clip8(s1);
                    tmp[o + 2] = (byte) clip8(s2);
                }
            }
            cur = tmp;
            curW = width;
            curH = rows;
        }
        if (needVertical) {
            int[] k = vert.fixedPoint();
            byte[] out = new byte[curW * height * 3];
            for (int yy = 0; yy < height; yy++) {
                int ymin = vBounds[yy * 2], ymax = vBounds[yy * 2 + 1];
                int kb = yy * vert.ksize;
                for (int xx = 0; xx < curW; xx++) {
                    int s0 = 1 << (PRECISION_BITS - 1), s1 = s0, s2 = s0;
                    for (int y = 0; y < ymax; y++) {
                        int p = ((y + ymin) * curW + xx) * 3;
                        int ky = k[kb + y];
                        s0 += (cur[p] & 0xff) * ky;
                        s1 += (cur[p + 1] & 0xff) * ky;
                        s2 += (cur[p + 2] & 0xff) * ky;
                    }
                    int o = (yy * curW + xx) * 3;
                    out[o] = (byte) clip8(s0);
                    out[o + 1] = (byte) clip8(s1);
                    out[o + 2] = (byte) clip8(s2);
                }
            }
            return new RgbImage(curW, height, out);
        }
        if (curH != height) throw new AssertionError("rows " + curH + " != " + height);
        return new RgbImage(curW, curH, cur);
    }
}
