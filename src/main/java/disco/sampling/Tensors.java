package disco.sampling;

import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/** Small helpers for moving float32 data between Java arrays and LibTorch tensors (CPU, contiguous). */
public final class Tensors {
    private Tensors() {}

    /** A new float32 CPU tensor holding a copy of {@code data} with the given shape. */
    public static Tensor fromFloats(float[] data, long... shape) {
        long n = 1;
        for (long s : shape) n *= s;
        if (n != data.length) throw new IllegalArgumentException("shape needs " + n + " values, got " + data.length);
        try (FloatPointer p = new FloatPointer(data)) {
            return torch.from_blob(p, shape, new org.bytedeco.pytorch.TensorOptions(torch.ScalarType.Float)).clone();
        }
    }

    /** The values of a float32 tensor (copied to the CPU, made contiguous). */
    public static float[] toFloats(Tensor t) {
        Tensor c = t.detach().to(torch.ScalarType.Float).cpu().contiguous();
        float[] out = new float[Math.toIntExact(c.numel())];
        new FloatPointer(c.data_ptr()).capacity(out.length).get(out);
        return out;
    }

    public static long[] shape(Tensor t) {
        long[] out = new long[(int) t.dim()];
        for (int i = 0; i < out.length; i++) out[i] = t.size(i);
        return out;
    }

    /** Whether every element is finite. */
    public static boolean allFinite(Tensor t) {
        return t.isfinite().all().item_bool();
    }

    static Scalar s(double v) {
        return new Scalar(v);
    }

    /** A float32 scalar, the way DD's {@code _extract_into_tensor} casts a float64 schedule value. */
    static Scalar f(double v) {
        return new Scalar((float) v);
    }
}
