package disco.kernels;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/** Copies between Java float arrays and CPU float32 LibTorch tensors (for reference checks, tests, benchmarks). */
public final class HostTensors {
    private HostTensors() {}

    /** A new contiguous CPU float32 tensor of {@code shape} holding {@code data} (row-major). */
    public static Tensor fromFloats(float[] data, long... shape) {
        Kernels.init();
        long count = 1;
        for (long s : shape) count *= s;
        if (count != data.length) {
            throw new IllegalArgumentException("fromFloats: " + data.length + " values for shape "
                    + Kernels.shapeString(shape));
        }
        Tensor t = torch.empty(shape);
        if (t.scalar_type().value != torch.ScalarType.Float.value) t = t.to(torch.ScalarType.Float);
        t.data_ptr_float().put(data, 0, data.length);
        return t;
    }

    /** The values of a CPU float32 tensor, row-major (a non-contiguous one is copied first). */
    public static float[] toFloats(Tensor t) {
        if (t.is_cuda()) t = t.cpu();
        if (t.scalar_type().value != torch.ScalarType.Float.value) throw new IllegalArgumentException("toFloats: expected float32, got " + t.scalar_type());
        Tensor c = t.is_contiguous() ? t : t.contiguous();
        float[] out = new float[(int) c.numel()];
        c.data_ptr_float().get(out, 0, out.length);
        return out;
    }
}
