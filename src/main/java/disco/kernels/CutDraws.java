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
     * {@link #gaussians} would have returned ({@link #parallelGaussians}: the pair of normals 2j, 2j + 1 from stream
     * positions start + 2j, start + 2j + 1), which the
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
     * The cutout noise: Box–Muller pairs of the counter-based stream from its current position p: pair j uses
     * positions p + 2j and p + 2j + 1 (u1 = 1 - top53 2^-53, u2 = top53 2^-53, r = sqrt(-2 ln u1)); normal 2j is
     * r cos(2 pi u2), normal 2j + 1 is r sin(2 pi u2) — both outputs of the transform, as the native kernels generate
     * them (one logarithm per two normals). Computed in parallel chunks, every position being a pure function of
     * the key; the stream advances by 2 positions per normal (what the draws after it expect), as
     * {@code fillGaussian} does.
     */
    static void parallelGaussians(RandomStream stream, float[] out) {
        final long base = stream.position();
        final int chunk = 1 << 16;  // even: no pair straddles two chunks
        int chunks = (out.length + chunk - 1) / chunk;
        java.util.stream.IntStream.range(0, chunks).parallel().forEach(c -> {
            int end = Math.min(out.length, (c + 1) * chunk);
            for (int i = c * chunk; i < end; i += 2) {
                long p = base + i;
                double u1 = 1.0 - (stream.at(p) >>> 11) * 0x1.0p-53;
                double u2 = (stream.at(p + 1) >>> 11) * 0x1.0p-53;
                double r = Math.sqrt(-2.0 * Math.log(u1)), theta = 2.0 * Math.PI * u2;
                out[i] = (float) (r * Math.cos(theta));
                if (i + 1 < end) out[i + 1] = (float) (r * Math.sin(theta));
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
