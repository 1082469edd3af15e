package disco.reference;

import disco.kernels.Kernels;
import disco.kernels.Losses;
import disco.torch.Tensors;
import disco.util.Compare;
import disco.util.Npy;
import org.bytedeco.pytorch.Tensor;

import java.util.ArrayList;
import java.util.List;

/**
 * verify-reference group for the loss kernels: {@code loss/spherical} (loss_sph_x, loss_sph_y → loss_sph),
 * {@code loss/tv} and {@code loss/range} (loss_img → loss_tv, loss_range); tolerance 1e-5 each. Sizes come from
 * the files.
 */
public final class LossReferenceCheck implements ReferenceCheck {
    static final double TOL = 1e-5;

    @Override
    public List<CheckResult> run(ReferenceContext ctx) {
        List<CheckResult> out = new ArrayList<>();
        out.add(one("loss/spherical", () -> {
            Tensor x = tensor(ctx.npy("loss_sph_x.npy")), y = tensor(ctx.npy("loss_sph_y.npy"));
            return Compare.maxRelErr(Tensors.toFloats(Losses.spherical(x, y)), ctx.npy("loss_sph.npy").floats());
        }));
        out.add(one("loss/tv", () -> Compare.maxRelErr(Tensors.toFloats(Losses.tv(tensor(ctx.npy("loss_img.npy")))),
                ctx.npy("loss_tv.npy").floats())));
        out.add(one("loss/range", () -> Compare.maxRelErr(
                Tensors.toFloats(Losses.range(tensor(ctx.npy("loss_img.npy")))), ctx.npy("loss_range.npy").floats())));
        return out;
    }

    private interface Err {
        double get();
    }

    private static CheckResult one(String name, Err err) {
        try (var scope = new org.bytedeco.javacpp.PointerScope()) {
            return CheckResult.numeric(name, err.get(), TOL);
        } catch (RuntimeException e) {
            return CheckResult.error(name, String.valueOf(e.getMessage()));
        }
    }

    private static Tensor tensor(Npy.Array a) {
        Kernels.init();
        return Tensors.fromFloats(a.floats(), a.shape());
    }

}
