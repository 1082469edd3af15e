package disco.run;

import disco.guidance.CutoutStage;
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

/** TEMPORARY until the sampler branch's NativeCutoutStage lands: the native cutouts behind CutoutStage. */
final class KernelCutoutStage implements CutoutStage {
    private final boolean skipAugs;

    KernelCutoutStage(boolean skipAugs) {
        this.skipAugs = skipAugs;
    }

    @Override
    public Cuts make(Tensor image01, PlanStep step, int cutSize, RandomStream random) {
        Tensor image = image01.contiguous();
        int n = (int) image.size(0), h = (int) image.size(2), w = (int) image.size(3);
        CutDraws draws = CutDraws.of(random);
        CutSet one = CutoutDrawer.draw(0, h, w, cutSize,
                new CutSettings(step.overview(), step.innercut(), step.icPow(), step.icgrayP(), skipAugs, false), draws);
        List<Cut> all = new ArrayList<>();
        for (Cut c : one.cuts())
            for (int i = 0; i < n; i++)
                all.add(new Cut(i, c.y0(), c.x0(), c.height(), c.width(), c.grayPre(), c.hflip(), c.noise1(), c.affine(),
                        c.noise2(), c.grayAug(), c.noise3(), c.jitter()));
        float[] noise = null;
        if (one.noise() != null) {
            noise = new float[all.size() * 9 * cutSize * cutSize];
            draws.gaussians(noise);
        }
        CutSet set = new CutSet(all, cutSize, noise);
        Tensor out = set.forward(image);
        return new Cuts() {
            public Tensor images() { return out; }
            public int cutsPerImage() { return one.cuts().size(); }
            public Tensor backward(Tensor g) { return set.backward(image, g.contiguous()); }
        };
    }

    static CutoutStage create(boolean skipAugs) {
        return new KernelCutoutStage(skipAugs);
    }
}
