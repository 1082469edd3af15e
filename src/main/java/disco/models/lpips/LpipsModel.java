package disco.models.lpips;

import disco.models.checkpoint.TorchCheckpoint;
import disco.models.layers.Conv;
import disco.models.layers.Modules;
import disco.models.layers.Params;
import disco.torch.Tensors;
import disco.torch.Torch;
import disco.util.DiscoException;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.global.torch;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * LPIPS as DD builds it, {@code lpips.LPIPS(net='vgg')} (version 0.1, linear heads, eval mode): the ScalingLayer
 * {@code (x - shift) / scale}, torchvision's vgg16 {@code features} cut into five slices ({@code [0:4]},
 * {@code [4:9]}, {@code [9:16]}, {@code [16:23]}, {@code [23:30]}: relu1_2 … relu5_3, slices 2 to 5 opening with the
 * 2×2 max-pool), per slice {@code f / (sqrt(Σ_c f²) + 1e-10)} on both inputs, the squared difference, a 1×1
 * convolution to one channel without bias (the head; its Dropout is off in eval mode), the mean over H and W, and the
 * sum of the five terms: {@code [N, 1, 1, 1]}.
 *
 * <p>Two files, as LPIPS loads them: the trunk from a torchvision {@code VGG} state_dict
 * ({@code features.{0,2,5,...,28}.{weight,bias}}; its {@code classifier.*} is never read) and the heads from LPIPS's
 * {@code vgg.pth} ({@code lin0.model.1.weight} … {@code lin4.model.1.weight}). The conv widths are read from the
 * weights. Inputs are in [-1, 1] ({@code normalize=False}); the second input broadcasts over the first's batch.
 */
public final class LpipsModel extends Module {
    /** The vgg16 {@code features} indices of the 13 convolutions, per slice. */
    static final int[][] SLICES = {{0, 2}, {5, 7}, {10, 12, 14}, {17, 19, 21}, {24, 26, 28}};
    static final float[] SHIFT = {-.030f, -.088f, -.188f};
    static final float[] SCALE = {.458f, .448f, .450f};
    private static final double EPS = 1e-10;

    private final Module trunk = new Module();
    private final Module heads = new Module();
    private final Conv[][] convs = new Conv[SLICES.length][];
    private final Tensor[] lins = new Tensor[SLICES.length];
    private final Tensor shift;
    private final Tensor scale;
    private final long[] widths;

    /** @param widths the 13 conv output widths in features order (torchvision's vgg16: 64, 64, 128, ..., 512) */
    public LpipsModel(long[] widths) {
        Torch.init();
        if (widths.length != 13) throw new IllegalArgumentException("vgg16 has 13 convolutions, got " + widths.length);
        this.widths = widths.clone();
        Modules.register(this, "net", trunk);
        Modules.register(this, "lins", heads);
        Module features = Modules.register(trunk, "features", new Module());
        long in = 3;
        int c = 0;
        for (int s = 0; s < SLICES.length; s++) {
            convs[s] = new Conv[SLICES[s].length];
            for (int k = 0; k < SLICES[s].length; k++) {
                convs[s][k] = Modules.register(features, Integer.toString(SLICES[s][k]), Conv.conv2d(in, widths[c], 3, 1));
                in = widths[c++];
            }
            Module lin = Modules.register(heads, "lin" + s, new Module());
            Module model = Modules.register(lin, "model", new Module());
            Module conv = Modules.register(model, "1", new Module());
            lins[s] = Params.empty(1, in, 1, 1);
            conv.register_parameter("weight", lins[s]);
        }
        shift = Tensors.fromFloats(SHIFT, 1, 3, 1, 1);
        scale = Tensors.fromFloats(SCALE, 1, 3, 1, 1);
    }

    /** The channel count of slice {@code k}'s output (its head's input). */
    public long sliceWidth(int k) {
        int last = 0;
        for (int s = 0; s <= k; s++) last += SLICES[s].length;
        return widths[last - 1];
    }

    /** The five slice outputs of the trunk on {@code x} in [-1, 1] (the ScalingLayer first). */
    public List<Tensor> features(Tensor x) {
        Tensor h = x.sub(shift.to(x.device(), x.scalar_type())).div(scale.to(x.device(), x.scalar_type()));
        List<Tensor> out = new ArrayList<>(SLICES.length);
        for (int s = 0; s < SLICES.length; s++) {
            if (s > 0) h = torch.max_pool2d(h, new long[] {2, 2}, new long[] {2, 2}, new long[] {0, 0},
                    new long[] {1, 1}, false);
            for (Conv c : convs[s]) h = torch.relu(c.forward(h));
            out.add(h);
        }
        return out;
    }

