package disco.kernels;

import org.bytedeco.javacpp.Pointer;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;

/**
 * DD's guidance losses (disco.py: {@code tv_loss}, {@code range_loss}, the saturation term of {@code cond_fn},
 * {@code spherical_dist_loss}) as explicit forward/backward pairs on the native kernels. Inputs: float32,
 * contiguous, all on the CPU or all on one CUDA device (the kernel runs there); outputs are new tensors on the
 * same device. Bad input → {@link IllegalArgumentException} naming the argument.
 */
public final class Losses {
    private Losses() {}

    private static final String[] X = {"x"};

    /** DD's {@code tv_loss(x)}: x [n,c,h,w] → [n] (replicate pad right/bottom, mean over C,H,W). */
    public static Tensor tv(Tensor x) {
        return perImage("tv_loss", x, GuidanceNative::disco_tv_loss);
    }

    /** d(sum_b gradLoss[b] * tv(x)[b]) / dx: x [n,c,h,w], gradLoss [n] → [n,c,h,w]. */
    public static Tensor tvBackward(Tensor x, Tensor gradLoss) {
        return perImageBackward("tv_loss_backward", x, gradLoss, GuidanceNative::disco_tv_loss_backward);
    }

    /** DD's {@code range_loss(x)}: x [n,c,h,w] → [n], mean over C,H,W of (x - clamp(x,-1,1))². */
    public static Tensor range(Tensor x) {
        return perImage("range_loss", x, GuidanceNative::disco_range_loss);
    }

    /** d(sum_b gradLoss[b] * range(x)[b]) / dx. */
    public static Tensor rangeBackward(Tensor x, Tensor gradLoss) {
        return perImageBackward("range_loss_backward", x, gradLoss, GuidanceNative::disco_range_loss_backward);
    }

    /** The C ABI of a per-image loss's forward: x [n,c,h,w] → loss [n]. */
    private interface PerImageForward {
        int call(Pointer x, long n, long c, long h, long w, Pointer loss, int device, long stream);
    }

    /** The C ABI of a per-image loss's backward: x [n,c,h,w], gradLoss [n] → gradX [n,c,h,w]. */
    private interface PerImageBackward {
        int call(Pointer x, Pointer gradLoss, long n, long c, long h, long w, Pointer gradX, int accumulate, int device,
                 long stream);
    }

    private static Tensor perImage(String fn, Tensor x, PerImageForward k) {
        Kernels.requireFloat(fn, "x", x, -1, -1, -1, -1);
        int dev = Kernels.device(fn, X, x);
        long n = x.size(0);
        Tensor loss = x.new_empty(n);
        Kernels.check(k.call(Kernels.ptr(x), n, x.size(1), x.size(2), x.size(3), Kernels.ptr(loss), dev,
                CudaStreams.of(x)));
        return loss;
    }

    private static Tensor perImageBackward(String fn, Tensor x, Tensor gradLoss, PerImageBackward k) {
        Kernels.requireFloat(fn, "x", x, -1, -1, -1, -1);
        Kernels.requireFloat(fn, "grad_loss", gradLoss, x.size(0));
        int dev = Kernels.device(fn, new String[] {"x", "grad_loss"}, x, gradLoss);
        Tensor gx = x.new_empty(Kernels.shapeOf(x));
        Kernels.check(k.call(Kernels.ptr(x), Kernels.ptr(gradLoss), x.size(0), x.size(1), x.size(2), x.size(3),
                Kernels.ptr(gx), 0, dev, CudaStreams.of(x)));
        return gx;
    }

    /** DD's saturation loss {@code abs(x - x.clamp(-1, 1)).mean()} over every element of x (any shape) → [1]. */
    public static Tensor sat(Tensor x) {
        Kernels.requireFloat("sat_loss", "x", x);
        int dev = Kernels.device("sat_loss", X, x);
        Tensor loss = x.new_empty(1);
        Kernels.check(GuidanceNative.disco_sat_loss(Kernels.ptr(x), x.numel(), Kernels.ptr(loss), dev,
                CudaStreams.of(x)));
        return loss;
    }

    /** d(gradLoss[0] * sat(x)) / dx, torch's conventions (0 where |x| ≤ 1). gradLoss [1]. */
    public static Tensor satBackward(Tensor x, Tensor gradLoss) {
        Kernels.requireFloat("sat_loss_backward", "x", x);
        Kernels.requireFloat("sat_loss_backward", "grad_loss", gradLoss, 1);
        int dev = Kernels.device("sat_loss_backward", new String[] {"x", "grad_loss"}, x, gradLoss);
        Tensor gx = x.new_empty(Kernels.shapeOf(x));
        Kernels.check(GuidanceNative.disco_sat_loss_backward(Kernels.ptr(x), Kernels.ptr(gradLoss), x.numel(),
                Kernels.ptr(gx), 0, dev, CudaStreams.of(x)));
        return gx;
    }

    /**
     * DD's {@code spherical_dist_loss(x, y)} with its broadcasting: x [a,d] (or [a,1,d]) against y [b,d] (or
     * [1,b,d]) → [a,b], {@code 2 * asin(|x/|x| - y/|y|| / 2)²}.
     */
    public static Tensor spherical(Tensor x, Tensor y) {
        long[] s = sphericalSizes("spherical_dist_loss", x, y);
        int dev = Kernels.device("spherical_dist_loss", new String[] {"x", "y"}, x, y);
        Tensor out = x.new_empty(s[0], s[1]);
        Kernels.check(GuidanceNative.disco_spherical_dist(Kernels.ptr(x), Kernels.ptr(y), s[0], s[1], s[2],
                Kernels.ptr(out), dev, CudaStreams.of(x)));
        return out;
    }

