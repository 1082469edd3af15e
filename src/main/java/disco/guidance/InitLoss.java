package disco.guidance;

import org.bytedeco.pytorch.Tensor;

/**
 * DD's init loss as the guidance sees it: a perceptual distance network (LPIPS in a run) from {@code x_in} to the
 * init image, as a function. The guidance imports no network; the pipeline hands one in.
 */
@FunctionalInterface
public interface InitLoss {
    /**
     * {@code d (lpips(xIn, init).sum() * scale) / d xIn}: [N, 3, H, W] float32 ({@code init} [N or 1, 3, H, W]
     * broadcasts over the batch, as LPIPS does).
     */
    Tensor gradient(Tensor xIn, Tensor init, double scale);
}
