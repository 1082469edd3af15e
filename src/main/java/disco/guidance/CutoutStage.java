package disco.guidance;

import disco.plan.PlanStep;
import disco.util.RandomStream;
import org.bytedeco.pytorch.Tensor;

/**
 * DD's MakeCutoutsDango (+ augmentations) as an explicit forward/backward pair: images in [0, 1] → cutouts, and
 * the gradient on the cutouts back to the images. The native cutout stage implements it.
 */
public interface CutoutStage {
    /**
     * Cutouts of {@code image01} [N, 3, H, W] for one CLIP model and one cutn batch at a plan step (overview,
     * innercut, ic_pow, icgray_p from {@code step}), drawn from {@code random}. Cut-major layout as DD's
     * {@code torch.cat}: the K = (overview + innercut) * N cutouts are ordered cut by cut, image by image.
     */
    Cuts make(Tensor image01, PlanStep step, int cutSize, RandomStream random);

    /** One batch of cutouts and what is needed to pull a gradient back. */
    interface Cuts {
        /** [K, 3, S, S]. */
        Tensor images();

        /** Number of cuts per image ({@code overview + innercut}). */
        int cutsPerImage();

        /** {@code (d cuts / d image)^T g}: [K, 3, S, S] → [N, 3, H, W]. */
        Tensor backward(Tensor gradCuts);
    }
}
