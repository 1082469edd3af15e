package disco.run;

import disco.settings.Settings;
import disco.settings.SettingsIO;
import disco.settings.SettingsOverrides;
import disco.util.DiscoException;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * {@code disco resume CHECKPOINT --set KEY=VALUE}: settings changed for the steps a checkpoint has not run yet (the
 * preview workflow: stop many runs at 20 %, finish the chosen one, perhaps with other scales or schedules). Keys that
 * would make the checkpoint's state meaningless — the step count and skip, the seed, the size and batch size, the
 * diffusion model and sampler, the init, symmetry, and where the run writes — cannot change.
 */
public final class ResumeChanges {
    /** Keys a resume cannot change. */
    public static final Set<String> FIXED = Set.of("steps", "skip_steps", "seed", "width_height", "batch_size",
            "diffusion_model", "diffusion_model_config", "diffusion_sampling_mode", "init_image", "perlin_init",
            "perlin_mode", "use_horizontal_symmetry", "use_vertical_symmetry", "transformation_percent", "batch_name");

    private ResumeChanges() {}

    /**
     * The checkpoint's settings with {@code KEY=VALUE} assignments applied (schedulable keys take a schedule, others
     * a YAML value, as {@code --set} everywhere); warnings are added to {@code warnings}.
     */
    public static ResolvedSettings apply(ResolvedSettings original, List<String> assignments, String label, List<String> warnings) {
        Map<String, String> set = new LinkedHashMap<>();
        for (String a : assignments) {
            Map.Entry<String, String> e = SettingsOverrides.splitAssignment("--set", a);
            String key = SettingsIO.commandLineKey("--set", e.getKey())[0];
            if (FIXED.contains(key)) {
                throw DiscoException.badInput("--set: " + key + ": cannot change when resuming (it shapes the steps already"
                        + " run); changeable: prompts, CLIP models and schedules, the scheduled scales and cut counts, eta,"
                        + " saves, n_batches");
            }
            set.put(e.getKey(), e.getValue());
        }
        List<String> w = new ArrayList<>();
        Map<String, Object> tree = SettingsIO.normalize(SettingsIO.parse(original.json(), label, false), label, w);
        Set<String> keys = new SettingsOverrides(null, null, null, null, null, null, null, set).applyTo(tree, w);
        Settings s = SettingsIO.build(tree, label, keys, w);
        warnings.addAll(w);
        return ResolvedSettings.withSeed(s, original.settings().seed());
    }
}
