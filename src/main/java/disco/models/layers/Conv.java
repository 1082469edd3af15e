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
        if (asMatrixProduct(x)) {
            long n = x.size(0), h = x.size(2), w = x.size(3), out = weight.size(0);
            Tensor cols = torch.im2col(x, kernel(), new long[] {1, 1}, new long[] {padding, padding}, new long[] {1, 1});
            return weight.reshape(out, -1).matmul(cols).add(bias.view(out, 1)).view(n, out, h, w);
        }
        return torch.conv2d(x, weight, b, new long[] {stride, stride}, new long[] {padding, padding},
                new long[] {1, 1}, 1);
    }

    /** Rows of a small grid at or under which {@link #asMatrixProduct} applies. */
    static final long SMALL_GRID_ROWS = 64;
    /** Input channels from which {@link #asMatrixProduct} applies. */
    static final long WIDE_INPUT = 1536;

    /**
     * Whether this convolution runs as an explicit matrix product over the unfolded input ({@code im2col}, then the
     * weight [out, in*k*k] times the columns) instead of LibTorch's convolution: on the CPU, float32, outside an
     * autocast region, for a square kernel padded to keep the grid, stride 1, at most {@value #SMALL_GRID_ROWS} output
     * positions in all and at least {@value #WIDE_INPUT} input channels: the UNet's lowest output blocks (2048 or
     * 1536 channels to 1024 at 4x4 and 8x8), where oneDNN's convolution took 2-17x the product's time in a probe of
     * single layers (bench/README.md, "Batch norms folded, the ViT's class token alone, wide convolutions on a small
     * grid"). The same sums in another order.
     */
    boolean asMatrixProduct(Tensor x) {
        return x.dim() == 4 && x.size(1) == weight.size(1) && asMatrixProduct(x, x.size(0) * x.size(2) * x.size(3));
    }

    /** {@link #asMatrixProduct(Tensor)} for an input or output gradient {@code t} over {@code rows} positions. */
    private boolean asMatrixProduct(Tensor t, long rows) {
        return dims == 2 && stride == 1 && weight.size(2) > 1 && 2 * padding == weight.size(2) - 1
                && weight.size(1) >= WIDE_INPUT && rows <= SMALL_GRID_ROWS && t.is_cpu()
                && t.scalar_type().intern() == ScalarType.Float && weight.scalar_type().intern() == ScalarType.Float
                && !disco.torch.Autocast.enabled(torch.DeviceType.CPU); // an autocast region keeps LibTorch's op
    }

    private long[] kernel() {
        return new long[] {weight.size(2), weight.size(3)};
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
        if (gg.dim() == 4 && asMatrixProduct(gg, gg.size(0) * gg.size(2) * gg.size(3))) {
            // the forward's matrix product transposed: columns = W^T g, folded back onto the grid
            long n = gg.size(0), h = gg.size(2), w = gg.size(3), out = weight.size(0);
            Tensor cols = weight.reshape(out, -1).t().matmul(gg.reshape(n, out, h * w));
            return torch.col2im(cols, new long[] {h, w}, kernel(), new long[] {1, 1}, new long[] {padding, padding},
                    new long[] {1, 1});
        }
        return torch.conv_transpose2d(gg, weight, new TensorOptional(), new long[] {1, 1}, new long[] {padding, padding},
                new long[] {0, 0}, 1, 1, 1);
    }
}
