package disco.util;

/** The fixtures' error measure: {@code max|ours - ref| / max|ref|}. */
public final class Compare {
    private Compare() {}

    public static double maxRelErr(float[] ours, float[] ref) {
        if (ours.length != ref.length) {
            throw new IllegalArgumentException("length " + ours.length + " vs reference " + ref.length);
        }
        double maxDiff = 0, maxRef = 0;
        for (int i = 0; i < ref.length; i++) {
            double d = Math.abs((double) ours[i] - ref[i]);
            if (Double.isNaN(d)) return Double.NaN;
            maxDiff = Math.max(maxDiff, d);
            maxRef = Math.max(maxRef, Math.abs(ref[i]));
        }
        return maxRef == 0 ? maxDiff : maxDiff / maxRef;
    }

    public static double maxRelErr(double[] ours, double[] ref) {
        if (ours.length != ref.length) {
            throw new IllegalArgumentException("length " + ours.length + " vs reference " + ref.length);
        }
        double maxDiff = 0, maxRef = 0;
        for (int i = 0; i < ref.length; i++) {
            double d = Math.abs(ours[i] - ref[i]);
            if (Double.isNaN(d)) return Double.NaN;
            maxDiff = Math.max(maxDiff, d);
            maxRef = Math.max(maxRef, Math.abs(ref[i]));
        }
        return maxRef == 0 ? maxDiff : maxDiff / maxRef;
    }
}
