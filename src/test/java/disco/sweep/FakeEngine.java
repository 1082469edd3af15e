package disco.sweep;

import disco.plan.DiffusionSchedule;
import disco.plan.PlanStep;
import disco.plan.StepPlan;
import disco.run.Engine;
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
import org.bytedeco.pytorch.Tensor;

import java.util.ArrayList;
import java.util.List;
import java.util.function.IntConsumer;

/**
 * An analytic stand-in for the networks, for sweep tests: eps = tanh(0.7 x); the guidance gradient depends on what
 * the plan entry at the call's schedule index says (which models are on, the guidance and tv scales), so runs whose
 * schedules differ diverge from the step where they differ, as real runs do. Noise comes from the counter-based
 * stream keyed by the batch seed.
 */
final class FakeEngine implements Engine {
    final Settings s;
    IntConsumer onStep = j -> {};

    FakeEngine(Settings s) {
        this.s = s;
    }

    @Override
    public Sampler sampler(int batch, long batchSeed) {
        SpacedAlphas a = SpacedAlphas.linearDdim(DiffusionSchedule.diffusionSteps(s.steps()), s.steps());
        EpsDenoiser den = new EpsDenoiser((x, t) -> x.mul(new Scalar(0.7f)).tanh(), a);
        StepPlan plan = StepPlan.of(s);
        Guidance g = new Guidance() {
            @Override
            public boolean usesPrimaryDenoiser(int scheduleIndex) {
                return false;
            }

            @Override
            public GuidanceResult guide(GuidanceCall call) {
                onStep.accept(call.step());
                PlanStep p = null;
                for (PlanStep q : plan.steps()) if (q.schedIndex() == call.scheduleIndex()) p = q;
                if (p == null) p = plan.step(call.step());
                double w = 0.002 * p.clipGuidanceScale() / 1000.0 + 0.0001 * p.tvScale();
                Tensor grad = call.x().mul(new Scalar(1f)).mul(new Scalar(0f));
                for (int m = 0; m < plan.models().size(); m++) {
                    if (p.active().contains(plan.models().get(m))) {
                        grad = grad.add(call.x().mul(new Scalar(2f + m)).sin().mul(new Scalar((float) w)));
                    }
                }
                double rms = Math.sqrt(grad.square().mean().item_double());
                List<GuidanceResult.LossValue> losses = new ArrayList<>();
                for (String m : p.active()) {
                    losses.add(new GuidanceResult.LossValue(call.step(), call.call(), m, 0, call.x().mean().item_double()));
                }
                return new GuidanceResult(grad, losses, false, rms, rms);
            }
        };
        SamplerConfig cfg = s.diffusionSamplingMode().equals("plms") ? SamplerConfig.plms(s.skipSteps(), false)
                : SamplerConfig.ddim(s.eta(), s.skipSteps(), false);
        return new Sampler(cfg, den, g, NoiseSource.random(batchSeed, 0), 0);
    }
}