    /** The two halves of a spherical-distance VJP; gradients have the shapes of x and y. */
    public record SphericalGrad(Tensor gradX, Tensor gradY) {}

    /** The VJP of {@link #spherical} for gradOut [a,b]: gradients with respect to x and y. */
    public static SphericalGrad sphericalBackward(Tensor x, Tensor y, Tensor gradOut) {
        long[] s = sphericalSizes("spherical_dist_loss_backward", x, y);
        Kernels.requireFloat("spherical_dist_loss_backward", "grad_out", gradOut, s[0], s[1]);
        int dev = Kernels.device("spherical_dist_loss_backward", new String[] {"x", "y", "grad_out"}, x, y, gradOut);
        Tensor gx = x.new_empty(Kernels.shapeOf(x));
        Tensor gy = y.new_empty(Kernels.shapeOf(y));
        Kernels.check(GuidanceNative.disco_spherical_dist_backward(Kernels.ptr(x), Kernels.ptr(y),
                Kernels.ptr(gradOut), s[0], s[1], s[2], Kernels.ptr(gx), Kernels.ptr(gy), 0, dev,
                CudaStreams.of(x)));
        return new SphericalGrad(gx, gy);
    }

    /**
     * One CLIP model's guidance loss for one cutout batch ({@code losses} [n], {@code lossSum} = its sum, a
     * one-element tensor; both on the device, not read back), and its gradient with respect to the image embeddings.
     */
    public record ClipLoss(Tensor losses, Tensor lossSum, Tensor gradEmbeds) {}

    /**
     * The CLIP term of DD's {@code cond_fn} for one model and one cutout batch, from the image embeddings on:
     * <pre>
     * dists  = spherical_dist_loss(image_embeds.unsqueeze(1), target_embeds.unsqueeze(0))   # [cuts*n, P]
     * losses = dists.view([cuts, n, P]).mul(weights).sum(2).mean(0)                          # [n]
     * </pre>
     * and {@code gradEmbeds = d(losses.sum() * scale) / d image_embeds} (DD: {@code scale = clip_guidance_scale};
     * DD divides the x_in gradient by cutn_batches afterwards, which {@link GradientStage} does). The cutouts are
     * ordered cut-major as MakeCutoutsDango concatenates them (row {@code k*n + b} is cut k of image b).
     * {@code lossSum} is DD's logged {@code losses.sum()}, left on the device: DD reads each batch's value as it
     * goes, the guidance reads the values of all batches of a call together, once.
     *
     * @param imageEmbeds [cuts*n, D] float32
     * @param targetEmbeds [P, D] float32 (the prompts' text embeddings)
     * @param weights [P] float32 (prompt weights divided by |sum|)
     * @param n images in the batch
     * @param scale the factor of the gradient
     */
    public static ClipLoss clipLoss(Tensor imageEmbeds, Tensor targetEmbeds, Tensor weights, long n, double scale) {
        String op = "clip_loss";
        Kernels.requireFloat(op, "image_embeds", imageEmbeds, -1, -1);
        Kernels.requireFloat(op, "target_embeds", targetEmbeds, -1, imageEmbeds.size(1));
        Kernels.requireFloat(op, "weights", weights, targetEmbeds.size(0));
        if (n <= 0 || imageEmbeds.size(0) % n != 0) {
            throw new IllegalArgumentException(op + ": image_embeds: expected cuts*n rows with n = " + n + ", got "
                    + imageEmbeds.size(0));
        }
        long cuts = imageEmbeds.size(0) / n, p = targetEmbeds.size(0);
        Tensor dists = spherical(imageEmbeds, targetEmbeds);
        Tensor losses = dists.reshape(cuts, n, p).mul(weights).sum(2).mean(0);
        Tensor lossSum = losses.sum();
        // d(losses.sum())/d dists[k*n+b, j] = weights[j] / cuts
        Tensor gradOut = weights.mul(new Scalar(scale / cuts)).reshape(1, p).expand(cuts * n, p).contiguous();
        Tensor grad = sphericalBackward(imageEmbeds, targetEmbeds, gradOut).gradX();
        return new ClipLoss(losses, lossSum, grad);
    }

    private static long[] sphericalSizes(String op, Tensor x, Tensor y) {
        Kernels.requireFloat(op, "x", x);
        Kernels.requireFloat(op, "y", y);
        long[] xs = Kernels.shapeOf(x), ys = Kernels.shapeOf(y);
        boolean x2 = xs.length == 2, x3 = xs.length == 3 && xs[1] == 1;
        boolean y2 = ys.length == 2, y3 = ys.length == 3 && ys[0] == 1;
        if (!x2 && !x3) {
            throw new IllegalArgumentException(op + ": x: expected shape [a, d] or [a, 1, d], got " + java.util.Arrays.toString(xs));
        }
        if (!y2 && !y3) {
            throw new IllegalArgumentException(op + ": y: expected shape [b, d] or [1, b, d], got " + java.util.Arrays.toString(ys));
        }
        long a = xs[0], d = xs[xs.length - 1], b = y2 ? ys[0] : ys[1];
        if (ys[ys.length - 1] != d) {
            throw new IllegalArgumentException(op + ": y: expected embedding width " + d + " (as x), got " + ys[ys.length - 1]);
        }
        if (a == 0 || b == 0 || d == 0) throw new IllegalArgumentException(op + ": x, y: empty tensors");
        return new long[] {a, b, d};
    }
}
