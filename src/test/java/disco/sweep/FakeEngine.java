package disco.sweep;

import disco.plan.PlanStep;
import disco.plan.StepPlan;
import disco.run.AnalyticSampler;
import disco.run.Engine;
import disco.sampling.GuidanceResult;
import disco.sampling.Sampler;
import disco.settings.Settings;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;

import java.util.ArrayList;
import java.util.List;
import java.util.function.IntConsumer;

/**
 * An analytic stand-in for the networks, for sweep tests: the {@link AnalyticSampler} (eps = tanh(0.7 x), noise from
 * the counter-based stream keyed by the batch seed); the guidance gradient depends on what the plan entry at the
 * call's schedule index says (which models are on, the guidance and tv scales), so runs whose schedules differ
 * diverge from the step where they differ, as real runs do.
 */
final class FakeEngine implements Engine {
    final Settings s;
    IntConsumer onStep = j -> {};

    FakeEngine(Settings s) {
        this.s = s;
    }

    @Override
    public Sampler sampler(int batch, long batchSeed) {
        StepPlan plan = StepPlan.of(s);
        return AnalyticSampler.of(s, batchSeed, call -> {
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
        });
    }
}
