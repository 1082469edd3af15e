package disco.kernels;

import disco.torch.Tensors;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.pytorch.Tensor;

import java.util.ArrayList;
import java.util.List;

/**
 * The guidance-gradient stage of DD's {@code cond_fn}, on the native kernels. The sampler's guidance does, per
 * step (see disco.py {@code cond_fn}):
 * <ol>
 * <li>{@code x_in = pred_xstart * fac + x * (1 - fac)} with autograd through the denoiser (LibTorch);</li>
 * <li>per CLIP model k that the step's schedule turns on, per cutn batch: cutouts of {@code (x_in + 1) / 2},
 *     CLIP, {@link Losses#clipLoss} with {@code scale = 1}, back through CLIP and the cutout backward, summed
 *     over the batches into {@code modelGrads[k]} ({@code d(losses.sum())/dx_in});</li>
 * <li>{@link #compute}: {@code x_in_grad = clip_guidance_scale / cutn_batches * Σ_k mask[k] modelGrads[k] +
 *     tv_scale * ∇tv + sat_scale * ∇sat} (DD's range term is taken on the denoiser output, upstream of x_in, so
 *     it adds nothing to the gradient), the unscaled tv, range and sat loss values, and DD's NaN guard (any NaN →
 *     zero gradient; the masked-in models whose gradient had one in {@link Result#nanModels});</li>
 * <li>unless NaN: {@code grad = -autograd.grad(x_in, x, x_in_grad)} through the denoiser (LibTorch);</li>
 * <li>{@link #clamp}: DD's RMS clamp when {@code clamp_grad}.</li>
 * </ol>
 * The guidance ({@code disco.guidance.ClipGuidance}) does steps 1, 2 and 4 and reaches 3 and 5 through
 * {@code NativeLossKernels}; it logs the NaN guard and, of the loss values, only the CLIP losses (DD's
 * {@code loss_values}).
 */
public final class GradientStage {
    private GradientStage() {}

    /**
     * What {@link #compute} returns.
     *
     * @param xInGrad the gradient with respect to x_in [n,c,h,w] (all zero when {@code nan})
     * @param tvLosses DD's tv_losses per image (unscaled)
     * @param rangeLosses DD's range_losses per image, of the denoiser output (unscaled)
     * @param satLoss DD's sat_losses (unscaled)
     * @param nan whether x_in_grad had a NaN (DD then uses a zero gradient and skips the clamp)
     * @param nanModels indices of the models (masked in) whose gradient had a NaN
     */
    public record Result(Tensor xInGrad, float[] tvLosses, float[] rangeLosses, float satLoss, boolean nan,
            List<Integer> nanModels) {}

    /**
     * The x_in side of the gradient stage.
     *
     * @param xIn x_in [n,c,h,w]
     * @param pred the denoiser's x0 prediction [n,c,h,w] (DD's range loss input)
     * @param modelGrads [m,n,c,h,w]: per CLIP model, d(losses.sum())/dx_in summed over the cutn batches; may be
     *     null when m = 0
     * @param mask m entries: whether model k is on at this step (its schedule)
     * @param clipGuidanceScale DD's clip_guidance_scale
     * @param cutnBatches DD's cutn_batches
     * @param tvScale DD's tv_scale
     * @param satScale DD's sat_scale
     */
    public static Result compute(Tensor xIn, Tensor pred, Tensor modelGrads, boolean[] mask, double clipGuidanceScale,
            int cutnBatches, double tvScale, double satScale) {
        String op = "guidance_grad";
        Kernels.requireFloat(op, "x_in", xIn, -1, -1, -1, -1);
        long n = xIn.size(0), c = xIn.size(1), h = xIn.size(2), w = xIn.size(3);
        Kernels.requireFloat(op, "pred", pred, n, c, h, w);
        int m = mask == null ? 0 : mask.length;
        if (cutnBatches <= 0) throw new IllegalArgumentException(op + ": cutn_batches: expected > 0, got " + cutnBatches);
        int dev;
        if (m > 0) {
            Kernels.requireFloat(op, "model_grads", modelGrads, m, n, c, h, w);
            dev = Kernels.device(op, new String[] {"x_in", "pred", "model_grads"}, xIn, pred, modelGrads);
        } else {
            dev = Kernels.device(op, new String[] {"x_in", "pred"}, xIn, pred);
        }
        Tensor grad = xIn.new_empty(n, c, h, w);
        Tensor losses = xIn.new_empty(2 * n + 1);
        try (IntPointer maskP = new IntPointer(Math.max(m, 1)); IntPointer flags = new IntPointer(m + 1)) {
            for (int k = 0; k < m; k++) maskP.put(k, mask[k] ? 1 : 0);
            Kernels.check(GuidanceNative.disco_guidance_grad(Kernels.ptr(xIn), Kernels.ptr(pred),
                    m > 0 ? Kernels.ptr(modelGrads) : null, maskP, m, n, c, h, w,
                    (float) (clipGuidanceScale / cutnBatches), (float) tvScale, (float) satScale, Kernels.ptr(grad),
                    Kernels.ptr(losses), flags, dev, null));
            float[] l = Tensors.toFloats(losses);
            float[] tv = new float[(int) n], range = new float[(int) n];
            System.arraycopy(l, 0, tv, 0, (int) n);
            System.arraycopy(l, (int) n, range, 0, (int) n);
            List<Integer> nanModels = new ArrayList<>();
            for (int k = 0; k < m; k++) if (flags.get(k) != 0) nanModels.add(k);
            return new Result(grad, tv, range, l[(int) (2 * n)], flags.get(m) != 0, List.copyOf(nanModels));
        }
    }

