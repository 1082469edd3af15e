package disco.models.layers;

import org.bytedeco.pytorch.Module;
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
}
