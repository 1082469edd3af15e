package disco.run;

import disco.models.registry.ModelEntry;
import disco.models.registry.Registry;
import disco.settings.Settings;
import disco.util.DiscoException;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A registered model's diffusion arguments must be what the settings resolve to: never silently replaced. */
class ModelLoaderDiffusionTest {
    private static Settings settings(String config) {
        return ResolvedSettings.fromJson("{\"clip_models\": [\"RN-tiny\"], \"steps\": 10, \"width_height\": [64, 64], \"seed\": 1,"
                + " \"diffusion_model_config\": {" + config + "}}", "test").settings();
    }

    private static ModelEntry entry(Map<String, Object> diffusion) {
        return new ModelEntry("m", ModelEntry.DIFFUSION, "m.pt", null, null, null, null, List.of(), null,
                Map.of("image_size", 64), diffusion, null, List.of(), "test", null);
    }

    @Test
    void registryNoiseScheduleAndRescaleMustMatchTheSettings() {
        ModelLoader.checkDiffusion(entry(Map.of("noise_schedule", "linear", "rescale_timesteps", true, "diffusion_steps", 1000)),
                settings(""));
        DiscoException e = assertThrows(DiscoException.class,
                () -> ModelLoader.checkDiffusion(entry(Map.of("noise_schedule", "cosine")), settings("")));
        assertTrue(e.getMessage().contains("diffusion_model_config.noise_schedule=cosine"), e.getMessage());
        ModelLoader.checkDiffusion(entry(Map.of("noise_schedule", "cosine")), settings("\"noise_schedule\": \"cosine\""));
        e = assertThrows(DiscoException.class,
                () -> ModelLoader.checkDiffusion(entry(Map.of("rescale_timesteps", false)), settings("")));
        assertTrue(e.getMessage().contains("rescale_timesteps"), e.getMessage());
        // every built-in diffusion model is registered with DD's linear, rescaled schedule
        for (ModelEntry m : Registry.builtin().entries()) {
            if (m.kind().equals(ModelEntry.DIFFUSION)) ModelLoader.checkDiffusion(m, settings(""));
        }
    }
}