    /** Convenience: {@link #compute} with the per-model gradients as a list (stacked here; null entries = off). */
    public static Result compute(Tensor xIn, Tensor pred, List<Tensor> modelGrads, double clipGuidanceScale,
            int cutnBatches, double tvScale, double satScale) {
        return compute(xIn, pred, modelGrads, clipGuidanceScale, cutnBatches, tvScale, satScale, null);
    }

    /**
     * As {@link #compute(Tensor, Tensor, List, double, int, double, double)}, plus DD's init term: {@code initGrad}
     * = d(lpips(x_in, init).sum() * init_scale) / d x_in (from autograd through the LPIPS network; null when the
     * term is off) joins the sum before DD's NaN guard, which then covers it as it covers the other terms.
     */
    public static Result compute(Tensor xIn, Tensor pred, List<Tensor> modelGrads, double clipGuidanceScale,
            int cutnBatches, double tvScale, double satScale, Tensor initGrad) {
        Result r = computeStacked(xIn, pred, modelGrads, clipGuidanceScale, cutnBatches, tvScale, satScale);
        if (initGrad == null || r.nan()) return r;
        Kernels.requireFloat("guidance_grad", "init_grad", initGrad, Kernels.shapeOf(xIn));
        Tensor g = r.xInGrad().add(initGrad);
        boolean nan = g.isnan().any().item_bool();
        if (nan) g.zero_();
        return new Result(g, r.tvLosses(), r.rangeLosses(), r.satLoss(), nan, r.nanModels());
    }

    private static Result computeStacked(Tensor xIn, Tensor pred, List<Tensor> modelGrads, double clipGuidanceScale,
            int cutnBatches, double tvScale, double satScale) {
        int m = modelGrads.size();
        boolean[] mask = new boolean[m];
        Tensor stacked = null;
        if (m > 0) {
            stacked = xIn.new_zeros(prepend(m, Kernels.shapeOf(xIn)));
            for (int k = 0; k < m; k++) {
                Tensor g = modelGrads.get(k);
                if (g == null) continue;
                Kernels.requireFloat("guidance_grad", "model_grads[" + k + "]", g, Kernels.shapeOf(xIn));
                stacked.select(0, k).copy_(g);
                mask[k] = true;
            }
        }
        return compute(xIn, pred, stacked, mask, clipGuidanceScale, cutnBatches, tvScale, satScale);
    }

    /** DD's clamp: {@code grad * min(rms, clampMax) / rms}; a new tensor (rms == 0 keeps grad). */
    public static Tensor clamp(Tensor grad, double clampMax) {
        Kernels.requireFloat("rms_clamp", "grad", grad);
        if (!(clampMax > 0)) throw new IllegalArgumentException("rms_clamp: clamp_max: expected > 0, got " + clampMax);
        int dev = Kernels.device("rms_clamp", new String[] {"grad"}, grad);
        Tensor out = grad.new_empty(Kernels.shapeOf(grad));
        Kernels.check(GuidanceNative.disco_rms_clamp(Kernels.ptr(grad), grad.numel(), (float) clampMax,
                Kernels.ptr(out), null, dev, null));
        return out;
    }

    /** The VJP of {@link #clamp}: d(sum gradOut * clamp(grad)) / d grad. */
    public static Tensor clampBackward(Tensor grad, Tensor gradOut, double clampMax) {
        Kernels.requireFloat("rms_clamp_backward", "grad", grad);
        Kernels.requireFloat("rms_clamp_backward", "grad_out", gradOut, Kernels.shapeOf(grad));
        if (!(clampMax > 0)) throw new IllegalArgumentException("rms_clamp_backward: clamp_max: expected > 0, got " + clampMax);
        int dev = Kernels.device("rms_clamp_backward", new String[] {"grad", "grad_out"}, grad, gradOut);
        Tensor out = grad.new_empty(Kernels.shapeOf(grad));
        Kernels.check(GuidanceNative.disco_rms_clamp_backward(Kernels.ptr(grad), Kernels.ptr(gradOut), grad.numel(),
                (float) clampMax, Kernels.ptr(out), 0, dev, null));
        return out;
    }

    private static long[] prepend(long first, long[] rest) {
        long[] s = new long[rest.length + 1];
        s[0] = first;
        System.arraycopy(rest, 0, s, 1, rest.length);
        return s;
    }
}
