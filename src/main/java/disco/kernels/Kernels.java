package disco.kernels;

import disco.torch.Torch;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

import java.util.Arrays;

/**
 * The Java side of the native kernels' conventions: loads {@code disco_kernels}, checks tensors before a call
 * (float32, contiguous, shape, one device — an {@link IllegalArgumentException} naming the argument, never a JVM
 * crash), picks the device flag from the tensors' device, and turns an error code into a
 * {@link KernelException} carrying {@code disco_last_error()}. Every checked wrapper ({@link Losses},
 * {@link GradientStage}, the cutout kernels) goes through here. The guidance kernels ({@link Losses},
 * {@link GradientStage}) run on LibTorch's current CUDA stream ({@link CudaStreams}).
 */
public final class Kernels {
    public static final int CPU = 0;
    public static final int CUDA = 1;

    private static volatile boolean loaded;

    private Kernels() {}

    /** Loads LibTorch (via {@link Torch#init()}) and the native kernel library; idempotent. */
    public static void init() {
        if (loaded) return;
        synchronized (Kernels.class) {
            if (loaded) return;
            Torch.init();
            try {
                if (!nativeLoaded) Loader.load(NativeLib.class);
            } catch (UnsatisfiedLinkError e) {
                throw new IllegalStateException("cannot load the native kernels (disco_kernels): " + e.getMessage()
                        + " — build with `mvn package` so the JavaCPP build packages them", e);
            }
            loaded = true;
        }
    }

    private static volatile boolean nativeLoaded;

    /**
     * Loads only the native kernel library, not LibTorch: what {@code disco doctor} asks before it knows whether
     * LibTorch can load (the library carries CUDA's runtime statically and needs no host CUDA library).
     */
    public static void initNativeOnly() {
        if (nativeLoaded || loaded) return;
        synchronized (Kernels.class) {
            if (nativeLoaded) return;
            try {
                Loader.load(NativeLib.class);
            } catch (UnsatisfiedLinkError e) {
                throw new IllegalStateException("cannot load the native kernels (disco_kernels): " + e.getMessage()
                        + " — build with `mvn package` so the JavaCPP build packages them", e);
            }
            nativeLoaded = true;
        }
    }

    /** A CUDA device as the driver reports it. */
    public record CudaDevice(int index, String name, int major, int minor, long totalBytes) {
        /** The compute capability without the dot (86 for 8.6). */
        public int sm() {
            return major * 10 + minor;
        }
    }

    /** The CUDA devices (empty without a CUDA build, a driver or a device); needs no LibTorch. */
    public static java.util.List<CudaDevice> cudaDevices() {
        initNativeOnly();
        int n = NativeLib.disco_cuda_device_count();
        java.util.List<CudaDevice> out = new java.util.ArrayList<>();
        for (int i = 0; i < n; i++) {
            byte[] name = new byte[256];
            int[] major = new int[1], minor = new int[1];
            long[] mem = new long[1];
            if (NativeLib.disco_cuda_device(i, name, name.length, major, minor, mem) != 0) {
                throw new KernelException(NativeLib.DISCO_ECUDA, NativeLib.disco_last_error().getString());
            }
            int len = 0;
            while (len < name.length && name[len] != 0) len++;
            out.add(new CudaDevice(i, new String(name, 0, len, java.nio.charset.StandardCharsets.UTF_8), major[0], minor[0], mem[0]));
        }
        return out;
    }

    /** Why {@link #cudaDevices()} is empty, as the native side said ("" when it is not). */
    public static String cudaDeviceError() {
        initNativeOnly();
        return NativeLib.disco_cuda_device_count() > 0 ? "" : NativeLib.disco_last_error().getString();
    }

    /** The CUDA driver's and runtime's versions (e.g. 13000), 0 where there is none. */
    public static int[] cudaVersions() {
        initNativeOnly();
        return new int[]{NativeLib.disco_cuda_driver_version(), NativeLib.disco_cuda_runtime_version()};
    }

    /** Whether the library was built with CUDA, without loading LibTorch. */
    public static boolean builtWithCudaNative() {
        initNativeOnly();
        return NativeLib.disco_built_with_cuda() != 0;
    }

