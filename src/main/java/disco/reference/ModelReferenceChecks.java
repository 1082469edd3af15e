package disco.reference;

import disco.torch.Tensors;
import disco.models.secondary.SecondaryModel;
import disco.models.unet.UNetConfig;
import disco.models.unet.UNetModel;
import disco.plan.DiffusionSchedule;
import disco.util.Compare;
import disco.util.Npy;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * {@code secondary/pred} and {@code unet/pred_xstart0}: the networks, loaded from the directory's checkpoints, against
 * DD's outputs. Every size and setting is read from the directory.
 */
public final class ModelReferenceChecks implements ReferenceCheck {
    static final double TOL = 1e-4;

    @Override
    public List<CheckResult> run(ReferenceContext ctx) {
        List<CheckResult> out = new ArrayList<>();
        out.add(guard("secondary/pred", () -> secondaryPred(ctx)));
        out.add(guard("unet/pred_xstart0", () -> unetPredXstart0(ctx)));
        return out;
    }

    private interface Check {
        CheckResult run();
    }

    private static CheckResult guard(String name, Check c) {
        try (PointerScope scope = new PointerScope(); NoGradGuard g = new NoGradGuard()) {
            return c.run();
        } catch (RuntimeException e) {
            return CheckResult.error(name, String.valueOf(e.getMessage()).split("\n", 2)[0]);
        }
    }

    /** secondary_x, secondary_t (the cosine time fed to the model) → secondary_pred. */
    static CheckResult secondaryPred(ReferenceContext ctx) {
        SecondaryModel m = SecondaryModel.load(ctx.file("secondary.pt"));
        Npy.Array x = ctx.npy("secondary_x.npy");
        Npy.Array t = ctx.npy("secondary_t.npy");
        Tensor pred = m.forward(Tensors.fromFloats(x.floats(), x.shape()), Tensors.fromFloats(t.floats(), t.shape())).pred();
        return CheckResult.numeric("secondary/pred", Compare.maxRelErr(Tensors.toFloats(pred),
                ctx.npy("secondary_pred.npy").floats()), TOL);
    }

    /**
     * The unguided x0 prediction at the first executed step, with the schedule settings.json describes
     * ({@link disco.plan.FixtureSettings#schedule}): i = n - skip_steps - 1 (n respaced steps),
     * x = sqrt(1 - acp[i]) x_T (q_sample of a zero init; x_T itself when skip_steps is 0), model fed timestep_map[i] * 1000 / diffusion_steps,
     * eps = the first 3 output channels, pred_xstart = sqrt(1/acp) x - sqrt(1/acp - 1) eps.
     */
    static CheckResult unetPredXstart0(ReferenceContext ctx) {
        UNetModel model = UNetModel.load(UNetConfig.read(ctx.file("unet.json")), ctx.file("unet.pt"));
        DiffusionSchedule schedule = ctx.fixtureSettings().schedule();
        int skip = ctx.fixtureSettings().need("skip_steps").asInt();
        int i = schedule.numSteps() - skip - 1;
        Npy.Array xT = ctx.npy("run_x_T.npy");
        Tensor noise = Tensors.fromFloats(xT.floats(), xT.shape());
        // DD: with skip_steps > 0 and no init image, x = q_sample(zeros, t0, x_T); with no skip, x = x_T itself
        Tensor x = skip > 0 ? noise.mul(new Scalar((float) schedule.sqrtOneMinusAlphaCumprod(i))) : noise;
        long n = xT.shape()[0];
        float[] ts = new float[(int) n];
        Arrays.fill(ts, schedule.scaledTimestepF(i));
        Tensor out = model.forward(x, Tensors.fromFloats(ts, n));
        Tensor eps = out.narrow(1, 0, 3);
        Tensor pred = x.mul(new Scalar((float) schedule.sqrtRecipAlphaCumprod(i)))
                .sub(eps.mul(new Scalar((float) schedule.sqrtRecipm1AlphaCumprod(i))));
        float[] ref = ctx.npy("run_pred_xstart.npy").floats();
        float[] ours = Tensors.toFloats(pred);
        return CheckResult.numeric("unet/pred_xstart0", Compare.maxRelErr(ours, Arrays.copyOf(ref, ours.length)), TOL);
    }
}
