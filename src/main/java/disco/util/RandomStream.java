package disco.util;

import java.nio.charset.StandardCharsets;

/**
 * A counter-based random stream: every draw is a pure function of a key and a counter, never of a shared running
 * generator. Keys are built from (seed, batch, step, model, purpose), so a run can be forked, resumed or sharded
 * and every branch sees exactly the draws it would have seen alone.
 *
 * <p>Mixing is SplitMix64's finaliser over {@code key + counter * golden-gamma}; uniforms take the top 53 bits;
 * normals use Box–Muller on consecutive pairs. A stream object only holds its key and counter (it is cheap to
 * create one per purpose); {@link #at(long)} reads any position without advancing.
 */
public final class RandomStream {
    private static final long GOLDEN = 0x9E3779B97F4A7C15L;
    private final long key;
    private long counter;

    private RandomStream(long key) {
        this.key = key;
    }

    /** The stream for one purpose ("noise", "cutouts", "augs", "perlin", …) of one model at one step of one batch. */
    public static RandomStream of(long seed, int batch, int step, String model, String purpose) {
        long k = mix(seed ^ 0x5DEECE66DL);
        k = mix(k ^ (batch * GOLDEN + 1));
        k = mix(k ^ (step * 0xBF58476D1CE4E5B9L + 2));
        k = mix(k ^ hash(model == null ? "" : model));
        k = mix(k ^ hash(purpose == null ? "" : purpose));
        return new RandomStream(k);
    }

    /** The stream with this raw 64-bit key (what {@link #key()} returns), at position 0. */
    public static RandomStream ofKey(long key) {
        return new RandomStream(key);
    }

    /** The raw 64-bit key: with a position it names every draw (the native kernels generate from it). */
    public long key() {
        return key;
    }

    /** A stream derived from this one's key and a further label (e.g. one per cutn batch). */
    public RandomStream derive(String label) {
        return new RandomStream(mix(key ^ hash(label)));
    }

    public RandomStream derive(long label) {
        return new RandomStream(mix(key ^ mix(label + GOLDEN)));
    }

    /** The raw 64-bit value at position {@code i} of this stream. */
    public long at(long i) {
        return mix(key + (i + 1) * GOLDEN);
    }

    public long nextLong() {
        return at(counter++);
    }

    /** Uniform in [0, 1). */
    public double nextDouble() {
        return (nextLong() >>> 11) * 0x1.0p-53;
    }

    /** Uniform integer in [lo, hiExclusive). */
    public int nextInt(int lo, int hiExclusive) {
        if (hiExclusive <= lo) throw new IllegalArgumentException("empty range [" + lo + ", " + hiExclusive + ")");
        long span = (long) hiExclusive - lo;
        return (int) (lo + Math.floorMod(nextLong() >>> 1, span));
    }

    /** Standard normal (Box–Muller, one value per call; deterministic per position). */
    public double nextGaussian() {
        double u1 = 1.0 - nextDouble(); // (0, 1]
        double u2 = nextDouble();
        return Math.sqrt(-2.0 * Math.log(u1)) * Math.cos(2.0 * Math.PI * u2);
    }

    /** Fills {@code out} with standard normals. */
    public void fillGaussian(float[] out) {
        for (int i = 0; i < out.length; i++) out[i] = (float) nextGaussian();
    }

    /** How many values have been drawn; with {@link #seek(long)} a stream can be saved and restored. */
    public long position() {
        return counter;
    }

    public void seek(long position) {
        this.counter = position;
    }

    private static long hash(String s) {
        long h = 0xcbf29ce484222325L;
        for (byte b : s.getBytes(StandardCharsets.UTF_8)) {
            h ^= (b & 0xff);
            h *= 0x100000001b3L;
        }
        return h;
    }

    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
