package disco.guidance;

import disco.kernels.Cut;
import disco.kernels.CutDraws;
import disco.kernels.CutSet;
import disco.kernels.CutSettings;
import disco.kernels.CutoutDrawer;
import disco.kernels.CudaStreams;
import disco.plan.PlanStep;
import disco.util.RandomStream;
import org.bytedeco.pytorch.Tensor;

import java.util.ArrayList;
import java.util.List;

/**
 * The native cutout stage ({@link disco.kernels.Cutouts}) behind {@link CutoutStage}. As DD's MakeCutoutsDango works
 * on the whole batch, every image of the batch gets the same boxes and augmentation parameters; the cutouts are
 * laid out cut-major (cut 0 of every image, then cut 1, ...). Noise (when augmentations are on) is drawn per image:
 * as a stream key and start position, from which the kernels generate the normals (no host array, no upload). The
 * forward keeps the input of each cut's jitter ops (the kernels' state) so the backward recomputes no part of the forward. The
 * kernels run on LibTorch's current CUDA stream of the image's device ({@link CudaStreams#of}; 0 on the CPU).
 */
public final class NativeCutoutStage implements CutoutStage {
    private final boolean skipAugs;
    private final boolean augPerCut;

    public NativeCutoutStage(boolean skipAugs, boolean augPerCut) {
        this.skipAugs = skipAugs;
        this.augPerCut = augPerCut;
    }

    /** The cuts of one call for a batch of {@code n} images (the draws as they have always been consumed). */
    static CutSet draw(int n, int h, int w, int cutSize, CutSettings cs, RandomStream random) {
        CutDraws draws = CutDraws.of(random);
        CutSet base = CutoutDrawer.draw(0, h, w, cutSize, cs, draws);
        if (n == 1) return base;
        List<Cut> cuts = new ArrayList<>();
        for (Cut c : base.cuts()) {
            for (int img = 0; img < n; img++) {
                cuts.add(new Cut(img, c.y0(), c.x0(), c.height(), c.width(), c.grayPre(), c.hflip(), c.noise1(),
                        c.affine(), c.noise2(), c.grayAug(), c.noise3(), c.jitter()));
            }
        }
        // the batch's normals follow the (unused) single-image ones in the stream, as when they were drawn in Java
        CutSet.KeyedNoise noise = base.hasNoise() ? draws.keyedGaussians((long) cuts.size() * 9 * cutSize * cutSize) : null;
        return new CutSet(cuts, cutSize, null, noise);
    }

    @Override
    public Cuts make(Tensor image01, PlanStep step, int cutSize, RandomStream random) {
        Tensor image = image01.contiguous();
        int n = Math.toIntExact(image.size(0));
        int h = Math.toIntExact(image.size(2));
        int w = Math.toIntExact(image.size(3));
        CutSettings cs = new CutSettings(step.overview(), step.innercut(), step.icPow(), step.icgrayP(), skipAugs,
                augPerCut);
        CutSet set = draw(n, h, w, cutSize, cs, random);
        Tensor state = set.newState(image);
        Tensor out = set.forward(image, state, CudaStreams.of(image));
        int perImage = set.cuts().size() / n;
        return new Cuts() {
            @Override
            public Tensor images() {
                return out;
            }

            @Override
            public int cutsPerImage() {
                return perImage;
            }

            @Override
            public Tensor backward(Tensor gradCuts) {
                return set.backward(image, state, gradCuts.contiguous(), CudaStreams.of(image));
            }
        };
    }
}