    /** LPIPS's {@code normalize_tensor}: {@code f / (sqrt(Σ_c f²) + 1e-10)}. */
    static Tensor unitChannels(Tensor f) {
        Tensor norm = f.square().sum(new long[] {1}, true, null).sqrt();
        return f.div(norm.add(new Scalar(EPS)));
    }

    /** The normalised features of a reference image (LPIPS's second input), computed without grad. */
    public List<Tensor> target(Tensor ref) {
        List<Tensor> out = new ArrayList<>(SLICES.length);
        try (NoGradGuard g = new NoGradGuard()) {
            for (Tensor f : features(ref)) out.add(unitChannels(f));
        }
        return out;
    }

    /** The five per-layer terms {@code [N, 1, 1, 1]} of LPIPS(x, ref) with {@code ref}'s features from {@link #target}. */
    public List<Tensor> layers(Tensor x, List<Tensor> target) {
        List<Tensor> fx = features(x);
        List<Tensor> out = new ArrayList<>(SLICES.length);
        for (int s = 0; s < SLICES.length; s++) {
            Tensor d = unitChannels(fx.get(s)).sub(target.get(s)).square();
            Tensor lin = lins[s].to(d.device(), d.scalar_type());
            Tensor h = torch.conv2d(d, lin, new TensorOptional(), new long[] {1, 1}, new long[] {0, 0}, new long[] {1, 1}, 1);
            out.add(h.mean(new long[] {2, 3}, true, null));
        }
        return out;
    }

    /** {@code lpips(x, ref)}: the sum of the five terms, {@code [N, 1, 1, 1]}. */
    public Tensor forward(Tensor x, List<Tensor> target) {
        Tensor val = null;
        for (Tensor t : layers(x, target)) val = val == null ? t : val.add(t);
        return val;
    }

    /** {@code lpips(x, ref)}. */
    public Tensor forward(Tensor x, Tensor ref) {
        return forward(x, target(ref));
    }

    /**
     * Builds the model from the two files (widths read from the trunk's shapes, each head checked against its
     * slice), loads them (strict; the trunk's {@code classifier.*} is skipped unread) and freezes it.
     */
    public static LpipsModel load(Path vgg16, Path lin) {
        Map<String, long[]> shapes = TorchCheckpoint.shapes(vgg16);
        LpipsModel m = new LpipsModel(widths(shapes, vgg16));
        Set<String> classifier = new LinkedHashSet<>();
        for (String k : shapes.keySet()) if (k.startsWith("classifier.")) classifier.add(k);
        TorchCheckpoint.load(m.trunk, vgg16, classifier);
        TorchCheckpoint.load(m.heads, lin, Set.of());
        m.eval();
        Params.freeze(m);
        return m;
    }

    /** The 13 conv widths of a torchvision vgg16 state_dict, each conv's input checked against the previous output. */
    static long[] widths(Map<String, long[]> shapes, Path file) {
        long[] w = new long[13];
        long in = 3;
        int c = 0;
        for (int[] slice : SLICES) {
            for (int idx : slice) {
                String key = "features." + idx + ".weight";
                long[] s = shapes.get(key);
                if (s == null) throw DiscoException.badInput(file + ": " + key + ": missing key (not a torchvision vgg16 state_dict)");
                if (s.length != 4 || s[1] != in || s[2] != 3 || s[3] != 3 || s[0] <= 0) {
                    throw DiscoException.badInput(file + ": " + key + ": expected shape [out, " + in + ", 3, 3], got "
                            + Arrays.toString(s));
                }
                w[c++] = s[0];
                in = s[0];
            }
        }
        return w;
    }

    /** A model of the given widths filled from {@code seed} (tests: no download), frozen. */
    public static LpipsModel random(long[] widths, long seed) {
        LpipsModel m = new LpipsModel(widths);
        Params.randomInit(m, seed, Set.of());
        try (NoGradGuard g = new NoGradGuard()) {
            for (Tensor l : m.lins) l.abs_(); // LPIPS's heads are non-negative
        }
        m.eval();
        Params.freeze(m);
        return m;
    }
}
