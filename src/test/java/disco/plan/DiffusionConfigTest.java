package disco.plan;

import disco.run.ResolvedSettings;
import disco.sampling.SpacedAlphas;
import disco.settings.Settings;
import disco.util.DiscoException;
import disco.util.ExitCodes;
import org.junit.jupiter.api.Test;

import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Every diffusion key of {@code diffusion_model_config} is honoured (the plan and sampler change) or refused by name. */
class DiffusionConfigTest {
    static Settings settings(int steps, String config) {
        String json = "{\"clip_models\": [\"RN-tiny\"], \"steps\": " + steps + ", \"skip_steps\": 0,"
                + " \"width_height\": [64, 64], \"seed\": 1, \"diffusion_model_config\": {" + config + "}}";
        return ResolvedSettings.fromJson(json, "test").settings();
    }

    private static int[] indices(DiffusionSchedule d) {
        int[] r = new int[d.numSteps()];
        for (int i = 0; i < r.length; i++) r[i] = d.scheduleIndex(i);
        return r;
    }

    private static DiscoException refused(int steps, String config, String key) {
        DiscoException e = assertThrows(DiscoException.class, () -> StepPlan.of(settings(steps, config)), config);
        assertEquals(ExitCodes.BAD_INPUT, e.exitCode());
        assertTrue(e.getMessage().startsWith("settings: diffusion_model_config." + key + ": "), e.getMessage());
        assertFalse(e.getMessage().contains("\n"));
        return e;
    }

    @Test
    void noiseScheduleCosineChangesTheScheduleAndTheSampler() {
        StepPlan lin = StepPlan.of(settings(10, "\"noise_schedule\": \"linear\""));
        StepPlan cos = StepPlan.of(settings(10, "\"noise_schedule\": \"cosine\""));
        assertEquals("linear", lin.schedule().noiseSchedule());
        assertEquals("cosine", cos.schedule().noiseSchedule());
        assertArrayEquals(StepPlan.of(settings(10, "")).schedule().alphasCumprod(), lin.schedule().alphasCumprod());
        assertFalse(Arrays.equals(lin.schedule().alphasCumprod(), cos.schedule().alphasCumprod()));
        assertArrayEquals(lin.schedule().timestepMap(), cos.schedule().timestepMap());
        // the sampler's schedule is the plan's
        var p = disco.run.Pipeline.sampling(settings(10, "\"noise_schedule\": \"cosine\""));
        assertArrayEquals(cos.schedule().alphasCumprod(), p.alphas().alphasCumprod());
        DiscoException e = refused(10, "\"noise_schedule\": \"sqrt\"", "noise_schedule");
        assertTrue(e.getMessage().contains("linear") && e.getMessage().contains("cosine"), e.getMessage());
    }

    @Test
    void rescaleTimestepsFalseFeedsTheOriginalTimesteps() {
        // steps 30: diffusion_steps 990, so t * 1000 / 990 differs from t
        StepPlan on = StepPlan.of(settings(30, ""));
        StepPlan off = StepPlan.of(settings(30, "\"rescale_timesteps\": false"));
        int last = on.schedule().numSteps() - 1;
        assertEquals((float) on.schedule().timestep(last) * (float) (1000.0 / 990), on.schedule().scaledTimestepF(last));
        assertEquals(off.schedule().timestep(last), off.schedule().scaledTimestepF(last));
        assertFalse(Arrays.equals(indices(on.schedule()), indices(off.schedule())), "DD's schedule index follows t");
        SpacedAlphas a = disco.run.Pipeline.sampling(settings(30, "\"rescale_timesteps\": false")).alphas();
        assertFalse(a.rescaleTimesteps());
        assertEquals(off.schedule().timestep(last), a.modelTime(last));
        assertTrue(disco.run.Pipeline.sampling(settings(30, "")).alphas().rescaleTimesteps());
        refused(30, "\"rescale_timesteps\": \"yes\"", "rescale_timesteps");
    }

    @Test
    void diffusionStepsAndTimestepRespacingAreDdsDerivationOrRefused() {
        StepPlan.of(settings(30, "\"diffusion_steps\": 990, \"timestep_respacing\": \"ddim30\""));
        DiscoException e = refused(30, "\"diffusion_steps\": 1000", "diffusion_steps");
        assertTrue(e.getMessage().contains("990"), e.getMessage());
        e = refused(30, "\"timestep_respacing\": \"30\"", "timestep_respacing");
        assertTrue(e.getMessage().contains("ddim30"), e.getMessage());
        assertEquals("ddim30", DiffusionConfig.of(settings(30, "")).timestepRespacing());
        assertEquals(990, DiffusionConfig.of(settings(30, "")).diffusionSteps());
    }

    @Test
    void keysWhoseOnlyImplementedValueIsFalseAreRefusedWhenTrue() {
        for (String k : new String[] {"predict_xstart", "use_kl", "sigma_small", "rescale_learned_sigmas", "class_cond"}) {
            StepPlan.of(settings(10, "\"" + k + "\": false"));
            DiscoException e = refused(10, "\"" + k + "\": true", k);
            assertTrue(e.getMessage().contains("not supported"), e.getMessage());
        }
    }

    @Test
    void runOptionsAndArchitectureKeysAreTypeChecked() {
        DiffusionConfig c = DiffusionConfig.of(settings(10, "\"use_fp16\": true, \"use_checkpoint\": true"));
        assertTrue(c.useFp16() && c.useCheckpoint());
        DiffusionConfig d = DiffusionConfig.of(settings(10, ""));
        assertFalse(d.useFp16() || d.useCheckpoint());
        refused(10, "\"use_fp16\": 1", "use_fp16");
        refused(10, "\"use_checkpoint\": \"no\"", "use_checkpoint");
        refused(10, "\"learn_sigma\": \"no\"", "learn_sigma");
        DiscoException e = refused(10, "\"num_chanels\": 64", "num_chanels");
        assertTrue(e.getMessage().contains("unknown key"), e.getMessage());
    }
}
