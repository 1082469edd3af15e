package disco.reference;

import disco.models.lpips.LpipsModel;
import disco.torch.Tensors;
import disco.torch.Torch;
import disco.util.Compare;
import disco.util.Npy;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.AutoGradMode;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

import java.util.List;

/**
 * {@code loss/lpips}: DD's {@code lpips.LPIPS(net='vgg')(x, init)} on the directory's {@code lpips-vgg16.pth} and
 * {@code lpips-lin.pth} (both in torch's legacy format, widths from the weights), {@code loss_lpips_x} against
 * {@code loss_lpips_init} (broadcast over the batch): the values {@code [N,1,1,1]} and the five per-layer terms
 * {@code [5, N]} to 1e-4, the gradient of the sum with respect to {@code x} to 1e-3. The line reports the values'
 * error against 1e-4; it passes only when all three are within their tolerances.
 */
public final class LpipsReferenceCheck implements ReferenceCheck {
    static final double TOL = 1e-4;
    static final double GRAD_TOL = 1e-3;

    @Override
    public List<CheckResult> run(ReferenceContext ctx) {
        try (PointerScope scope = new PointerScope()) {
            return List.of(check(ctx));
        } catch (RuntimeException e) {
            return List.of(CheckResult.error("loss/lpips", String.valueOf(e.getMessage()).split("\n", 2)[0]));
        }
    }

    static CheckResult check(ReferenceContext ctx) {
        Torch.init();
        LpipsModel m = LpipsModel.load(ctx.file(SamplerReferenceChecks.LPIPS_TRUNK), ctx.file(SamplerReferenceChecks.LPIPS_HEADS));
        Tensor x = tensor(ctx.npy("loss_lpips_x.npy"));
        Tensor init = tensor(ctx.npy("loss_lpips_init.npy"));
        List<Tensor> layers;
        Tensor leaf;
        try (AutoGradMode on = new AutoGradMode(true)) {
            leaf = x.detach().requires_grad_(true);
            layers = m.layers(leaf, m.target(init));
        }
        Tensor val = null;
        for (Tensor t : layers) val = val == null ? t : val.add(t);
        org.bytedeco.pytorch.TensorVector flat = new org.bytedeco.pytorch.TensorVector();
        for (Tensor t : layers) flat.push_back(t.detach().reshape(1, -1));
        Tensor stacked = torch.cat(flat, 0); // [5, N]
        Tensor grad = Tensors.vjp(val, leaf, torch.ones_like(val));
        double eV = Compare.maxRelErr(Tensors.toFloats(val.detach()), ctx.npy("loss_lpips.npy").floats());
        double eL = Compare.maxRelErr(Tensors.toFloats(stacked), ctx.npy("loss_lpips_layers.npy").floats());
        double eG = Compare.maxRelErr(Tensors.toFloats(grad), ctx.npy("loss_lpips_grad.npy").floats());
        double err = Math.max(eV, eL);
        boolean pass = err <= TOL && eG <= GRAD_TOL;
        if (Double.isNaN(eV) || Double.isNaN(eL) || Double.isNaN(eG)) {
            err = Double.NaN;
            pass = false;
        }
        return new CheckResult("loss/lpips", err, TOL, pass,
                String.format("values %.2e, layers %.2e, grad %.2e (tol %.0e)", eV, eL, eG, GRAD_TOL));
    }

    private static Tensor tensor(Npy.Array a) {
        return Tensors.fromFloats(a.floats(), a.shape());
    }
}
