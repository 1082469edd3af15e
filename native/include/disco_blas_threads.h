/* disco_blas_threads.h — the BLAS thread count of the process, for the JVM.
 *
 * LibTorch's CPU jars link the bundled OpenBLAS (pthreads build, libopenblas.so.0), which keeps its own thread
 * pool beside LibTorch's OpenMP team. Its count is one value for the process (openblas_set_num_threads; in this
 * build even openblas_set_num_threads_local sets the global count): what a caller that runs LibTorch on several
 * threads at once, each with fewer intra-op threads, sets around that region, so that the threads' matrix
 * products run in the calling threads instead of queueing for one pool. No header of OpenBLAS ships with the
 * jars, so the functions are resolved with dlsym in the library that LibTorch has already loaded (RTLD_NOLOAD:
 * never loaded from here). Compiled by JavaCPP into libjnidisco_blas_threads (class disco.torch.BlasThreadsNative);
 * needs only libdl. */
#ifndef DISCO_BLAS_THREADS_H
#define DISCO_BLAS_THREADS_H

#include <dlfcn.h>
#include <stdio.h>

namespace disco_blas_threads {
typedef void (*Set)(int);
typedef int (*Get)(void);

struct Fns {
    Set set = nullptr;
    Get get = nullptr;
    char error[512] = "not initialised (disco_blas_threads_init)";
};

inline Fns& fns() {
    static Fns f;
    return f;
}
}  // namespace disco_blas_threads

/* Resolves openblas_set_num_threads and openblas_get_num_threads in the already loaded `library` (a path or
 * soname). 0 when both are there, else -1 with disco_blas_threads_error() saying what is missing. */
inline int disco_blas_threads_init(const char* library) {
    disco_blas_threads::Fns& f = disco_blas_threads::fns();
    void* h = dlopen(library, RTLD_LAZY | RTLD_NOLOAD);
    if (!h) {
        const char* e = dlerror();
        snprintf(f.error, sizeof f.error, "%s is not loaded: %s", library, e ? e : "dlopen failed");
        return -1;
    }
    f.set = (disco_blas_threads::Set)dlsym(h, "openblas_set_num_threads");
    f.get = (disco_blas_threads::Get)dlsym(h, "openblas_get_num_threads");
    if (!f.set || !f.get) {
        snprintf(f.error, sizeof f.error, "%s does not export %s", library,
                 !f.set ? "openblas_set_num_threads" : "openblas_get_num_threads");
        f.set = nullptr;
        f.get = nullptr;
        return -1;
    }
    f.error[0] = '\0';
    return 0;
}

inline const char* disco_blas_threads_error() { return disco_blas_threads::fns().error; }

/* The process's BLAS thread count set to n (>= 1). Requires a successful init. */
inline void disco_blas_set_threads(int n) { disco_blas_threads::fns().set(n); }

/* The process's BLAS thread count. Requires a successful init. */
inline int disco_blas_get_threads(void) { return disco_blas_threads::fns().get(); }

#endif
