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
                stream.fillGaussian(out);
            }
        };
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
        };
    }
}
