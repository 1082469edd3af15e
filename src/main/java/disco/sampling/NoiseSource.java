package disco.sampling;

import disco.torch.Tensors;
import disco.util.RandomStream;
import org.bytedeco.pytorch.Tensor;

/**
 * Where the sampler's random draws come from: the starting noise {@code x_T} and DDIM's per-step noise. The
 * default draws from {@link RandomStream} keyed by (seed, batch, step, model, purpose); the reference checks inject
 * the fixture's tensors through the same seam.
 */
public interface NoiseSource {
    /** DDIM's noise at executed step {@code step} (0 = first executed step), shape {@code shape}. */
    Tensor stepNoise(int step, long[] shape);

    /** The starting noise {@code x_T}. */
    Tensor initialNoise(long[] shape);

    /** Standard normals from {@code RandomStream.of(seed, batch, step, "", "noise")} ({@code x_T}: step -1). */
    static NoiseSource random(long seed, int batch) {
        return new NoiseSource() {
            @Override
            public Tensor stepNoise(int step, long[] shape) {
                return draw(RandomStream.of(seed, batch, step, "", "noise"), shape);
            }

            @Override
            public Tensor initialNoise(long[] shape) {
                return draw(RandomStream.of(seed, batch, -1, "", "x_T"), shape);
            }
        };
    }

    private static Tensor draw(RandomStream rs, long[] shape) {
        long n = 1;
        for (long s : shape) n *= s;
        float[] v = new float[Math.toIntExact(n)];
        rs.fillGaussian(v);
        return Tensors.fromFloats(v, shape);
    }
}
