package disco.torch;

/**
 * The BLAS thread count of the process. LibTorch's CPU jars run float32 matrix products on the bundled OpenBLAS, a
 * pthreads build with one thread pool beside LibTorch's OpenMP team and one thread count for the process. A region
 * that runs LibTorch on several threads at once, each with fewer intra-op threads, sets the count to theirs for its
 * duration ({@link #limit}): products from two threads then run in their calling threads instead of queueing for
 * the one pool (measured: bench/README.md, "CLIP calls side by side"). Where LibTorch does not use such an OpenBLAS
 * {@link #available()} is false and nothing is changed.
 */
public final class BlasThreads {
    private static volatile Boolean available;
    private static volatile String problem = "";

    private BlasThreads() {}

    /** Whether the loaded BLAS's thread count can be set; {@link #problem()} says why not. */
    public static boolean available() {
        Boolean a = available;
        if (a != null) return a;
        synchronized (BlasThreads.class) {
            if (available != null) return available;
            Torch.init();
            boolean ok = BlasThreadsNative.disco_blas_threads_init("libopenblas.so.0") == 0;
            if (!ok) problem = BlasThreadsNative.disco_blas_threads_error().getString();
            available = ok;
            return ok;
        }
    }

    /** Why {@link #available()} is false ("" when it is true or not yet asked). */
    public static String problem() {
        return problem;
    }

    /** The process's BLAS thread count, or -1 when not {@link #available()}. */
    public static int get() {
        return available() ? BlasThreadsNative.disco_blas_get_threads() : -1;
    }

    /** A region with the BLAS thread count at {@code n}; closing it restores the count it found. */
    public static Region limit(int n) {
        if (n < 1) throw new IllegalArgumentException("BLAS threads must be >= 1, got " + n);
        if (!available()) return new Region(-1);
        int prev = BlasThreadsNative.disco_blas_get_threads();
        if (prev != n) BlasThreadsNative.disco_blas_set_threads(n);
        return new Region(prev == n ? -1 : prev);
    }

    /** See {@link #limit}. */
    public static final class Region implements AutoCloseable {
        private final int restore;

        private Region(int restore) {
            this.restore = restore;
        }

        @Override
        public void close() {
            if (restore > 0) BlasThreadsNative.disco_blas_set_threads(restore);
        }
    }
}
