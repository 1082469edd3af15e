package disco.sampling;

/**
 * What the sampler does, as DD's settings decide it.
 *
 * @param method DDIM or PLMS ({@code diffusion_sampling_mode})
 * @param eta DDIM's eta (DD default 0.8); ignored by PLMS
 * @param skipSteps {@code skip_steps}: the first {@code skipSteps} respaced steps are not run and
 *     {@code x = q_sample(init or 0, t0, x_T)}
 * @param clipDenoised clamp the unguided {@code pred_xstart} to [-1, 1] before the update ({@code clip_denoised})
 * @param plmsOrder PLMS order, 1..4 (DD: 2)
 * @param symmetry DD's symmetry transformation, or {@link Symmetry#NONE}
 */
public record SamplerConfig(Method method, double eta, int skipSteps, boolean clipDenoised, int plmsOrder,
                            Symmetry symmetry) {
    public enum Method { DDIM, PLMS }

    public SamplerConfig {
        if (method == null) throw new IllegalArgumentException("method is required");
        if (!(eta >= 0) || Double.isInfinite(eta)) throw new IllegalArgumentException("eta must be >= 0, got " + eta);
        if (skipSteps < 0) throw new IllegalArgumentException("skip_steps must be >= 0, got " + skipSteps);
        if (plmsOrder < 1 || plmsOrder > 4) throw new IllegalArgumentException("PLMS order must be 1..4, got " + plmsOrder);
        if (symmetry == null) symmetry = Symmetry.NONE;
    }

    public static SamplerConfig ddim(double eta, int skipSteps, boolean clipDenoised) {
        return new SamplerConfig(Method.DDIM, eta, skipSteps, clipDenoised, 2, Symmetry.NONE);
    }

    public static SamplerConfig plms(int skipSteps, boolean clipDenoised) {
        return new SamplerConfig(Method.PLMS, 0.0, skipSteps, clipDenoised, 2, Symmetry.NONE);
    }

    public SamplerConfig withSymmetry(Symmetry s) {
        return new SamplerConfig(method, eta, skipSteps, clipDenoised, plmsOrder, s);
    }
}
