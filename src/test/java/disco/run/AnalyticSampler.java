package disco.run;

import disco.plan.DiffusionSchedule;
import disco.sampling.EpsDenoiser;
import disco.sampling.Guidance;
import disco.sampling.GuidanceCall;
import disco.sampling.GuidanceResult;
import disco.sampling.NoiseSource;
import disco.sampling.Sampler;
import disco.sampling.SamplerConfig;
import disco.sampling.SpacedAlphas;
import disco.settings.Settings;
import org.bytedeco.pytorch.Scalar;

import java.util.function.Function;

/**
 * The sampler the run and sweep tests' fake engines drive instead of the networks: eps = tanh(0.7 x) (a smooth
 * function of x) on the settings' linear DDIM spacing, DDIM or PLMS as the settings say, noise from the
 * counter-based stream keyed by the batch seed, and the guidance gradient from {@code guide} (which never
 * differentiates the primary denoiser).
 */
public final class AnalyticSampler {
    private AnalyticSampler() {}

    public static Sampler of(Settings s, long batchSeed, Function<GuidanceCall, GuidanceResult> guide) {
        SpacedAlphas a = SpacedAlphas.linearDdim(DiffusionSchedule.diffusionSteps(s.steps()), s.steps());
        EpsDenoiser den = new EpsDenoiser((x, t) -> x.mul(new Scalar(0.7f)).tanh(), a);
        Guidance g = new Guidance() {
            @Override
            public boolean usesPrimaryDenoiser(int scheduleIndex) {
                return false;
            }

            @Override
            public GuidanceResult guide(GuidanceCall call) {
                return guide.apply(call);
            }
        };
        SamplerConfig cfg = s.diffusionSamplingMode().equals("plms") ? SamplerConfig.plms(s.skipSteps(), false)
                : SamplerConfig.ddim(s.eta(), s.skipSteps(), false);
        return new Sampler(cfg, den, g, NoiseSource.random(batchSeed, 0), 0);
    }
}
