package disco.kernels;

import org.bytedeco.pytorch.Tensor;

/**
 * DD's guidance losses as explicit forward/backward pairs on the native kernels (float32, contiguous, CPU or
 * CUDA by the tensors' device). Results are new tensors on the input's device.
 */
public final class Losses {
    private Losses() {}

    /** DD's {@code tv_loss(x)}: x [n,c,h,w] → [n] (replicate pad right/bottom, mean over C,H,W). */
    public static Tensor tv(Tensor x) {
        Kernels.requireFloat("tv_loss", "x", x, -1, -1, -1, -1);
        int dev = Kernels.device("tv_loss", new String[] {"x"}, x);
        long n = x.size(0);
        Tensor loss = x.new_empty(n);
        Kernels.check(GuidanceNative.disco_tv_loss(Kernels.ptr(x), n, x.size(1), x.size(2), x.size(3),
                Kernels.ptr(loss), dev, null));
        return loss;
    }

    /** d(sum_b gradLoss[b] * tv(x)[b]) / dx: x [n,c,h,w], gradLoss [n] → [n,c,h,w]. */
    public static Tensor tvBackward(Tensor x, Tensor gradLoss) {
        Kernels.requireFloat("tv_loss_backward", "x", x, -1, -1, -1, -1);
        Kernels.requireFloat("tv_loss_backward", "grad_loss", gradLoss, x.size(0));
        int dev = Kernels.device("tv_loss_backward", new String[] {"x", "grad_loss"}, x, gradLoss);
        Tensor gx = x.new_empty(Kernels.shapeOf(x));
        Kernels.check(GuidanceNative.disco_tv_loss_backward(Kernels.ptr(x), Kernels.ptr(gradLoss), x.size(0),
                x.size(1), x.size(2), x.size(3), Kernels.ptr(gx), 0, dev, null));
        return gx;
    }
}
