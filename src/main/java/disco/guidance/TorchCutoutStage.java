package disco.guidance;

import disco.kernels.CutSet;
import disco.kernels.CutSettings;
import disco.kernels.TorchCutouts;
import disco.plan.PlanStep;
import disco.torch.Tensors;
import disco.util.RandomStream;
import org.bytedeco.pytorch.AutoGradMode;
import org.bytedeco.pytorch.Tensor;


/**
 * DD's cutouts behind {@link CutoutStage} computed the way DD computes them: LibTorch ops ({@link TorchCutouts})
 * recorded by autograd in one graph per call and pulled back once. The cuts are drawn exactly as
 * {@link disco.guidance.NativeCutoutStage} draws them (boxes and augmentation parameters shared by the batch as in
 * MakeCutoutsDango, cut-major layout, the same stream), so both stages give the same cutouts to rounding.
 */
public final class TorchCutoutStage implements CutoutStage {
    private final boolean skipAugs;

    public TorchCutoutStage(boolean skipAugs) {
        this.skipAugs = skipAugs;
    }

    /** The cuts of one call for a batch of {@code n} images: each drawn box applied to every image, cut-major. */
    static CutSet draw(int n, int h, int w, int cutSize, PlanStep step, boolean skipAugs, RandomStream random) {
        return NativeCutoutStage.draw(n, h, w, cutSize,
                new CutSettings(step.overview(), step.innercut(), step.icPow(), step.icgrayP(), skipAugs, false), random);
    }

    @Override
    public Cuts make(Tensor image01, PlanStep step, int cutSize, RandomStream random) {
        Tensor image = image01.contiguous();
        int n = Math.toIntExact(image.size(0));
        CutSet set = draw(n, Math.toIntExact(image.size(2)), Math.toIntExact(image.size(3)), cutSize, step, skipAugs,
                random);
        int perImage = set.cuts().size() / n;
        Tensor noise = set.noiseTensor(image, 0);
        Tensor leaf;
        Tensor graph;
        try (AutoGradMode on = new AutoGradMode(true)) {
            leaf = image.detach().requires_grad_(true);
            graph = TorchCutouts.forward(leaf, set.cuts(), cutSize, noise);
        }
        Tensor out = graph.detach();
        return new Cuts() {
            public Tensor images() {
                return out;
            }

            public int cutsPerImage() {
                return perImage;
            }

            public Tensor backward(Tensor g) {
                return Tensors.vjp(graph, leaf, g);
            }
        };
    }
}
