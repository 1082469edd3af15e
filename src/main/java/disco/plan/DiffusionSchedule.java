package disco.plan;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.TreeSet;

/**
 * The respaced linear-beta diffusion schedule DD samples with, in float64 as guided-diffusion computes it:
 * {@code get_named_beta_schedule('linear', diffusion_steps)} (numpy linspace), {@code space_timesteps} (DDIM
 * striding {@code ddimN} or section counts {@code "250"} / {@code "10,15,20"}), and SpacedDiffusion's new betas
 * {@code 1 - alphas_cumprod[t] / last} with {@code alphas_cumprod} recomputed as their cumulative product.
 * Index {@code i} is the respaced index (0 = least noise); {@link #timestep(int)} is the original timestep.
 */
public final class DiffusionSchedule {
    private final int originalNumSteps;
    private final int[] timestepMap;
    private final double[] betas;
    private final double[] alphasCumprod;
    private final double[] alphasCumprodPrev;
    private final String respacing;

    private DiffusionSchedule(int originalNumSteps, int[] timestepMap, double[] betas, double[] alphasCumprod,
                              String respacing) {
        this.originalNumSteps = originalNumSteps;
        this.timestepMap = timestepMap;
        this.betas = betas;
        this.alphasCumprod = alphasCumprod;
        this.alphasCumprodPrev = new double[alphasCumprod.length];
        alphasCumprodPrev[0] = 1.0;
        System.arraycopy(alphasCumprod, 0, alphasCumprodPrev, 1, alphasCumprod.length - 1);
        this.respacing = respacing;
    }

    /** DD's {@code diffusion_steps}: {@code (1000 // steps) * steps} when steps &lt; 1000, else steps. */
    public static int diffusionSteps(int steps) {
        if (steps < 1) throw new IllegalArgumentException("steps: expected at least 1, found " + steps);
        return steps < 1000 ? (1000 / steps) * steps : steps;
    }

    /** DD's schedule for {@code steps}: {@link #diffusionSteps} original steps respaced with {@code respacing}. */
    public static DiffusionSchedule create(int steps, String respacing) {
        return create(diffusionSteps(steps), steps, respacing);
    }

    /**
     * @param diffusionSteps the original number of timesteps (linear betas over these)
     * @param steps          the number of sampling steps (used when respacing is null: {@code ddim{steps}})
     * @param respacing      {@code ddimN}, or comma-separated section counts; null means {@code ddim{steps}}
     */
    public static DiffusionSchedule create(int diffusionSteps, int steps, String respacing) {
        if (diffusionSteps < 1) {
            throw new IllegalArgumentException("diffusion_steps: expected at least 1, found " + diffusionSteps);
        }
        String spacing = respacing == null ? "ddim" + steps : respacing.strip();
        double[] base = linearBetas(diffusionSteps);
        double[] baseCumprod = cumprod(base);
        int[] use = spaceTimesteps(diffusionSteps, spacing);
        double[] newBetas = new double[use.length];
        double last = 1.0;
        int k = 0;
        for (int i = 0; i < diffusionSteps && k < use.length; i++) {
            if (use[k] == i) {
                newBetas[k] = 1 - baseCumprod[i] / last;
                last = baseCumprod[i];
                k++;
            }
        }
        return new DiffusionSchedule(diffusionSteps, use, newBetas, cumprod(newBetas), spacing);
    }

    /** numpy.linspace(scale * 0.0001, scale * 0.02, n) with scale = 1000 / n, float64. */
    public static double[] linearBetas(int n) {
        double scale = 1000.0 / n;
        double start = scale * 0.0001;
        double stop = scale * 0.02;
        double[] b = new double[n];
        if (n == 1) {
            b[0] = start;
            return b;
        }
        double step = (stop - start) / (n - 1);
        for (int i = 0; i < n; i++) b[i] = i * step + start;
        b[n - 1] = stop;
        return b;
    }

    /** {@code np.cumprod(1 - betas)}. */
    static double[] cumprod(double[] betas) {
        double[] out = new double[betas.length];
        double acc = 1.0;
        for (int i = 0; i < betas.length; i++) {
            acc *= 1.0 - betas[i];
            out[i] = acc;
        }
        return out;
    }

