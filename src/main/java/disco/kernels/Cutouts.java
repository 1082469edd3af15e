package disco.kernels;

import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

import java.util.List;

/**
 * The cutout/augmentation stage on the native kernels, as an explicit forward/backward pair: image
 * {@code [N,3,H,W]} and a list of {@link Cut}s → cutouts {@code [K,3,S,S]}; the backward is the vector-Jacobian
 * product at the forward's input. Tensors are float32 and contiguous, all on the CPU or all on one CUDA device (the
 * kernel is picked by the device). The noise ({@code [K,3,3,S,S]} standard normals: stage, channel, y, x) is given
 * as a tensor ({@link #forward}, needed only when a cut has a noise scale, else null) or as a stream key the
 * kernels generate it from ({@link #forwardKeyed}). {@code stream} is the {@code cudaStream_t} the kernels run on
 * (0 = the default stream; ignored on the CPU).
 */
public final class Cutouts {
    private Cutouts() {}

    public static Tensor forward(Tensor image, List<Cut> cuts, int size, Tensor noise) {
        return forward(image, cuts, size, noise, 0);
    }

    public static Tensor forward(Tensor image, List<Cut> cuts, int size, Tensor noise, long stream) {
        String op = "cutouts_forward";
        check(op, image, cuts, size, noise, false);
        int dev = noise == null ? Kernels.device(op, new String[] {"image"}, image)
                : Kernels.device(op, new String[] {"image", "noise"}, image, noise);
        Tensor out = image.new_empty(cuts.size(), 3, size, size);
        try (FloatPointer table = table(cuts)) {
            Kernels.check(CutoutsNative.disco_cutouts_forward(Kernels.ptr(image), image.size(0), image.size(2),
                    image.size(3), table, cuts.size(), size, noise == null ? null : Kernels.ptr(noise),
                    Kernels.ptr(out), dev, stream));
        }
        return out;
    }

    /** d(sum gradOut * forward(image)) / d image, at {@code image}: {@code [N,3,H,W]}. */
    public static Tensor backward(Tensor image, List<Cut> cuts, int size, Tensor noise, Tensor gradOut) {
        return backward(image, cuts, size, noise, gradOut, 0);
    }

    public static Tensor backward(Tensor image, List<Cut> cuts, int size, Tensor noise, Tensor gradOut, long stream) {
        String op = "cutouts_backward";
        check(op, image, cuts, size, noise, false);
        Kernels.requireFloat(op, "grad_out", gradOut, cuts.size(), 3, size, size);
        int dev = noise == null ? Kernels.device(op, new String[] {"image", "grad_out"}, image, gradOut)
                : Kernels.device(op, new String[] {"image", "grad_out", "noise"}, image, gradOut, noise);
        Tensor grad = image.new_empty(Kernels.shapeOf(image));
        try (FloatPointer table = table(cuts)) {
            Kernels.check(CutoutsNative.disco_cutouts_backward(Kernels.ptr(image), image.size(0), image.size(2),
                    image.size(3), table, cuts.size(), size, noise == null ? null : Kernels.ptr(noise),
                    Kernels.ptr(gradOut), Kernels.ptr(grad), dev, stream));
        }
        return grad;
    }

    /** The state's slots: the most jitter ops of a cut (the state holds each op's input). */
    public static int stateSlots(List<Cut> cuts) {
        int j = 0;
        for (Cut c : cuts) if (c.jitter() != null) j = Math.max(j, c.jitter().order().size());
        return j;
    }

    /**
     * The forward with the noise generated inside the kernel from {@code noise} (its {@code count} must be
     * {@code K*9*S*S}); {@code state} (may be null) is a {@code [J,K,3,S,S]} float32 tensor on the image's device,
     * J = {@link #stateSlots}, that receives the input of each cut's jitter op j in slot j, for
     * {@link #backwardKeyed}.
     */
    public static Tensor forwardKeyed(Tensor image, List<Cut> cuts, int size, CutSet.KeyedNoise noise, Tensor state,
            long stream) {
        String op = "cutouts_forward";
        check(op, image, cuts, size, null, true);
        checkKeyed(op, cuts, size, noise);
        int dev = state == null ? Kernels.device(op, new String[] {"image"}, image)
                : Kernels.device(op, new String[] {"image", "state"}, image, state);
        if (state != null) Kernels.requireFloat(op, "state", state, stateSlots(cuts), cuts.size(), 3, size, size);
        Tensor out = image.new_empty(cuts.size(), 3, size, size);
        try (FloatPointer table = table(cuts)) {
            Kernels.check(CutoutsNative.disco_cutouts_forward_keyed(Kernels.ptr(image), image.size(0), image.size(2),
                    image.size(3), table, cuts.size(), size, noise.key(), noise.start(), Kernels.ptr(out),
                    state == null ? null : Kernels.ptr(state), dev, stream));
        }
        return out;
    }

    /** The adjoint with keyed noise; {@code state} is what {@link #forwardKeyed} wrote for this image (or null). */
    public static Tensor backwardKeyed(Tensor image, List<Cut> cuts, int size, CutSet.KeyedNoise noise, Tensor state,
            Tensor gradOut, long stream) {
        String op = "cutouts_backward";
        check(op, image, cuts, size, null, true);
        checkKeyed(op, cuts, size, noise);
        Kernels.requireFloat(op, "grad_out", gradOut, cuts.size(), 3, size, size);
        if (state != null) Kernels.requireFloat(op, "state", state, stateSlots(cuts), cuts.size(), 3, size, size);
        int dev = state == null ? Kernels.device(op, new String[] {"image", "grad_out"}, image, gradOut)
                : Kernels.device(op, new String[] {"image", "grad_out", "state"}, image, gradOut, state);
        Tensor grad = image.new_empty(Kernels.shapeOf(image));
        try (FloatPointer table = table(cuts)) {
            Kernels.check(CutoutsNative.disco_cutouts_backward_keyed(Kernels.ptr(image), image.size(0), image.size(2),
                    image.size(3), table, cuts.size(), size, noise.key(), noise.start(),
                    state == null ? null : Kernels.ptr(state), Kernels.ptr(gradOut), Kernels.ptr(grad), dev, stream));
        }
        return grad;
    }

