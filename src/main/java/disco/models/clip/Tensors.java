package disco.models.clip;

import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.DeviceOptional;
import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;

/** Small LibTorch helpers for the CLIP package: Java arrays in and out, options, optional tensors. */
final class Tensors {
    private Tensors() {}

    static TensorOptions options(torch.ScalarType dtype, Device device) {
        return new TensorOptions().dtype(new ScalarTypeOptional(dtype)).device(new DeviceOptional(device));
    }

    static TensorOptional opt(Tensor t) {
        return t == null ? new TensorOptional() : new TensorOptional(t);
    }

    /** A new CPU float32 tensor holding a copy of {@code data}. */
    static Tensor fromFloats(float[] data, long... shape) {
        Tensor t = torch.empty(shape, options(torch.ScalarType.Float, new Device(torch.DeviceType.CPU)), null);
        new FloatPointer(t.data_ptr()).capacity(data.length).put(data);
        return t;
    }

    /** A new CPU int64 tensor holding a copy of {@code data}. */
    static Tensor fromLongs(long[] data, long... shape) {
        Tensor t = torch.empty(shape, options(torch.ScalarType.Long, new Device(torch.DeviceType.CPU)), null);
        new LongPointer(t.data_ptr()).capacity(data.length).put(data);
        return t;
    }

    /** The values of any float tensor as a Java array (moved to the CPU, float32, contiguous). */
    static float[] toFloats(Tensor t) {
        Tensor c = t.detach().to(new Device(torch.DeviceType.CPU), torch.ScalarType.Float).contiguous();
        float[] out = new float[(int) c.numel()];
        Pointer p = c.data_ptr();
        new FloatPointer(p).capacity(out.length).get(out);
        return out;
    }

    /** The values of any float tensor as doubles (moved to the CPU, float64, contiguous). */
    static double[] toDoubles(Tensor t) {
        Tensor c = t.detach().to(new Device(torch.DeviceType.CPU), torch.ScalarType.Double).contiguous();
        double[] out = new double[(int) c.numel()];
        new org.bytedeco.javacpp.DoublePointer(c.data_ptr()).capacity(out.length).get(out);
        return out;
    }

    static long[] shape(Tensor t) {
        long[] s = new long[(int) t.dim()];
        for (int i = 0; i < s.length; i++) s[i] = t.size(i);
        return s;
    }
}
