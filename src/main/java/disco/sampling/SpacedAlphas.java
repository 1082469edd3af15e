package disco.sampling;

import java.util.Arrays;

/**
 * The respaced diffusion schedule the samplers work on: {@code alphas_cumprod} of the respaced process (float64, as
 * guided-diffusion keeps it) and the map from respaced index to original timestep. Every coefficient a sampler or
 * denoiser needs is derived here, in float64; callers cast to float32 where DD's {@code _extract_into_tensor} does.
 *
 * <p>Index {@code i} is a respaced index ({@code 0 .. size()-1}); DD's loop runs from {@code size()-1-skip_steps}
 * down to 0. Python's negative indexing is reproduced for {@code i = -1} (DD's PLMS first step at index 0 asks for
 * {@code t - 1}).
 *
 * @param alphasCumprod respaced cumulative alphas, strictly decreasing in (0, 1]
 * @param timestepMap original timestep of each respaced index
 * @param originalSteps length of the original process ({@code diffusion_steps})
 * @param rescaleTimesteps whether the network sees {@code t * 1000 / originalSteps} (DD: true)
 */
public record SpacedAlphas(double[] alphasCumprod, long[] timestepMap, int originalSteps, boolean rescaleTimesteps) {
    public SpacedAlphas {
        if (alphasCumprod.length == 0 || alphasCumprod.length != timestepMap.length) {
            throw new IllegalArgumentException("alphas_cumprod and timestep_map must have the same, non-zero length");
        }
        for (double a : alphasCumprod) {
            if (!(a > 0 && a <= 1)) throw new IllegalArgumentException("alphas_cumprod must lie in (0, 1], got " + a);
        }
        alphasCumprod = alphasCumprod.clone();
        timestepMap = timestepMap.clone();
    }

    /**
     * guided-diffusion's linear beta schedule over {@code originalSteps} ({@code beta} from {@code 1e-4 * 1000/T} to
     * {@code 0.02 * 1000/T}), respaced to {@code steps} with DDIM striding ({@code ddim{steps}}), as DD builds it.
     */
    public static SpacedAlphas linearDdim(int originalSteps, int steps) {
        if (steps <= 0 || steps > originalSteps) throw new IllegalArgumentException("steps must be in 1.." + originalSteps);
        double scale = 1000.0 / originalSteps;
        double b0 = scale * 0.0001, b1 = scale * 0.02;
        double[] full = new double[originalSteps];
        double prod = 1;
        for (int i = 0; i < originalSteps; i++) {
            double beta = originalSteps == 1 ? b0 : b0 + (b1 - b0) * i / (originalSteps - 1);
            prod *= 1.0 - beta;
            full[i] = prod;
        }
        if (originalSteps % steps != 0) throw new IllegalArgumentException("ddim striding needs steps | originalSteps");
        int stride = originalSteps / steps;
        long[] map = new long[steps];
        double[] ac = new double[steps];
        double last = 1.0, cum = 1.0;
        for (int k = 0; k < steps; k++) {
            map[k] = (long) k * stride;
            double beta = 1.0 - full[(int) map[k]] / last; // respace.py: new betas, then cumprod again
            last = full[(int) map[k]];
            cum *= 1.0 - beta;
            ac[k] = cum;
        }
        return new SpacedAlphas(ac, map, originalSteps, true);
    }

    /** Number of respaced steps. */
    public int size() {
        return alphasCumprod.length;
    }

    private int wrap(int i) {
        int n = alphasCumprod.length;
        if (i < -n || i >= n) throw new IndexOutOfBoundsException("respaced index " + i + " outside 0.." + (n - 1));
        return i < 0 ? i + n : i;
    }

    public double alphaBar(int i) {
        return alphasCumprod[wrap(i)];
    }

    /** {@code alphas_cumprod_prev}: 1 at index 0. */
    public double alphaBarPrev(int i) {
        int j = wrap(i);
        return j == 0 ? 1.0 : alphasCumprod[j - 1];
    }

    public double sqrtAlphaBar(int i) {
        return Math.sqrt(alphaBar(i));
    }

    public double sqrtOneMinusAlphaBar(int i) {
        return Math.sqrt(1.0 - alphaBar(i));
    }

    public double sqrtRecipAlphaBar(int i) {
        return Math.sqrt(1.0 / alphaBar(i));
    }

    public double sqrtRecipM1AlphaBar(int i) {
        return Math.sqrt(1.0 / alphaBar(i) - 1);
    }

    /** The timestep the network is called with at respaced index {@code i} (guided-diffusion's wrapped model). */
    public double modelTime(int i) {
        long t = timestepMap[wrap(i)];
        return rescaleTimesteps ? t * (1000.0 / originalSteps) : t;
    }

    /** DD's secondary-model time: {@code atan2(sigma, alpha) * 2 / pi} in float32, alpha/sigma cast to float32 first. */
    public float cosineTime(int i) {
        float alpha = (float) sqrtAlphaBar(i);
        float sigma = (float) sqrtOneMinusAlphaBar(i);
        return (float) ((float) Math.atan2(sigma, alpha) * 2 / Math.PI);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof SpacedAlphas s && Arrays.equals(alphasCumprod, s.alphasCumprod)
                && Arrays.equals(timestepMap, s.timestepMap) && originalSteps == s.originalSteps
                && rescaleTimesteps == s.rescaleTimesteps;
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(alphasCumprod) * 31 + Arrays.hashCode(timestepMap);
    }

    @Override
    public String toString() {
        return "SpacedAlphas[" + size() + " of " + originalSteps + "]";
    }
}