    /**
     * The keyed noise's values as a flat float32 tensor, generated on the device of {@code like} (a float32 tensor,
     * e.g. the image; null: the CPU).
     */
    public static Tensor noise(CutSet.KeyedNoise noise, Tensor like, long stream) {
        if (noise.count() < 1) throw new IllegalArgumentException("cutouts_noise: count must be >= 1");
        if (like != null) Kernels.requireFloat("cutouts_noise", "like", like);
        Tensor out = like == null ? torch.empty(noise.count()) : like.new_empty(noise.count());
        int dev = like == null ? Kernels.CPU : Kernels.device("cutouts_noise", new String[] {"like"}, like);
        Kernels.check(CutoutsNative.disco_cutouts_noise(noise.key(), noise.start(), noise.count(), Kernels.ptr(out), dev,
                stream));
        return out;
    }

    /** The first CPU kernel (single-threaded, given noise; the benchmark's baseline and the twin's oracle). */
    public static Tensor baselineForward(Tensor image, List<Cut> cuts, int size, Tensor noise) {
        String op = "cutouts_baseline_forward";
        check(op, image, cuts, size, noise, false);
        if (image.is_cuda()) throw new IllegalArgumentException(op + ": image: the baseline kernel is CPU only");
        Tensor out = image.new_empty(cuts.size(), 3, size, size);
        try (FloatPointer table = table(cuts)) {
            Kernels.check(CutoutsNative.disco_cutouts_baseline_forward(Kernels.ptr(image), image.size(0), image.size(2),
                    image.size(3), table, cuts.size(), size, noise == null ? null : Kernels.ptr(noise), Kernels.ptr(out)));
        }
        return out;
    }

    public static Tensor baselineBackward(Tensor image, List<Cut> cuts, int size, Tensor noise, Tensor gradOut) {
        String op = "cutouts_baseline_backward";
        check(op, image, cuts, size, noise, false);
        Kernels.requireFloat(op, "grad_out", gradOut, cuts.size(), 3, size, size);
        if (image.is_cuda()) throw new IllegalArgumentException(op + ": image: the baseline kernel is CPU only");
        Tensor grad = image.new_empty(Kernels.shapeOf(image));
        try (FloatPointer table = table(cuts)) {
            Kernels.check(CutoutsNative.disco_cutouts_baseline_backward(Kernels.ptr(image), image.size(0),
                    image.size(2), image.size(3), table, cuts.size(), size, noise == null ? null : Kernels.ptr(noise),
                    Kernels.ptr(gradOut), Kernels.ptr(grad)));
        }
        return grad;
    }

    /** Whether any cut adds noise (then a noise tensor is required). */
    public static boolean needsNoise(List<Cut> cuts) {
        for (Cut c : cuts) if (c.hasNoise()) return true;
        return false;
    }

    private static void checkKeyed(String op, List<Cut> cuts, int size, CutSet.KeyedNoise noise) {
        if (noise == null) throw new IllegalArgumentException(op + ": noise: keyed noise expected, got null");
        long expect = (long) cuts.size() * 9 * size * size;
        if (noise.count() != expect) {
            throw new IllegalArgumentException(op + ": noise: keyed noise of " + noise.count() + " values, expected K*9*S*S = " + expect);
        }
    }

    private static void check(String op, Tensor image, List<Cut> cuts, int size, Tensor noise, boolean keyed) {
        Kernels.requireFloat(op, "image", image, -1, 3, -1, -1);
        if (cuts == null || cuts.isEmpty()) throw new IllegalArgumentException(op + ": cuts: expected at least one cut");
        if (size < 1) throw new IllegalArgumentException(op + ": size: expected a positive cut size, got " + size);
        long n = image.size(0), h = image.size(2), w = image.size(3);
        long lim = 4L * Math.max(h, w) + 4L * size;
        for (int i = 0; i < cuts.size(); i++) {
            Cut c = cuts.get(i);
            if (c.image() >= n) {
                throw new IllegalArgumentException(op + ": cuts[" + i + "]: image index " + c.image() + " not in [0, " + n + ")");
            }
            if (c.y0() >= h || c.x0() >= w || (long) c.y0() + c.height() <= 0 || (long) c.x0() + c.width() <= 0
                    || c.height() > lim || c.width() > lim || c.y0() < -lim || c.x0() < -lim) {
                throw new IllegalArgumentException(op + ": cuts[" + i + "]: box y0=" + c.y0() + " x0=" + c.x0() + " "
                        + c.height() + "x" + c.width() + " lies outside the " + h + "x" + w + " image");
            }
        }
        if (keyed) return;
        if (noise != null) {
            Kernels.requireFloat(op, "noise", noise, cuts.size(), 3, 3, size, size);
        } else if (needsNoise(cuts)) {
            throw new IllegalArgumentException(op + ": noise: a cut has a noise scale but no noise tensor was given");
        }
    }

    private static FloatPointer table(List<Cut> cuts) {
        float[] rows = new float[cuts.size() * CutoutsNative.CUT_FIELDS];
        for (int i = 0; i < cuts.size(); i++) cuts.get(i).writeRow(rows, i * CutoutsNative.CUT_FIELDS);
        return new FloatPointer(rows);
    }
}
