package disco.plan;

import disco.settings.Settings;
import disco.util.DiscoException;

import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * What {@code diffusion_model_config} decides beyond the network's architecture, over DD's values: guided-diffusion's
 * {@code create_model_and_diffusion} arguments. Every key is honoured or refused here, with a message naming it:
 * <ul>
 * <li>{@code noise_schedule} ({@code linear}, {@code cosine}) and {@code rescale_timesteps}: the schedule
 * ({@link #schedule});</li>
 * <li>{@code diffusion_steps}, {@code timestep_respacing}: DD derives both from {@code steps}
 * ({@code (1000 // steps) * steps}, {@code ddim{steps}}) and overwrites what the config says; a value that differs
 * from the derived one is refused;</li>
 * <li>{@code use_fp16} (the precision: fp16 on CUDA) and {@code use_checkpoint} (UNet checkpointing): run options;</li>
 * <li>{@code predict_xstart}, {@code use_kl}, {@code sigma_small}, {@code rescale_learned_sigmas},
 * {@code class_cond}: only guided-diffusion's defaults (false) are implemented; true is refused;</li>
 * <li>the architecture keys ({@code image_size}, {@code num_channels}, ..., {@code learn_sigma}): the UNet is built
 * from them and loaded strictly, key for key and shape for shape ({@code UNetConfig}); their types are checked
 * here.</li>
 * </ul>
 *
 * @param diffusionSteps DD's {@code diffusion_steps}
 * @param timestepRespacing DD's {@code ddim{steps}}
 * @param noiseSchedule {@code linear} (DD) or {@code cosine}
 * @param rescaleTimesteps guided-diffusion's {@code rescale_timesteps} (DD: true)
 * @param useFp16 the config's {@code use_fp16} (false when absent)
 * @param useCheckpoint the config's {@code use_checkpoint} (false when absent)
 */
public record DiffusionConfig(int diffusionSteps, String timestepRespacing, String noiseSchedule,
                              boolean rescaleTimesteps, boolean useFp16, boolean useCheckpoint) {
    /** The UNet's {@code create_model} arguments (built and shape-checked by the network). */
    public static final Set<String> ARCHITECTURE_KEYS = Set.of("image_size", "num_channels", "num_res_blocks",
            "channel_mult", "learn_sigma", "attention_resolutions", "num_heads", "num_head_channels",
            "num_heads_upsample", "use_scale_shift_norm", "dropout", "resblock_updown", "use_new_attention_order");
    /** Keys whose only implemented value is guided-diffusion's default, false. */
    public static final List<String> FALSE_ONLY = List.of("predict_xstart", "use_kl", "sigma_small",
            "rescale_learned_sigmas", "class_cond");
    /** Every key {@code diffusion_model_config} may hold. */
    public static final Set<String> KEYS;

    static {
        Set<String> k = new LinkedHashSet<>(ARCHITECTURE_KEYS);
        k.addAll(List.of("diffusion_steps", "timestep_respacing", "noise_schedule", "rescale_timesteps", "use_fp16",
                "use_checkpoint"));
        k.addAll(FALSE_ONLY);
        KEYS = Set.copyOf(k);
    }

    private static final String WHERE = "settings: diffusion_model_config.";

    /** The config of validated settings; bad input naming the key when one is unknown, mistyped or refused. */
    public static DiffusionConfig of(Settings s) {
        return of(s.diffusionModelConfig(), s.steps());
    }

    /** As {@link #of(Settings)} for a config and a step count. */
    public static DiffusionConfig of(Map<String, Object> c, int steps) {
        for (String k : c.keySet()) {
            if (!KEYS.contains(k)) {
                throw DiscoException.badInput(WHERE + k + ": unknown key (expected guided-diffusion's"
                        + " create_model_and_diffusion arguments: " + new java.util.TreeSet<>(KEYS) + ")");
            }
        }
        for (String k : FALSE_ONLY) {
            if (bool(c, k, false)) {
                throw DiscoException.badInput(WHERE + k + ": true is not supported (" + why(k) + "); only false,"
                        + " guided-diffusion's default, is implemented");
            }
        }
        for (String k : List.of("learn_sigma", "use_scale_shift_norm", "resblock_updown", "use_new_attention_order")) {
            bool(c, k, false); // types only: the network reads them
        }
        int derivedSteps = DiffusionSchedule.diffusionSteps(steps);
        Object ds = c.get("diffusion_steps");
        if (ds != null && !(ds instanceof Number n && n.doubleValue() == derivedSteps)) {
            throw DiscoException.badInput(WHERE + "diffusion_steps: " + ds + " differs from DD's (1000 // steps) * steps"
                    + " = " + derivedSteps + " for steps " + steps + "; DD overwrites it: remove it or set " + derivedSteps);
        }
        String derivedRespacing = "ddim" + steps;
        Object tr = c.get("timestep_respacing");
        if (tr != null && !String.valueOf(tr).strip().equals(derivedRespacing)) {
            throw DiscoException.badInput(WHERE + "timestep_respacing: '" + tr + "' differs from DD's ddim{steps} = '"
                    + derivedRespacing + "'; DD overwrites it: remove it or set " + derivedRespacing);
        }
        Object ns = c.getOrDefault("noise_schedule", "linear");
        if (!(ns instanceof String name) || !DiffusionSchedule.NOISE_SCHEDULES.contains(name)) {
            throw DiscoException.badInput(WHERE + "noise_schedule: expected one of " + DiffusionSchedule.NOISE_SCHEDULES
                    + ", found " + ns);
        }
        return new DiffusionConfig(derivedSteps, derivedRespacing, name, bool(c, "rescale_timesteps", true),
                bool(c, "use_fp16", false), bool(c, "use_checkpoint", false));
    }

    private static String why(String key) {
        return switch (key) {
            case "predict_xstart" -> "a network that predicts x0 instead of eps";
            case "use_kl" -> "guided-diffusion's KL training loss";
            case "sigma_small" -> "the fixed small variance of a model without learn_sigma";
            case "rescale_learned_sigmas" -> "guided-diffusion's rescaled training loss";
            default -> "class-conditional models";
        };
    }

    private static boolean bool(Map<String, Object> c, String key, boolean dflt) {
        Object v = c.get(key);
        if (v == null) return dflt;
        if (v instanceof Boolean b) return b;
        throw DiscoException.badInput(WHERE + key + ": expected true or false, found " + v);
    }

    /** The respaced schedule a run of {@code steps} samples with. */
    public DiffusionSchedule schedule(int steps) {
        return DiffusionSchedule.create(diffusionSteps, steps, timestepRespacing, noiseSchedule, rescaleTimesteps);
    }
}
