package disco.models.layers;

import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.T_TensorTensorTensor_T;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * guided-diffusion's {@code GroupNorm32}: {@code nn.GroupNorm(32, channels)} (eps 1e-5, affine) computed in float32
 * whatever the input dtype, the result cast back to it.
 */
public final class GroupNorm32 extends Module {
    public static final int GROUPS = 32;
    private final Tensor weight;
    private final Tensor bias;

    public GroupNorm32(long channels) {
        if (channels % GROUPS != 0) {
            throw new IllegalArgumentException("GroupNorm32 needs a multiple of 32 channels, got " + channels);
        }
        this.weight = Params.empty(channels);
        register_parameter("weight", this.weight);
        this.bias = Params.empty(channels);
        register_parameter("bias", this.bias);
    }

    public Tensor forward(Tensor x) {
        ScalarType t = x.scalar_type().intern();
        Tensor xf = t == ScalarType.Float ? x : x.to(ScalarType.Float);
        Tensor y = torch.group_norm(xf, GROUPS, new TensorOptional(weight), new TensorOptional(bias), 1e-5, true);
        return t == ScalarType.Float ? y : y.to(t);
    }

    /** A forward's normalised output (in the input's dtype) with the float32 statistics its backward reads. */
    public record Stats(Tensor y, Tensor mean, Tensor rstd) {}

    /** {@link #forward} with its statistics (no autograd needed: for a hand-written pull-back). */
    public Stats stats(Tensor x) {
        ScalarType t = x.scalar_type().intern();
        Tensor xf = t == ScalarType.Float ? x : x.to(ScalarType.Float);
        long n = xf.size(0), c = xf.size(1), hw = xf.numel() / (n * c);
        T_TensorTensorTensor_T r = torch.native_group_norm(xf, new TensorOptional(weight), new TensorOptional(bias),
                n, c, hw, GROUPS, 1e-5);
        Tensor y = r.get0();
        return new Stats(t == ScalarType.Float ? y : y.to(t), r.get1(), r.get2());
    }

    /** The vector-Jacobian product of {@link #forward} at {@code x} (whose {@link #stats} are {@code st}) with respect to x. */
    public Tensor backward(Tensor g, Tensor x, Stats st) {
        ScalarType t = x.scalar_type().intern();
        Tensor xf = t == ScalarType.Float ? x : x.to(ScalarType.Float);
        Tensor gf = g.scalar_type().intern() == ScalarType.Float ? g : g.to(ScalarType.Float);
        long n = xf.size(0), c = xf.size(1), hw = xf.numel() / (n * c);
        org.bytedeco.javacpp.BoolPointer mask = new org.bytedeco.javacpp.BoolPointer(3);
        mask.put(0, true).put(1, false).put(2, false);
        Tensor gx = torch.native_group_norm_backward(gf, xf, st.mean(), st.rstd(), new TensorOptional(weight),
                n, c, hw, GROUPS, mask).get0();
        return t == ScalarType.Float ? gx : gx.to(t);
    }
}
