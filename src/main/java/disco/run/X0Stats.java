package disco.run;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What the x0 prediction ({@code pred_xstart}, the image a partial shows) looks like at a step, to catch a run that
 * collapses while staying finite — DD's "ominous black image", or an image pinned at saturated colours by an absurd
 * guidance scale. Measured on the image as it is saved ({@code (x + 1) / 2} clamped to [0, 1]), over every image of
 * the batch:
 *
 * @param mean   the mean channel value
 * @param std    the largest per-image, per-channel standard deviation over the pixels (0: every channel flat)
 * @param dark   the fraction of pixels whose channels are all at most {@value #DARK}
 * @param bright the fraction of pixels whose channels are all at least {@code 1 - }{@value #DARK}
 * @param pinned the fraction of channel values at 0 or 1 (within {@value #PIN}): saturated colours
 */
public record X0Stats(double mean, double std, double dark, double bright, double pinned) {
    public static final double DARK = 0.04;
    public static final double PIN = 0.004;
    /** Thresholds: a collapse when this much of the image is black / white / pinned, or every channel this flat. */
    public static final double MOSTLY = 0.97, PINNED = 0.99, FLAT = 0.01;
    /** Consecutive steps a condition must hold (or hold to the run's last step) to count as a collapse. */
    public static final int PERSIST = 3;

    /** The statistics of {@code n} CHW images of {@code width × height} in model space ([-1, 1]). */
    public static X0Stats of(float[] chw, int width, int height) {
        int plane = width * height, per = 3 * plane;
        int n = chw.length / per;
        double sum = 0, maxStd = 0;
        long dark = 0, bright = 0, pinned = 0;
        for (int k = 0; k < n; k++) {
            double[] s = new double[3], s2 = new double[3];
            for (int p = 0; p < plane; p++) {
                boolean allDark = true, allBright = true;
                for (int c = 0; c < 3; c++) {
                    double v = (chw[k * per + c * plane + p] + 1.0) / 2.0;
                    if (!(v >= 0)) v = 0;
                    if (v > 1) v = 1;
                    s[c] += v;
                    s2[c] += v * v;
                    allDark &= v <= DARK;
                    allBright &= v >= 1 - DARK;
                    if (v <= PIN || v >= 1 - PIN) pinned++;
                }
                if (allDark) dark++;
                if (allBright) bright++;
            }
            for (int c = 0; c < 3; c++) {
                sum += s[c];
                double m = s[c] / plane;
                maxStd = Math.max(maxStd, Math.sqrt(Math.max(0, s2[c] / plane - m * m)));
            }
        }
        long pixels = (long) n * plane;
        return new X0Stats(sum / (pixels * 3.0), maxStd, (double) dark / pixels, (double) bright / pixels,
                (double) pinned / (pixels * 3.0));
    }

    /** The collapse this step's image shows — {@code black}, {@code white}, {@code saturated}, {@code constant} — or null. */
    public String kind() {
        if (dark >= MOSTLY) return "black";
        if (bright >= MOSTLY) return "white";
        if (pinned >= PINNED) return "saturated";
        if (std < FLAT) return "constant";
        return null;
    }

    /** The log's {@code x0} object. */
    public Map<String, Object> toJson() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("mean", round(mean));
        m.put("std", round(std));
        m.put("dark", round(dark));
        m.put("bright", round(bright));
        m.put("pinned", round(pinned));
        return m;
    }

    private static double round(double v) {
        return Math.round(v * 1e5) / 1e5;
    }

    @Override
    public String toString() {
        return String.format(java.util.Locale.ROOT, "mean %.3f, channel std %.4f, black %.0f%%, white %.0f%%, pinned %.0f%%",
                mean, std, 100 * dark, 100 * bright, 100 * pinned);
    }
}
