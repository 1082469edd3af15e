package disco.kernels;

import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.pytorch.Tensor;

import java.util.List;

/**
 * The cutout/augmentation stage on the native kernels, as an explicit forward/backward pair: image
 * {@code [N,3,H,W]} and a list of {@link Cut}s → cutouts {@code [K,3,S,S]}; the backward is the vector-Jacobian
 * product at the forward's input. Tensors are float32 and contiguous, all on the CPU or all on one CUDA device (the
 * kernel is picked by the device). {@code noise} is {@code [K,3,3,S,S]} standard normals (stage, channel, y, x),
 * needed only when a cut has a noise scale; otherwise it may be null.
 */
public final class Cutouts {
    private Cutouts() {}

    public static Tensor forward(Tensor image, List<Cut> cuts, int size, Tensor noise) {
        String op = "cutouts_forward";
        check(op, image, cuts, size, noise);
        int dev = noise == null ? Kernels.device(op, new String[] {"image"}, image)
                : Kernels.device(op, new String[] {"image", "noise"}, image, noise);
        Tensor out = image.new_empty(cuts.size(), 3, size, size);
        try (FloatPointer table = table(cuts)) {
            Kernels.check(CutoutsNative.disco_cutouts_forward(Kernels.ptr(image), image.size(0), image.size(2),
                    image.size(3), table, cuts.size(), size, noise == null ? null : Kernels.ptr(noise),
                    Kernels.ptr(out), dev, null));
        }
        return out;
    }

    /** d(sum gradOut * forward(image)) / d image, at {@code image}: {@code [N,3,H,W]}. */
    public static Tensor backward(Tensor image, List<Cut> cuts, int size, Tensor noise, Tensor gradOut) {
        String op = "cutouts_backward";
        check(op, image, cuts, size, noise);
        Kernels.requireFloat(op, "grad_out", gradOut, cuts.size(), 3, size, size);
        int dev = noise == null ? Kernels.device(op, new String[] {"image", "grad_out"}, image, gradOut)
                : Kernels.device(op, new String[] {"image", "grad_out", "noise"}, image, gradOut, noise);
        Tensor grad = image.new_empty(Kernels.shapeOf(image));
        try (FloatPointer table = table(cuts)) {
            Kernels.check(CutoutsNative.disco_cutouts_backward(Kernels.ptr(image), image.size(0), image.size(2),
                    image.size(3), table, cuts.size(), size, noise == null ? null : Kernels.ptr(noise),
                    Kernels.ptr(gradOut), Kernels.ptr(grad), dev, null));
        }
        return grad;
    }

    /** Whether any cut adds noise (then a noise tensor is required). */
    public static boolean needsNoise(List<Cut> cuts) {
        for (Cut c : cuts) if (c.hasNoise()) return true;
        return false;
    }

    private static void check(String op, Tensor image, List<Cut> cuts, int size, Tensor noise) {
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
