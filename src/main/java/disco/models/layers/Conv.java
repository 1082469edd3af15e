package disco.models.layers;

import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/** {@code nn.Conv1d} / {@code nn.Conv2d} with bias: parameters {@code weight} [out, in, k(, k)] and {@code bias} [out]. */
public final class Conv extends Module {
    private final int dims;
    private final long stride;
    private final long padding;
    private final Tensor weight;
    private final Tensor bias;

    public Conv(int dims, long in, long out, long kernel, long stride, long padding) {
        if (dims != 1 && dims != 2) throw new IllegalArgumentException("dims " + dims);
        this.dims = dims;
        this.stride = stride;
        this.padding = padding;
        long[] shape = dims == 1 ? new long[] {out, in, kernel} : new long[] {out, in, kernel, kernel};
        this.weight = Params.empty(shape);
        register_parameter("weight", this.weight);
        this.bias = Params.empty(out);
        register_parameter("bias", this.bias);
    }

    /** A 2-D convolution with stride 1 and the given padding. */
    public static Conv conv2d(long in, long out, long kernel, long padding) {
        return new Conv(2, in, out, kernel, 1, padding);
    }

    /**
     * Converts weight and bias to {@code dtype} in place (guided-diffusion's {@code convert_module_to_f16}): the
     * parameter objects stay the same, so the module and its state_dict see the change.
     */
    public void convertTo(ScalarType dtype) {
        try (NoGradGuard g = new NoGradGuard()) {
            weight.set_data(weight.to(dtype));
            bias.set_data(bias.to(dtype));
        }
    }

    public Tensor forward(Tensor x) {
        TensorOptional b = new TensorOptional(bias);
        if (dims == 1) {
            return torch.conv1d(x, weight, b, new long[] {stride}, new long[] {padding}, new long[] {1}, 1);
        }
        return torch.conv2d(x, weight, b, new long[] {stride, stride}, new long[] {padding, padding},
                new long[] {1, 1}, 1);
    }

    /**
     * The vector-Jacobian product of a 2-D stride-1 {@link #forward} with respect to its input: the transposed
     * convolution of {@code g} [N, out, H, W] with the weight (what autograd's convolution backward computes for the
     * input, without the input itself: the weight is frozen, so only the weight is needed).
     */
    public Tensor inputGrad(Tensor g) {
        if (dims != 2 || stride != 1) throw new IllegalStateException("inputGrad is defined for 2-D stride-1 convolutions");
        ScalarType wt = weight.scalar_type().intern();
        Tensor gg = wt == ScalarType.Float || g.scalar_type().intern() == wt ? g : g.to(wt);
        return torch.conv_transpose2d(gg, weight, new TensorOptional(), new long[] {1, 1}, new long[] {padding, padding},
                new long[] {0, 0}, 1, 1, 1);
    }
}
