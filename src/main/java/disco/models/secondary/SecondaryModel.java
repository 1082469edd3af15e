package disco.models.secondary;

import disco.torch.Tensors;
import disco.models.layers.Modules;
import disco.models.checkpoint.TorchCheckpoint;
import disco.models.layers.Conv;
import disco.models.layers.Params;
import disco.torch.Torch;
import disco.util.DiscoException;
import org.bytedeco.pytorch.LongOptional;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;

import java.nio.file.Path;
import java.util.Map;
import java.util.Set;

/**
 * DD's {@code SecondaryDiffusionImageNet2}: a small v-prediction UNet (ConvBlocks = conv3x3 + ReLU, five nested
 * SkipBlocks with 2x2 average pooling down and bilinear x2 up), conditioned on the cosine time
 * {@code t = atan2(sigma, alpha) * 2 / pi} through Fourier features. Base width {@code c} (64 in the released file)
 * and the Fourier feature count are read from the weights. Parameter names are DD's ({@code timestep_embed.weight},
 * {@code net.0.0.weight}, {@code net.2.main.1.0.weight}, ...).
 */
public final class SecondaryModel extends Module {
    /** DD's {@code DiffusionOutput}: v, the x0 prediction and the eps prediction. */
    public record Output(Tensor v, Tensor pred, Tensor eps) {}

    private static final int DEPTH = 5;
    private final int width;
    private final Tensor fourierWeight;
    private final Conv[] outer = new Conv[4];
    private final Level level1;

    /** @param width base channel count c (channels c, 2c, 2c, 4c, 4c, 8c); @param fourier Fourier features (16) */
    public SecondaryModel(int width, int fourier) {
        Torch.init();
        if (width <= 0 || fourier <= 0 || fourier % 2 != 0) {
            throw new IllegalArgumentException("secondary model width " + width + ", fourier features " + fourier);
        }
        this.width = width;
        int[] cs = {width, width * 2, width * 2, width * 4, width * 4, width * 8};
        Module te = Modules.register(this, "timestep_embed", new Module());
        fourierWeight = Params.empty(fourier / 2, 1);
        te.register_parameter("weight", fourierWeight);
        Module net = Modules.register(this, "net", new Module());
        outer[0] = convBlock(net, 0, 3 + fourier, cs[0]);
        outer[1] = convBlock(net, 1, cs[0], cs[0]);
        Module skip = Modules.register(net, "2", new Module());
        level1 = new Level(Modules.register(skip, "main", new Module()), 1, cs);
        outer[2] = convBlock(net, 3, cs[0] * 2, cs[0]);
        outer[3] = Modules.register(net, "4", Conv.conv2d(cs[0], 3, 3, 1));
    }

    /** A ConvBlock ({@code nn.Sequential(Conv2d 3x3, ReLU)}) registered as child {@code index} of {@code parent}. */
    private static Conv convBlock(Module parent, int index, int in, int out) {
        Module block = Modules.register(parent, Integer.toString(index), new Module());
        return Modules.register(block, "0", Conv.conv2d(in, out, 3, 1));
    }

    /** One SkipBlock's main branch: down, two ConvBlocks, the next level (or two more at the bottom), two ConvBlocks, up. */
    private static final class Level {
        final Conv[] convs;
        final Level inner;

        Level(Module main, int d, int[] cs) {
            if (d < DEPTH) {
                // registration order is state_dict order: 1, 2, the nested SkipBlock 3, then 4, 5
                Conv c1 = convBlock(main, 1, cs[d - 1], cs[d]);
                Conv c2 = convBlock(main, 2, cs[d], cs[d]);
                Module skip = Modules.register(main, "3", new Module());
                inner = new Level(Modules.register(skip, "main", new Module()), d + 1, cs);
                convs = new Conv[] {c1, c2, convBlock(main, 4, cs[d] * 2, cs[d]), convBlock(main, 5, cs[d], cs[d - 1])};
            } else {
                convs = new Conv[] {convBlock(main, 1, cs[d - 1], cs[d]), convBlock(main, 2, cs[d], cs[d]),
                        convBlock(main, 3, cs[d], cs[d]), convBlock(main, 4, cs[d], cs[d - 1])};
                inner = null;
            }
        }

        /** SkipBlock: cat([main(x), x], dim=1). */
        Tensor skip(Tensor x) {
            Tensor h = down(x);
            h = relu(convs[0], h);
            h = relu(convs[1], h);
            if (inner != null) {
                h = inner.skip(h);
                h = relu(convs[2], h);
                h = relu(convs[3], h);
            } else {
                h = relu(convs[2], h);
                h = relu(convs[3], h);
            }
            h = up(h);
            return torch.cat(new TensorVector(h, x), 1);
        }
    }

    private static Tensor relu(Conv c, Tensor x) {
        // in place, as DD's ReLU(inplace=True): the conv keeps its input, not its output
        return torch.relu_(c.forward(x));
    }

    private static Tensor down(Tensor x) {
        return torch.avg_pool2d(x, new long[] {2, 2}, new long[] {2, 2}, new long[] {0, 0}, false, true,
                new LongOptional());
    }

