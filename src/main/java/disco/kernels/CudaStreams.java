package disco.kernels;

import org.bytedeco.javacpp.Pointer;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;

/**
 * LibTorch's current CUDA stream as a raw {@code cudaStream_t}, for the native kernels: every kernel call on CUDA
 * tensors runs on the stream LibTorch is using, so the kernels stay ordered with LibTorch's own work even when a
 * caller switches to a non-default stream.
 *
 * <p>The stream comes from {@code c10::cuda::getCurrentCUDAStream(device)} as the ByteDeco presets bind it
 * ({@code org.bytedeco.pytorch.global.torch_cuda.getCurrentCUDAStream(byte)}, then {@code CUDAStream.stream()}),
 * reached by reflection: those classes exist in every preset's Java jar, but their native library
 * ({@code jnitorch_cuda}) and the CUDA presets they refer to ship only with the GPU builds. So the CPU build
 * compiles and runs without them, and they are touched only when LibTorch reports CUDA as available: on the CPU,
 * or without CUDA, {@link #current} returns 0 and loads no CUDA library.
 *
 * <p>When a GPU build's bindings lack the function, {@link #current} returns 0 (the default stream, LibTorch's
 * current one unless a caller has switched streams) and {@link #unavailableReason()} says why.
 */
public final class CudaStreams {
    private CudaStreams() {}

    /** The resolved bindings, or why there are none. */
    private record Binding(Method getCurrent, Method stream, String problem) {}

    private static volatile Binding binding;

    /**
     * The current LibTorch CUDA stream of {@code deviceIndex} as a {@code cudaStream_t} (an address; 0 is the
     * default stream). 0 for a negative index (the CPU), without CUDA, or when the bindings cannot be reached.
     */
    public static long current(int deviceIndex) {
        if (deviceIndex < 0) return 0;
        Binding b = resolve();
        if (b.problem() != null) return 0;
        Object s = null;
        try {
            s = b.getCurrent().invoke(null, (byte) deviceIndex);
            Object raw = b.stream().invoke(s);
            return raw == null ? 0 : ((Pointer) raw).address();
        } catch (InvocationTargetException e) {
            throw new KernelException(NativeLib.DISCO_ECUDA, "getCurrentCUDAStream(" + deviceIndex + "): "
                    + e.getCause());
        } catch (IllegalAccessException e) {
            throw new IllegalStateException("getCurrentCUDAStream: " + e, e);
        } finally {
            if (s instanceof Pointer p) p.close();
        }
    }

    /** The stream for a kernel call on {@code t}: LibTorch's current stream of its CUDA device, 0 on the CPU. */
    public static long of(Tensor t) {
        return t.is_cuda() ? current(t.device().index()) : 0;
    }

    /** Why {@link #current} returns 0 for a CUDA device, or null when it returns the current stream. */
    public static String unavailableReason() {
        return resolve().problem();
    }

    private static Binding resolve() {
        Binding b = binding;
        if (b != null) return b;
        synchronized (CudaStreams.class) {
            if (binding == null) binding = lookUp();
            return binding;
        }
    }

    private static Binding lookUp() {
        Kernels.init(); // LibTorch loaded (the CPU build's jars have no CUDA library to load)
        if (!torch.cuda_is_available()) return new Binding(null, null, "LibTorch has no CUDA");
        try {
            ClassLoader cl = CudaStreams.class.getClassLoader();
            Class<?> torchCuda = Class.forName("org.bytedeco.pytorch.global.torch_cuda", true, cl);
            Class<?> cudaStream = Class.forName("org.bytedeco.pytorch.cuda.CUDAStream", true, cl);
            return new Binding(torchCuda.getMethod("getCurrentCUDAStream", byte.class), cudaStream.getMethod("stream"),
                    null);
        } catch (ReflectiveOperationException | LinkageError e) {
            return new Binding(null, null, "the LibTorch bindings have no usable getCurrentCUDAStream: " + e);
        }
    }
}
