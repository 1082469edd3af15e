package disco.guidance;

import disco.kernels.Cut;
import disco.kernels.CutDraws;
import disco.kernels.CutSet;
import disco.kernels.CutSettings;
import disco.kernels.CutoutDrawer;
import disco.kernels.TorchCutouts;
import disco.plan.PlanStep;
import disco.torch.Tensors;
import disco.util.RandomStream;
import org.bytedeco.pytorch.AutoGradMode;
import org.bytedeco.pytorch.Tensor;

import java.util.ArrayList;
import java.util.List;

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
        CutDraws draws = CutDraws.of(random);
        CutSet one = CutoutDrawer.draw(0, h, w, cutSize,
                new CutSettings(step.overview(), step.innercut(), step.icPow(), step.icgrayP(), skipAugs, false), draws);
        if (n == 1) return one;
        List<Cut> all = new ArrayList<>();
        for (Cut c : one.cuts()) {
            for (int i = 0; i < n; i++) {
                all.add(new Cut(i, c.y0(), c.x0(), c.height(), c.width(), c.grayPre(), c.hflip(), c.noise1(),
                        c.affine(), c.noise2(), c.grayAug(), c.noise3(), c.jitter()));
            }
        }
        float[] noise = null;
        if (one.noise() != null) {
            noise = new float[all.size() * 9 * cutSize * cutSize];
            draws.gaussians(noise);
        }
        return new CutSet(all, cutSize, noise);
    }

    @Override
    public Cuts make(Tensor image01, PlanStep step, int cutSize, RandomStream random) {
        Tensor image = image01.contiguous();
        int n = Math.toIntExact(image.size(0));
        CutSet set = draw(n, Math.toIntExact(image.size(2)), Math.toIntExact(image.size(3)), cutSize, step, skipAugs,
                random);
        int perImage = set.cuts().size() / n;
        Tensor noise = set.noiseTensor();
        if (noise != null && image.is_cuda()) noise = noise.to(image.device(), noise.scalar_type());
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
