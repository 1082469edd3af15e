package disco.kernels;

import disco.torch.Tensors;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.pytorch.DeviceOptional;
import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;

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
 * {@code loss_values}). Nothing here synchronises with the device or reads a value back: the loss values, the NaN
 * flags and the RMS are tensors on the device (the guard zeroes the gradient there), read by the guidance once
 * per call; every kernel runs on LibTorch's current CUDA stream ({@link CudaStreams}).
 */
public final class GradientStage {
    private GradientStage() {}

    /**
     * What {@link #compute} returns: tensors on x_in's device, none read back (the accessors below read; the
     * guidance reads {@code losses} and {@code nanFlags} together with its other values, once per call).
     *
     * @param xInGrad the gradient with respect to x_in [n,c,h,w] (all zero when the NaN guard fired)
     * @param losses [2n+1] float32: DD's tv_losses per image, range_losses per image (of the denoiser output), and
     *     sat_losses, all unscaled
     * @param nanFlags [m+1] int32: [k] = 1 when model k (masked in) has a NaN in its gradient, [m] = 1 when x_in_grad
     *     had one (DD then uses a zero gradient and skips the clamp)
     */
    public record Result(Tensor xInGrad, Tensor losses, Tensor nanFlags) {
        private int images() {
            return (int) ((losses.numel() - 1) / 2);
        }

        /** DD's tv_losses per image (reads the device). */
        public float[] tvLosses() {
            return java.util.Arrays.copyOfRange(Tensors.toFloats(losses), 0, images());
        }

        /** DD's range_losses per image, of the denoiser output (reads the device). */
        public float[] rangeLosses() {
            return java.util.Arrays.copyOfRange(Tensors.toFloats(losses), images(), 2 * images());
        }

        /** DD's sat_losses (reads the device). */
        public float satLoss() {
            return Tensors.toFloats(losses)[2 * images()];
        }

        /** Whether the NaN guard fired (reads the device). */
        public boolean nan() {
            float[] f = Tensors.toFloats(nanFlags);
            return f[f.length - 1] != 0;
        }

