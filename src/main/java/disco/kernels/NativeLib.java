package disco.kernels;

import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.annotation.Cast;
import org.bytedeco.javacpp.annotation.Platform;

/**
 * JavaCPP binding of the library-wide part of {@code disco_kernels.h}. Every binding class of {@code disco.kernels}
 * carries the same {@code @Platform} (include {@code disco_kernels.h}, link {@code disco_kernels}, JNI library
 * {@code jnidisco_kernels}), so the JavaCPP build compiles them into one JNI library, packaged with
 * {@code libdisco_kernels.so} under {@code disco/kernels/<platform>/} in the jar. Use {@link Kernels} rather than
 * these raw entry points.
 */
@Platform(include = "disco_kernels.h", link = "disco_kernels", library = "jnidisco_kernels")
public final class NativeLib {
    static {
        Loader.load();
    }

    private NativeLib() {}

    public static final int DISCO_OK = 0;
    public static final int DISCO_EINVAL = 1;
    public static final int DISCO_ENOCUDA = 2;
    public static final int DISCO_ECUDA = 3;

    public static native @Cast("const char*") BytePointer disco_last_error();

    public static native int disco_has_cuda();

    public static native int disco_built_with_cuda();

    public static native int disco_cuda_device_count();

    public static native int disco_cuda_device(int index, @Cast("char*") byte[] name, int nameLen, int[] major,
                                               int[] minor, @Cast("int64_t*") long[] totalBytes);

    public static native int disco_cuda_driver_version();

    public static native int disco_cuda_runtime_version();
}
