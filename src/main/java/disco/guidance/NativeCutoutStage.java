package disco.guidance;

import disco.kernels.Cut;
import disco.kernels.CutDraws;
import disco.kernels.CutSet;
import disco.kernels.CutSettings;
import disco.kernels.CutoutDrawer;
import disco.plan.PlanStep;
import disco.util.RandomStream;
import org.bytedeco.pytorch.Tensor;

import java.util.ArrayList;
import java.util.List;

/**
 * The native cutout stage ({@link disco.kernels.Cutouts}) behind {@link CutoutStage}. As DD's MakeCutoutsDango works
 * on the whole batch, every image of the batch gets the same boxes and augmentation parameters; the cutouts are
 * laid out cut-major (cut 0 of every image, then cut 1, ...). Noise (when augmentations are on) is drawn per image.
 */
public final class NativeCutoutStage implements CutoutStage {
    private final boolean skipAugs;
    private final boolean augPerCut;

    public NativeCutoutStage(boolean skipAugs, boolean augPerCut) {
        this.skipAugs = skipAugs;
        this.augPerCut = augPerCut;
    }

    @Override
    public Cuts make(Tensor image01, PlanStep step, int cutSize, RandomStream random) {
        Tensor image = image01.contiguous();
        int n = Math.toIntExact(image.size(0));
        int h = Math.toIntExact(image.size(2));
        int w = Math.toIntExact(image.size(3));
        CutSettings cs = new CutSettings(step.overview(), step.innercut(), step.icPow(), step.icgrayP(), skipAugs,
                augPerCut);
        CutDraws draws = CutDraws.of(random);
        CutSet base = CutoutDrawer.draw(0, h, w, cutSize, cs, draws);
        CutSet set = base;
        if (n > 1) {
            List<Cut> cuts = new ArrayList<>();
            for (Cut c : base.cuts()) {
                for (int img = 0; img < n; img++) {
                    cuts.add(new Cut(img, c.y0(), c.x0(), c.height(), c.width(), c.grayPre(), c.hflip(), c.noise1(),
                            c.affine(), c.noise2(), c.grayAug(), c.noise3(), c.jitter()));
                }
            }
            float[] noise = null;
            if (base.noise() != null) {
                noise = new float[cuts.size() * 9 * cutSize * cutSize];
                draws.gaussians(noise);
            }
            set = new CutSet(cuts, cutSize, noise);
        }
        CutSet chosen = set;
        Tensor out = chosen.forward(image);
        int perImage = base.cuts().size();
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
                return chosen.backward(image, gradCuts.contiguous());
            }
        };
    }
}
