package disco.models.layers;

import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.global.torch;

/** {@code nn.Linear} with bias: {@code weight} [out, in], {@code bias} [out]. */
public final class Linear extends Module {
    private final Tensor weight;
    private final Tensor bias;

    public Linear(long in, long out) {
        this.weight = Params.empty(out, in);
        register_parameter("weight", this.weight);
        this.bias = Params.empty(out);
        register_parameter("bias", this.bias);
    }

    public Tensor forward(Tensor x) {
        return torch.linear(x, weight, new TensorOptional(bias));
    }
}
