package disco.plan;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.TreeSet;

/**
 * The respaced diffusion schedule DD samples with, in float64 as guided-diffusion computes it:
 * {@code get_named_beta_schedule(noise_schedule, diffusion_steps)} ({@code linear}: numpy linspace; {@code cosine}:
 * {@code betas_for_alpha_bar} with ᾱ(t) = cos²((t + 0.008) / 1.008 · π/2), betas capped at 0.999), {@code space_timesteps} (DDIM
 * striding {@code ddimN} or section counts {@code "250"} / {@code "10,15,20"}), and SpacedDiffusion's new betas
 * {@code 1 - alphas_cumprod[t] / last} with {@code alphas_cumprod} recomputed as their cumulative product.
 * Index {@code i} is the respaced index (0 = least noise); {@link #timestep(int)} is the original timestep. With
 * {@code rescale_timesteps} (DD: true) the network and {@code cond_fn} see {@code t · 1000 / diffusion_steps}, else
 * the original timestep itself.
 */
public final class DiffusionSchedule {
    private final int originalNumSteps;
    private final int[] timestepMap;
    private final double[] betas;
    private final double[] alphasCumprod;
    private final double[] alphasCumprodPrev;
    private final String respacing;
    private final String noiseSchedule;
    private final boolean rescaleTimesteps;

    /** guided-diffusion's named beta schedules. */
    public static final java.util.List<String> NOISE_SCHEDULES = java.util.List.of("linear", "cosine");

    private DiffusionSchedule(int originalNumSteps, int[] timestepMap, double[] betas, double[] alphasCumprod,
                              String respacing, String noiseSchedule, boolean rescaleTimesteps) {
        this.noiseSchedule = noiseSchedule;
        this.rescaleTimesteps = rescaleTimesteps;
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
        return create(diffusionSteps, steps, respacing, "linear", true);
    }

    /**
     * As {@link #create(int, int, String)} with guided-diffusion's {@code noise_schedule} ({@code linear} or
     * {@code cosine}) and {@code rescale_timesteps}.
     */
    public static DiffusionSchedule create(int diffusionSteps, int steps, String respacing, String noiseSchedule,
                                           boolean rescaleTimesteps) {
        if (diffusionSteps < 1) {
            throw new IllegalArgumentException("diffusion_steps: expected at least 1, found " + diffusionSteps);
        }
        String spacing = respacing == null ? "ddim" + steps : respacing.strip();
        double[] base = betas(noiseSchedule, diffusionSteps);
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
        return new DiffusionSchedule(diffusionSteps, use, newBetas, cumprod(newBetas), spacing, noiseSchedule,
                rescaleTimesteps);
    }

    /** {@code get_named_beta_schedule(name, n)}: {@link #linearBetas} or {@link #cosineBetas}. */
    public static double[] betas(String noiseSchedule, int n) {
        return switch (noiseSchedule) {
            case "linear" -> linearBetas(n);
            case "cosine" -> cosineBetas(n);
            default -> throw new IllegalArgumentException("noise_schedule: expected linear or cosine, found '"
                    + noiseSchedule + "'");
        };
    }

    /**
     * guided-diffusion's cosine schedule: {@code betas_for_alpha_bar(n, ᾱ)} with
     * {@code ᾱ(t) = cos((t + 0.008) / 1.008 * pi / 2) ** 2}, {@code beta_i = min(1 - ᾱ((i+1)/n) / ᾱ(i/n), 0.999)},
     * float64 in Python's operation order.
     */
    public static double[] cosineBetas(int n) {
        double[] b = new double[n];
        for (int i = 0; i < n; i++) {
            double t1 = (double) i / n, t2 = (double) (i + 1) / n;
            b[i] = Math.min(1 - cosineAlphaBar(t2) / cosineAlphaBar(t1), 0.999);
        }
        return b;
    }

    private static double cosineAlphaBar(double t) {
        double c = StrictMath.cos((t + 0.008) / 1.008 * Math.PI / 2);
        return c * c;
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

    /** The beta schedule: {@code linear} or {@code cosine}. */
    public String noiseSchedule() {
        return noiseSchedule;
    }

    /** guided-diffusion's {@code rescale_timesteps}: the network sees {@code t · 1000 / diffusion_steps}. */
    public boolean rescaleTimesteps() {
        return rescaleTimesteps;
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
     * DD computes, returned widened to double); without {@code rescale_timesteps}, {@code timestep_map[i]}.
     */
    public double scaledTimestep(int i) {
        return scaledTimestepF(i);
    }

    /** {@link #scaledTimestep(int)} as the float32 it is. */
    public float scaledTimestepF(int i) {
        if (!rescaleTimesteps) return (float) timestepMap[i];
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
        return "DiffusionSchedule[" + numSteps() + " of " + originalNumSteps + " " + noiseSchedule + " steps, " + respacing
                + (rescaleTimesteps ? "" : ", not rescaled") + ", t="
                + Arrays.toString(Arrays.copyOf(timestepMap, Math.min(5, timestepMap.length))) + "...]";
    }
}
