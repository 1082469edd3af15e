package disco.kernels;

import disco.util.RandomStream;

/**
 * The random draws cutout drawing consumes, in the order {@link CutoutDrawer} asks for them. The engine uses
 * {@link #of(RandomStream)} (counter-based, keyed by seed/batch/step/model/purpose); reference checks inject given
 * draws with {@link #scripted(double[], int[])} through the same seam.
 */
public interface CutDraws {
    /** Uniform in [0, 1). */
    double uniform();

    /** Uniform integer in [lo, hiExclusive). */
    int integer(int lo, int hiExclusive);

    /** Standard normals into {@code out}. */
    void gaussians(float[] out);

    /**
     * The next {@code count} standard normals as a key and start position instead of values: the draws
     * {@link #gaussians} would have returned (normal i from stream positions start + 2i, start + 2i + 1), which the
     * native kernels generate themselves ({@code disco_cutouts_*_keyed}); the stream advances past them.
     */
    CutSet.KeyedNoise keyedGaussians(long count);

    static CutDraws of(RandomStream stream) {
        return new CutDraws() {
            @Override
            public double uniform() {
                return stream.nextDouble();
            }

            @Override
            public int integer(int lo, int hiExclusive) {
                return stream.nextInt(lo, hiExclusive);
            }

            @Override
            public void gaussians(float[] out) {
                parallelGaussians(stream, out);
            }

            @Override
            public CutSet.KeyedNoise keyedGaussians(long count) {
                if (count < 0) throw new IllegalArgumentException("keyed gaussians: count must be >= 0, got " + count);
                long start = stream.position();
                stream.seek(start + 2 * count);
                return new CutSet.KeyedNoise(stream.key(), start, count);
            }
        };
    }

    /**
     * The same values as {@code stream.fillGaussian(out)} (normal i uses stream positions p+2i and p+2i+1, Box–Muller
     * as {@link RandomStream#nextGaussian()}), computed in parallel chunks since every position is a pure function
     * of the key; the stream ends where fillGaussian would leave it.
     */
    static void parallelGaussians(RandomStream stream, float[] out) {
        final long base = stream.position();
        final int chunk = 1 << 16;
        int chunks = (out.length + chunk - 1) / chunk;
        java.util.stream.IntStream.range(0, chunks).parallel().forEach(c -> {
            int end = Math.min(out.length, (c + 1) * chunk);
            for (int i = c * chunk; i < end; i++) {
                long p = base + 2L * i;
                double u1 = 1.0 - (stream.at(p) >>> 11) * 0x1.0p-53;
                double u2 = (stream.at(p + 1) >>> 11) * 0x1.0p-53;
                out[i] = (float) (Math.sqrt(-2.0 * Math.log(u1)) * Math.cos(2.0 * Math.PI * u2));
            }
        });
        stream.seek(base + 2L * out.length);
    }

    /**
     * Given draws: uniforms and integers are returned in order (an integer outside its range is an error);
     * running out is an error; gaussians are not available.
     */
    static CutDraws scripted(double[] uniforms, int[] integers) {
        return new CutDraws() {
            int u, i;

            @Override
            public double uniform() {
                if (u >= uniforms.length) throw new IllegalStateException("scripted draws: only " + uniforms.length + " uniforms given");
                return uniforms[u++];
            }

            @Override
            public int integer(int lo, int hiExclusive) {
                if (i >= integers.length) throw new IllegalStateException("scripted draws: only " + integers.length + " integers given");
                int v = integers[i++];
                if (v < lo || v >= hiExclusive) {
                    throw new IllegalStateException("scripted draws: integer " + v + " not in [" + lo + ", " + hiExclusive + ")");
                }
                return v;
            }

            @Override
            public void gaussians(float[] out) {
                throw new IllegalStateException("scripted draws: no gaussians given");
            }

            @Override
            public CutSet.KeyedNoise keyedGaussians(long count) {
                throw new IllegalStateException("scripted draws: no gaussians given");
            }
        };
    }
}
