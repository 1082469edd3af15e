package disco.guidance;

import disco.kernels.GradientStage;
import disco.kernels.Losses;
import org.bytedeco.pytorch.Tensor;

import java.util.List;

/** {@link LossKernels} on the native kernels ({@link Losses}, {@link GradientStage}; CPU or CUDA by device). */
public final class NativeLossKernels implements LossKernels {
    @Override
    public ClipTerm clipLoss(Tensor emb, Tensor target, Tensor weights, long n) {
        Losses.ClipLoss l = Losses.clipLoss(emb.contiguous(), target.contiguous(), weights.contiguous(), n, 1.0);
        return new ClipTerm(l.lossSum(), l.gradEmbeds());
    }

    @Override
    public XInGrad xInGrad(Tensor xIn, Tensor pred, List<Tensor> modelGrads, double clipGuidanceScale,
                           int cutnBatches, double tvScale, double satScale, Tensor initGrad) {
        GradientStage.Result r = GradientStage.compute(xIn.contiguous(), pred.contiguous(), modelGrads,
                clipGuidanceScale, cutnBatches, tvScale, satScale, initGrad == null ? null : initGrad.contiguous());
        return new XInGrad(r.xInGrad(), r.nanFlags());
    }

    @Override
    public Clamped rmsClamp(Tensor g, double clampMax) {
        GradientStage.Clamped c = GradientStage.clampWithRms(g.contiguous(), clampMax);
        return new Clamped(c.grad(), c.rms());
    }
}
