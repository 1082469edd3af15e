package disco.guidance;

import static disco.torch.Scalars.s;
import org.bytedeco.pytorch.ScalarOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;

/**
 * {@link LossKernels} in LibTorch tensor ops with hand-written backward formulas, float32 like DD's: the twin of
 * {@link NativeLossKernels}, used to cross-check it. Runs on the tensors' device.
 */
public final class TorchLossKernels implements LossKernels {
    @Override
    public ClipTerm clipLoss(Tensor emb, Tensor target, Tensor weights, long n) {
        Tensor dists = spherical(emb, target); // [K, P]
        long cuts = dists.size(0) / n;
        Tensor losses = dists.view(cuts, n, -1).mul(weights).sum(new long[] {2}, false, null)
                .mean(new long[] {0}, false, null);
        // d(losses.sum()) / d dists = weights[p] / cuts
        Tensor g = weights.div(s(cuts)).view(1, -1).expand(dists.size(0), dists.size(1)).contiguous();
        return new ClipTerm(losses.sum(), sphericalBackwardX(emb, target, g));
    }

    @Override
    public XInGrad xInGrad(Tensor xIn, Tensor pred, java.util.List<Tensor> modelGrads, double clipGuidanceScale,
                           int cutnBatches, double tvScale, double satScale, Tensor initGrad) {
        Tensor g = torch.zeros_like(xIn);
        TensorVector flags = new TensorVector();
        for (int k = 0; k < modelGrads.size(); k++) {
            Tensor mg = modelGrads.get(k);
            if (mg == null) {
                flags.push_back(xIn.new_zeros(1).to(xIn.device(), torch.ScalarType.Int));
                continue;
            }
            flags.push_back(mg.isnan().any().reshape(1).to(xIn.device(), torch.ScalarType.Int));
            g = g.add(mg.mul(s(clipGuidanceScale / cutnBatches)));
        }
        Tensor ones = torch.ones_like(tv(xIn));
        g = g.add(tvBackward(xIn, ones.mul(s(tvScale)))).add(satBackward(xIn, satScale));
        if (initGrad != null) g = g.add(initGrad);
        Tensor nan = g.isnan().any(); // DD's guard, decided on the device
        flags.push_back(nan.reshape(1).to(xIn.device(), torch.ScalarType.Int));
        return new XInGrad(torch.where(nan, torch.zeros_like(g), g), torch.cat(flags, 0));
    }


    private static Tensor normalize(Tensor x, Tensor[] normOut) {
        // F.normalize: x / max(||x||, 1e-12)
        Tensor norm = x.square().sum(new long[] {-1}, true, null).sqrt().clamp_min(s(1e-12));
        normOut[0] = norm;
        return x.div(norm);
    }

    public Tensor spherical(Tensor x, Tensor y) {
        Tensor[] nx = new Tensor[1], ny = new Tensor[1];
        Tensor xn = normalize(x, nx).unsqueeze(1);
        Tensor yn = normalize(y, ny).unsqueeze(0);
        return xn.sub(yn).square().sum(new long[] {-1}, false, null).sqrt().div(s(2)).arcsin().pow(s(2)).mul(s(2));
    }

    public Tensor sphericalBackwardX(Tensor x, Tensor y, Tensor gradOut) {
        Tensor[] nx = new Tensor[1], ny = new Tensor[1];
        Tensor xn = normalize(x, nx);
        Tensor yn = normalize(y, ny);
        Tensor diff = xn.unsqueeze(1).sub(yn.unsqueeze(0)); // [a, b, d]
        Tensor r = diff.square().sum(new long[] {-1}, false, null).sqrt(); // [a, b]
        Tensor h = r.div(s(2));
        // d/dr 2 asin(r/2)^2 = 2 asin(r/2) / sqrt(1 - r^2/4); d r / d diff = diff / r (0 at r = 0, as torch)
        Tensor dr = h.arcsin().mul(s(2)).div(h.square().neg().add(s(1)).sqrt());
        Tensor coef = gradOut.mul(dr).div(r); // [a, b]
        coef = torch.where(r.gt(s(0)), coef, torch.zeros_like(coef));
        Tensor gxn = coef.unsqueeze(2).mul(diff).sum(new long[] {1}, false, null); // [a, d]
        // normalize backward: (g - xn (xn . g)) / ||x||
        Tensor dot = gxn.mul(xn).sum(new long[] {-1}, true, null);
        return gxn.sub(xn.mul(dot)).div(nx[0]);
    }

    public Tensor tv(Tensor x) {
        long h = x.size(2), w = x.size(3);
        Tensor dx = torch.zeros_like(x);
        Tensor dy = torch.zeros_like(x);
        dx.narrow(3, 0, w - 1).copy_(x.narrow(3, 1, w - 1).sub(x.narrow(3, 0, w - 1)));
        dy.narrow(2, 0, h - 1).copy_(x.narrow(2, 1, h - 1).sub(x.narrow(2, 0, h - 1)));
        return dx.square().add(dy.square()).mean(new long[] {1, 2, 3}, false, null);
    }

    public Tensor tvBackward(Tensor x, Tensor gradLoss) {
        long c = x.size(1), h = x.size(2), w = x.size(3);
        Tensor dx = torch.zeros_like(x);
        Tensor dy = torch.zeros_like(x);
        dx.narrow(3, 0, w - 1).copy_(x.narrow(3, 1, w - 1).sub(x.narrow(3, 0, w - 1)));
        dy.narrow(2, 0, h - 1).copy_(x.narrow(2, 1, h - 1).sub(x.narrow(2, 0, h - 1)));
        // loss = mean(dx^2 + dy^2): d/dx[j] gets -2 dx[j] from its own term and +2 dx[j-1] from its left neighbour
        Tensor g = dx.add(dy).mul(s(-2));
        g.narrow(3, 1, w - 1).add_(dx.narrow(3, 0, w - 1).mul(s(2)));
        g.narrow(2, 1, h - 1).add_(dy.narrow(2, 0, h - 1).mul(s(2)));
        return g.mul(gradLoss.view(-1, 1, 1, 1)).div(s((double) c * h * w));
    }

    public Tensor range(Tensor x) {
        return x.sub(clamp1(x)).square().mean(new long[] {1, 2, 3}, false, null);
    }

    public Tensor sat(Tensor x) {
        return x.sub(clamp1(x)).abs().mean();
    }

    public Tensor satBackward(Tensor x, double scale) {
        Tensor sign = x.sub(clamp1(x)).sign();
        return sign.mul(s(scale / x.numel()));
    }

    @Override
    public Clamped rmsClamp(Tensor g, double clampMax) {
        Tensor mag = g.square().mean().sqrt();
        // mag == 0: DD would divide 0 by 0; an all-zero gradient stays zero
        Tensor clamped = torch.where(mag.gt(s(0)), g.mul(mag.clamp_max(s(clampMax))).div(mag), g);
        return new Clamped(clamped, mag.reshape(1));
    }

    private static Tensor clamp1(Tensor x) {
        return x.clamp(new ScalarOptional(s(-1)), new ScalarOptional(s(1)));
    }
}