    /**
     * guided-diffusion's {@code space_timesteps}, sorted ascending. {@code ddimN}: the smallest stride s in
     * [1, numTimesteps) with {@code len(range(0, numTimesteps, s)) == N}, an error when none; otherwise section
     * counts, each section strided with Python's round-half-even.
     */
    public static int[] spaceTimesteps(int numTimesteps, String sectionCounts) {
        String spec = sectionCounts.strip();
        if (spec.startsWith("ddim")) {
            int desired;
            try {
                desired = Integer.parseInt(spec.substring(4));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("respacing: expected ddimN, found '" + spec + "'");
            }
            for (int stride = 1; stride < numTimesteps; stride++) {
                int count = (numTimesteps + stride - 1) / stride;
                if (count == desired) {
                    int[] out = new int[count];
                    for (int j = 0; j < count; j++) out[j] = j * stride;
                    return out;
                }
            }
            throw new IllegalArgumentException("respacing: cannot create exactly " + desired
                    + " steps from " + numTimesteps + " with an integer stride");
        }
        List<Integer> counts = new ArrayList<>();
        for (String part : spec.split(",")) {
            try {
                counts.add(Integer.parseInt(part.strip()));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("respacing: expected ddimN or comma-separated counts, found '"
                        + spec + "'");
            }
        }
        int sizePer = numTimesteps / counts.size();
        int extra = numTimesteps % counts.size();
        int startIdx = 0;
        TreeSet<Integer> all = new TreeSet<>();
        for (int i = 0; i < counts.size(); i++) {
            int sectionCount = counts.get(i);
            int size = sizePer + (i < extra ? 1 : 0);
            if (size < sectionCount) {
                throw new IllegalArgumentException("respacing: cannot divide a section of " + size + " steps into "
                        + sectionCount);
            }
            double fracStride = sectionCount <= 1 ? 1 : (double) (size - 1) / (sectionCount - 1);
            double cur = 0.0;
            for (int j = 0; j < sectionCount; j++) {
                all.add(startIdx + (int) Math.rint(cur));
                cur += fracStride;
            }
            startIdx += size;
        }
        if (all.isEmpty()) throw new IllegalArgumentException("respacing: '" + spec + "' selects no timesteps");
        return all.stream().mapToInt(Integer::intValue).toArray();
    }

    /** The number of respaced steps. */
    public int numSteps() {
        return timestepMap.length;
    }

    /** The original number of timesteps ({@code diffusion_steps}). */
    public int originalNumSteps() {
        return originalNumSteps;
    }

    /** The respacing this schedule was built with ({@code ddim250}, {@code "10,15,20"}). */
    public String respacing() {
        return respacing;
    }

    public double alphaCumprod(int i) {
        return alphasCumprod[i];
    }

    public double alphaCumprodPrev(int i) {
        return alphasCumprodPrev[i];
    }

    public double beta(int i) {
        return betas[i];
    }

    public double sqrtOneMinusAlphaCumprod(int i) {
        return Math.sqrt(1.0 - alphasCumprod[i]);
    }

    /** {@code sqrt(1 / alphas_cumprod)}, as guided-diffusion precomputes it. */
    public double sqrtRecipAlphaCumprod(int i) {
        return Math.sqrt(1.0 / alphasCumprod[i]);
    }

    /** {@code sqrt(1 / alphas_cumprod - 1)}, as guided-diffusion precomputes it. */
    public double sqrtRecipm1AlphaCumprod(int i) {
        return Math.sqrt(1.0 / alphasCumprod[i] - 1);
    }

    /** The original timestep of respaced index i. */
    public int timestep(int i) {
        return timestepMap[i];
    }

    /**
     * What the model (and DD's {@code cond_fn}) is fed for respaced index i: guided-diffusion's
     * {@code timestep_map[i].float() * (1000.0 / original_num_steps)}, a float32 product (exactly the float32 value
     * DD computes, returned widened to double).
     */
    public double scaledTimestep(int i) {
        return scaledTimestepF(i);
    }

    /** {@link #scaledTimestep(int)} as the float32 it is. */
    public float scaledTimestepF(int i) {
        return (float) timestepMap[i] * (float) (1000.0 / originalNumSteps);
    }

    /**
     * DD's schedule index at respaced index i: {@code 1000 - (int(t) + 1)} with t the float32
     * {@link #scaledTimestep(int)} (DD's {@code t_int = int(t.item()) + 1}).
     */
    public int scheduleIndex(int i) {
        return 1000 - tInt(i);
    }

    /** DD's {@code t_int = int(t.item()) + 1}. */
    public int tInt(int i) {
        return (int) scaledTimestepF(i) + 1;
    }

    public double[] alphasCumprod() {
        return alphasCumprod.clone();
    }

    public double[] alphasCumprodPrev() {
        return alphasCumprodPrev.clone();
    }

    public double[] betas() {
        return betas.clone();
    }

    public int[] timestepMap() {
        return timestepMap.clone();
    }

    @Override
    public String toString() {
        return "DiffusionSchedule[" + numSteps() + " of " + originalNumSteps + " steps, " + respacing + ", t="
                + Arrays.toString(Arrays.copyOf(timestepMap, Math.min(5, timestepMap.length))) + "...]";
    }
}
