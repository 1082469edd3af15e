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

    /** The samplers' view of the plan's respaced schedule. */
    public static SpacedAlphas of(disco.plan.DiffusionSchedule d) {
        int[] map = d.timestepMap();
        long[] m = new long[map.length];
        for (int i = 0; i < map.length; i++) m[i] = map[i];
        return new SpacedAlphas(d.alphasCumprod(), m, d.originalNumSteps(), d.rescaleTimesteps());
    }

    /** DD's linear-beta schedule over {@code originalSteps}, respaced with DDIM striding to {@code steps}. */
    public static SpacedAlphas linearDdim(int originalSteps, int steps) {
        return of(disco.plan.DiffusionSchedule.create(originalSteps, steps, "ddim" + steps));
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
        // guided-diffusion: timestep_map[i].float() * (1000.0 / original_num_steps), a float32 product
        return rescaleTimesteps ? (float) t * (float) (1000.0 / originalSteps) : t;
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