    /** The file of {@code libdisco_kernels.so} as JavaCPP loaded it (its unpacked copy of the jar's, or the build's). */
    public static java.nio.file.Path libraryFile() {
        initNativeOnly();
        for (String path : Loader.getLoadedLibraries().values()) {
            if (path != null && path.endsWith("/libdisco_kernels.so")) return java.nio.file.Path.of(path);
        }
        throw new IllegalStateException("JavaCPP reports no loaded libdisco_kernels.so (loaded: "
                + Loader.getLoadedLibraries().values() + ")");
    }

    /** Whether the library was built with CUDA and sees a usable CUDA device. */
    public static boolean hasCuda() {
        init();
        return NativeLib.disco_has_cuda() != 0;
    }

    /** Whether the library was built with CUDA at all. */
    public static boolean builtWithCuda() {
        init();
        return NativeLib.disco_built_with_cuda() != 0;
    }

    /** The thread's last native error message. */
    public static String lastError() {
        init();
        return NativeLib.disco_last_error().getString();
    }

    /** Throws {@link KernelException} (with the native message) when {@code rc} is not DISCO_OK. */
    public static void check(int rc) {
        if (rc != NativeLib.DISCO_OK) throw new KernelException(rc, lastError());
    }

    /**
     * Checks {@code t}: defined, float32, contiguous, and of the given shape ({@code -1} = any size in that
     * dimension; no shape = any). {@code op} and {@code name} make the message: {@code "tv_loss: x: expected ..."}.
     */
    public static void requireFloat(String op, String name, Tensor t, long... shape) {
        if (t == null || t.isNull() || !t.defined()) throw new IllegalArgumentException(op + ": " + name + ": tensor is missing");
        if (t.scalar_type().value != torch.ScalarType.Float.value) {
            throw new IllegalArgumentException(op + ": " + name + ": expected float32, got " + t.scalar_type());
        }
        if (shape.length > 0) {
            long[] got = shapeOf(t);
            boolean ok = got.length == shape.length;
            for (int i = 0; ok && i < shape.length; i++) ok = shape[i] < 0 || shape[i] == got[i];
            if (!ok) {
                throw new IllegalArgumentException(op + ": " + name + ": expected shape " + shapeString(shape)
                        + ", got " + Arrays.toString(got));
            }
        }
        if (!t.is_contiguous()) {
            throw new IllegalArgumentException(op + ": " + name + ": expected a contiguous tensor (call contiguous())");
        }
    }

    /**
     * The device flag for a call on these tensors: all on the CPU → {@link #CPU}; all on one CUDA device →
     * {@link #CUDA} (an {@link IllegalArgumentException} when the library has no CUDA); mixed → an exception
     * naming the first tensor off the first one's device. {@code names[i]} names {@code ts[i]}.
     */
    public static int device(String op, String[] names, Tensor... ts) {
        init();
        boolean cuda = ts[0].is_cuda();
        for (int i = 1; i < ts.length; i++) {
            if (ts[i].is_cuda() != cuda) {
                throw new IllegalArgumentException(op + ": " + names[i] + ": on " + deviceName(ts[i]) + " but "
                        + names[0] + " is on " + deviceName(ts[0]));
            }
        }
        if (!cuda) return CPU;
        if (!builtWithCuda()) {
            throw new IllegalArgumentException(op + ": " + names[0]
                    + ": a CUDA tensor, but disco_kernels was built without CUDA (build with -Pgpu)");
        }
        long d = ts[0].device().index();
        for (int i = 1; i < ts.length; i++) {
            if (ts[i].device().index() != d) {
                throw new IllegalArgumentException(op + ": " + names[i] + ": on cuda:" + ts[i].device().index()
                        + " but " + names[0] + " is on cuda:" + d);
            }
        }
        return CUDA;
    }

    /** The raw data pointer of a checked tensor (device memory for CUDA tensors). */
    public static Pointer ptr(Tensor t) {
        return t.data_ptr();
    }

    public static long[] shapeOf(Tensor t) {
        long[] s = new long[(int) t.dim()];
        for (int i = 0; i < s.length; i++) s[i] = t.size(i);
        return s;
    }

    static String shapeString(long[] shape) {
        StringBuilder b = new StringBuilder("[");
        for (int i = 0; i < shape.length; i++) {
            if (i > 0) b.append(", ");
            b.append(shape[i] < 0 ? "*" : Long.toString(shape[i]));
        }
        return b.append(']').toString();
    }

    private static String deviceName(Tensor t) {
        return t.is_cuda() ? "cuda:" + t.device().index() : "cpu";
    }
}