    private static Tensor up(Tensor x) {
        return torch.upsample_bilinear2d(x, new long[] {x.size(2) * 2, x.size(3) * 2}, false,
                new org.bytedeco.pytorch.DoubleOptional(2.0), new org.bytedeco.pytorch.DoubleOptional(2.0));
    }

    public int width() {
        return width;
    }

    /** Height and width must be multiples of this (five halvings). */
    public static int sizeMultiple() {
        return 1 << DEPTH;
    }

    /**
     * DD's forward: {@code x} [N, 3, H, W], cosine time {@code t} [N]. v = net(cat[x, fourier(t) planes]);
     * alpha, sigma = cos(t pi/2), sin(t pi/2); pred = x alpha - v sigma; eps = x sigma + v alpha.
     */
    public Output forward(Tensor x, Tensor t) {
        if (x.dim() != 4 || x.size(2) % sizeMultiple() != 0 || x.size(3) % sizeMultiple() != 0) {
            throw new IllegalArgumentException("secondary model input must be [N, 3, H, W] with H, W multiples of "
                    + sizeMultiple());
        }
        Tensor f = t.unsqueeze(1).mul(new Scalar(2 * Math.PI)).matmul(fourierWeight.t());
        Tensor emb = torch.cat(new TensorVector(f.cos(), f.sin()), -1);
        Tensor planes = emb.unsqueeze(-1).unsqueeze(-1).expand(new long[] {emb.size(0), emb.size(1), x.size(2), x.size(3)});
        Tensor h = torch.cat(new TensorVector(x, planes), 1);
        h = relu(outer[0], h);
        h = relu(outer[1], h);
        h = level1.skip(h);
        h = relu(outer[2], h);
        Tensor v = outer[3].forward(h);
        Tensor[] as = alphaSigma(t);
        Tensor alpha = as[0].reshape(-1, 1, 1, 1), sigma = as[1].reshape(-1, 1, 1, 1);
        Tensor pred = x.mul(alpha).sub(v.mul(sigma));
        Tensor eps = x.mul(sigma).add(v.mul(alpha));
        return new Output(v, pred, eps);
    }

    /** DD's {@code t_to_alpha_sigma}: [cos(t pi / 2), sin(t pi / 2)]. */
    public static Tensor[] alphaSigma(Tensor t) {
        Tensor a = t.mul(new Scalar(Math.PI)).div(new Scalar(2.0));
        return new Tensor[] {a.cos(), a.sin()};
    }

    /** DD's {@code alpha_sigma_to_t}: atan2(sigma, alpha) * 2 / pi. */
    public static double cosineT(double alpha, double sigma) {
        return Math.atan2(sigma, alpha) * 2 / Math.PI;
    }

    /** Reads a checkpoint, builds the model at the width its tensors imply, loads it (strict) and freezes it. */
    public static SecondaryModel load(Path checkpoint) {
        SecondaryModel m = fromShapes(TorchCheckpoint.shapes(checkpoint), checkpoint);
        TorchCheckpoint.load(m, checkpoint, Set.of());
        m.eval();
        Params.freeze(m);
        return m;
    }

    /** The model shaped for {@code weights} (width from {@code net.0.0.weight}, Fourier size from the embedding). */
    public static SecondaryModel fromWeights(Map<String, Tensor> weights, Path file) {
        Map<String, long[]> shapes = new java.util.LinkedHashMap<>();
        weights.forEach((k, v) -> shapes.put(k, Tensors.shape(v)));
        return fromShapes(shapes, file);
    }

    /** As {@link #fromWeights}, from tensor shapes alone (e.g. a state_dict manifest). */
    public static SecondaryModel fromShapes(Map<String, long[]> shapes, Path file) {
        long[] fs = shapes.get("net.0.0.weight");
        long[] ts = shapes.get("timestep_embed.weight");
        if (fs == null) throw DiscoException.badInput(file + ": net.0.0.weight: missing key (not a secondary model)");
        if (ts == null) throw DiscoException.badInput(file + ": timestep_embed.weight: missing key (not a secondary model)");
        if (ts.length != 2 || ts[1] != 1 || ts[0] <= 0) {
            throw DiscoException.badInput(file + ": timestep_embed.weight: expected shape [features/2, 1], got "
                    + java.util.Arrays.toString(ts));
        }
        int fourier = (int) (ts[0] * 2);
        if (fs.length != 4 || fs[1] != 3 + fourier || fs[0] <= 0) {
            throw DiscoException.badInput(file + ": net.0.0.weight: expected shape [c, " + (3 + fourier) + ", 3, 3], got "
                    + java.util.Arrays.toString(fs));
        }
        return new SecondaryModel((int) fs[0], fourier);
    }

    /** Fills the parameters from {@code seed}: convs uniform ±1/sqrt(fan_in), Fourier weights standard normal (DD). */
    public SecondaryModel randomInit(long seed) {
        Params.randomInit(this, seed, Set.of("timestep_embed.weight"));
        return this;
    }

    /** The demo secondary model: base width 16, 16 Fourier features, random from a fixed seed (no download), frozen. */
    public static SecondaryModel demo() {
        SecondaryModel m = new SecondaryModel(16, 16).randomInit(20221127L);
        m.eval();
        Params.freeze(m);
        return m;
    }
}
