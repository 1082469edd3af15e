package disco.models.layers;

import disco.torch.Tensors;
import disco.models.checkpoint.TorchCheckpoint;
import disco.torch.Torch;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.DeviceOptional;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.Supplier;

/** Parameter allocation and deterministic random initialisation (for demo models; no download). */
public final class Params {
    private Params() {}

    private static final ThreadLocal<Device> DEVICE = new ThreadLocal<>();

    /** A zero float32 tensor (filled later by a checkpoint or {@link #randomInit}), on the CPU unless {@link #on}. */
    public static Tensor empty(long... shape) {
        Torch.init();
        Device d = DEVICE.get();
        TensorOptions o = new TensorOptions(ScalarType.Float);
        if (d != null) o = o.device(new DeviceOptional(d));
        return torch.zeros(shape, o);
    }

    /**
     * Builds a network with its parameters allocated on {@code device}: e.g. {@code new Device("meta")} to inspect
     * the keys and shapes of a large model without allocating its memory.
     */
    public static <T> T on(Device device, Supplier<T> build) {
        Device prev = DEVICE.get();
        DEVICE.set(device);
        try {
            return build.get();
        } finally {
            DEVICE.set(prev);
        }
    }

    /**
     * Fills every parameter of {@code module} from a {@link SplittableRandom} seeded with {@code seed}, in state_dict
     * order, so the same seed gives the same network on every machine: weights of rank >= 2 uniform in
     * ±1/sqrt(fan_in) (PyTorch's default bound), their biases likewise; 1-D weights without a fan-in (norm scales)
     * 1 and their biases 0; parameters named in {@code gaussian} standard normal.
     */
    public static void randomInit(Module module, long seed, java.util.Set<String> gaussian) {
        SplittableRandom rng = new SplittableRandom(seed);
        Map<String, Tensor> sd = TorchCheckpoint.stateDict(module);
        try (NoGradGuard g = new NoGradGuard()) {
            for (Map.Entry<String, Tensor> e : sd.entrySet()) {
                String key = e.getKey();
                Tensor p = e.getValue();
                if (!p.is_floating_point()) continue;
                long[] shape = Tensors.shape(p);
                float[] v = new float[(int) p.numel()];
                if (gaussian.contains(key)) {
                    for (int i = 0; i < v.length; i++) v[i] = (float) gauss(rng);
                } else {
                    long fanIn = -1;
                    if (shape.length >= 2) {
                        fanIn = fanIn(shape);
                    } else if (key.endsWith("bias")) {
                        Tensor w = sd.get(key.substring(0, key.length() - 4) + "weight");
                        if (w != null && w.dim() >= 2) fanIn = fanIn(Tensors.shape(w));
                    }
                    if (fanIn > 0) {
                        double bound = 1.0 / Math.sqrt(fanIn);
                        for (int i = 0; i < v.length; i++) v[i] = (float) ((rng.nextDouble() * 2 - 1) * bound);
                    } else {
                        float fill = key.endsWith("weight") ? 1f : 0f;
                        java.util.Arrays.fill(v, fill);
                    }
                }
                Tensor src = Tensors.fromFloats(v, shape);
                p.copy_(src);
                src.close();
            }
        }
    }

    /**
     * Turns off {@code requires_grad} on every parameter: inference networks then record autograd only for what
     * depends on their inputs (gradients reach {@code x}, none are accumulated into weights).
     */
    public static void freeze(Module module) {
        for (Tensor p : TorchCheckpoint.stateDict(module).values()) {
            if (p.requires_grad()) p.set_requires_grad(false);
        }
    }

    private static long fanIn(long[] shape) {
        long f = 1;
        for (int i = 1; i < shape.length; i++) f *= shape[i];
        return f;
    }

    private static double gauss(SplittableRandom rng) {
        double u1 = rng.nextDouble(), u2 = rng.nextDouble();
        return Math.sqrt(-2 * Math.log1p(-u1)) * Math.cos(2 * Math.PI * u2);
    }
}