        /** The models (masked in) whose gradient had a NaN (reads the device). */
        public List<Integer> nanModels() {
            float[] f = Tensors.toFloats(nanFlags);
            List<Integer> out = new ArrayList<>();
            for (int k = 0; k < f.length - 1; k++) if (f[k] != 0) out.add(k);
            return List.copyOf(out);
        }
    }

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
        return compute(xIn, pred, modelGrads, mask, clipGuidanceScale, cutnBatches, tvScale, satScale, null);
    }

    /**
     * As {@link #compute(Tensor, Tensor, Tensor, boolean[], double, int, double, double)}, plus {@code extraGrad}
     * [n,c,h,w] (null: none), added to the sum last, before DD's NaN guard (which then covers it too): DD's init
     * term.
     */
    public static Result compute(Tensor xIn, Tensor pred, Tensor modelGrads, boolean[] mask, double clipGuidanceScale,
            int cutnBatches, double tvScale, double satScale, Tensor extraGrad) {
        String op = "guidance_grad";
        Kernels.requireFloat(op, "x_in", xIn, -1, -1, -1, -1);
        long n = xIn.size(0), c = xIn.size(1), h = xIn.size(2), w = xIn.size(3);
        Kernels.requireFloat(op, "pred", pred, n, c, h, w);
        if (extraGrad != null) Kernels.requireFloat(op, "init_grad", extraGrad, n, c, h, w);
        int m = mask == null ? 0 : mask.length;
        if (cutnBatches <= 0) throw new IllegalArgumentException(op + ": cutn_batches: expected > 0, got " + cutnBatches);
        List<String> names = new ArrayList<>(List.of("x_in", "pred"));
        List<Tensor> ts = new ArrayList<>(List.of(xIn, pred));
        if (m > 0) {
            Kernels.requireFloat(op, "model_grads", modelGrads, m, n, c, h, w);
            names.add("model_grads");
            ts.add(modelGrads);
        }
        if (extraGrad != null) {
            names.add("init_grad");
            ts.add(extraGrad);
        }
        int dev = Kernels.device(op, names.toArray(new String[0]), ts.toArray(new Tensor[0]));
        Tensor grad = xIn.new_empty(n, c, h, w);
        Tensor losses = xIn.new_empty(2 * n + 1);
        Tensor flags = torch.empty(new long[] {m + 1}, new TensorOptions()
                .dtype(new ScalarTypeOptional(torch.ScalarType.Int)).device(new DeviceOptional(xIn.device())), null);
        try (IntPointer maskP = new IntPointer(Math.max(m, 1))) {
            for (int k = 0; k < m; k++) maskP.put(k, mask[k] ? 1 : 0);
            Kernels.check(GuidanceNative.disco_guidance_grad(Kernels.ptr(xIn), Kernels.ptr(pred),
                    m > 0 ? Kernels.ptr(modelGrads) : null, maskP, m, extraGrad == null ? null : Kernels.ptr(extraGrad),
                    n, c, h, w, (float) (clipGuidanceScale / cutnBatches), (float) tvScale, (float) satScale,
                    Kernels.ptr(grad), Kernels.ptr(losses), Kernels.ptr(flags), dev, CudaStreams.of(xIn)));
        }
        return new Result(grad, losses, flags);
    }

    /** Convenience: {@link #compute} with the per-model gradients as a list (stacked here; null entries = off). */
    public static Result compute(Tensor xIn, Tensor pred, List<Tensor> modelGrads, double clipGuidanceScale,
            int cutnBatches, double tvScale, double satScale) {
        return compute(xIn, pred, modelGrads, clipGuidanceScale, cutnBatches, tvScale, satScale, null);
    }

    /**
     * As {@link #compute(Tensor, Tensor, List, double, int, double, double)}, plus DD's init term: {@code initGrad}
     * = d(lpips(x_in, init).sum() * init_scale) / d x_in (from autograd through the LPIPS network; null when the
     * term is off) joins the sum last, before DD's NaN guard, which then covers it as it covers the other terms.
     */
    public static Result compute(Tensor xIn, Tensor pred, List<Tensor> modelGrads, double clipGuidanceScale,
            int cutnBatches, double tvScale, double satScale, Tensor initGrad) {
        int m = modelGrads.size();
        boolean[] mask = new boolean[m];
        Tensor stacked = stack(xIn, modelGrads, mask);
        return compute(xIn, pred, stacked, mask, clipGuidanceScale, cutnBatches, tvScale, satScale, initGrad);
    }

    private static Tensor stack(Tensor xIn, List<Tensor> modelGrads, boolean[] mask) {
        int m = modelGrads.size();
        if (m == 0) return null;
        Tensor stacked = xIn.new_zeros(prepend(m, Kernels.shapeOf(xIn)));
        for (int k = 0; k < m; k++) {
            Tensor g = modelGrads.get(k);
            if (g == null) continue;
            Kernels.requireFloat("guidance_grad", "model_grads[" + k + "]", g, Kernels.shapeOf(xIn));
            stacked.select(0, k).copy_(g);
            mask[k] = true;
        }
        return stacked;
    }

    /** DD's clamp: {@code grad * min(rms, clampMax) / rms}; a new tensor (rms == 0 keeps grad). */
    public static Tensor clamp(Tensor grad, double clampMax) {
        return clampWithRms(grad, clampMax).grad();
    }

    /** The clamped gradient and the RMS the kernel clamped with ([1] float32 on the device, not read). */
    public record Clamped(Tensor grad, Tensor rms) {}

    /** DD's clamp, and the RMS it used: the one reduction of {@code grad^2} (the backward can take it back). */
    public static Clamped clampWithRms(Tensor grad, double clampMax) {
        Kernels.requireFloat("rms_clamp", "grad", grad);
        if (!(clampMax > 0)) throw new IllegalArgumentException("rms_clamp: clamp_max: expected > 0, got " + clampMax);
        int dev = Kernels.device("rms_clamp", new String[] {"grad"}, grad);
        Tensor out = grad.new_empty(Kernels.shapeOf(grad));
        Tensor rms = grad.new_empty(1);
        Kernels.check(GuidanceNative.disco_rms_clamp(Kernels.ptr(grad), grad.numel(), (float) clampMax,
                Kernels.ptr(out), Kernels.ptr(rms), dev, CudaStreams.of(grad)));
        return new Clamped(out, rms);
    }

    /** The VJP of {@link #clamp}: d(sum gradOut * clamp(grad)) / d grad. */
    public static Tensor clampBackward(Tensor grad, Tensor gradOut, double clampMax) {
        return clampBackward(grad, gradOut, clampMax, null);
    }

    /**
     * The VJP of {@link #clamp}, with the forward's RMS ({@link Clamped#rms()}, [1]; null: computed again) so that
     * {@code grad^2} is not reduced twice.
     */
    public static Tensor clampBackward(Tensor grad, Tensor gradOut, double clampMax, Tensor rms) {
        Kernels.requireFloat("rms_clamp_backward", "grad", grad);
        Kernels.requireFloat("rms_clamp_backward", "grad_out", gradOut, Kernels.shapeOf(grad));
        if (rms != null) Kernels.requireFloat("rms_clamp_backward", "rms", rms, 1);
        if (!(clampMax > 0)) throw new IllegalArgumentException("rms_clamp_backward: clamp_max: expected > 0, got " + clampMax);
        int dev = rms == null
                ? Kernels.device("rms_clamp_backward", new String[] {"grad", "grad_out"}, grad, gradOut)
                : Kernels.device("rms_clamp_backward", new String[] {"grad", "grad_out", "rms"}, grad, gradOut, rms);
        Tensor out = grad.new_empty(Kernels.shapeOf(grad));
        Kernels.check(GuidanceNative.disco_rms_clamp_backward(Kernels.ptr(grad), Kernels.ptr(gradOut), grad.numel(),
                (float) clampMax, rms == null ? null : Kernels.ptr(rms), Kernels.ptr(out), 0, dev, CudaStreams.of(grad)));
        return out;
    }

    private static long[] prepend(long first, long[] rest) {
        long[] s = new long[rest.length + 1];
        s[0] = first;
        System.arraycopy(rest, 0, s, 1, rest.length);
        return s;
    }
}
