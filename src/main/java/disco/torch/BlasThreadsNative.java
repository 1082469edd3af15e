package disco.torch;

import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.annotation.Cast;
import org.bytedeco.javacpp.annotation.Platform;

/**
 * JavaCPP binding of {@code native/include/disco_blas_threads.h}: OpenBLAS's thread count, resolved in
 * the {@code libopenblas.so.0} that LibTorch loaded. Use {@link BlasThreads}.
 */
@Platform(include = "disco_blas_threads.h", link = "dl", library = "jnidisco_blas_threads")
final class BlasThreadsNative {
    static {
        Loader.load();
    }

    private BlasThreadsNative() {}

    static native int disco_blas_threads_init(String library);

    static native @Cast("const char*") BytePointer disco_blas_threads_error();

    static native void disco_blas_set_threads(int n);

    static native int disco_blas_get_threads();
}
