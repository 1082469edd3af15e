// status.cpp — thread-local error state and the library-wide queries of disco_kernels.h.
#include "status.h"

#include "disco_kernels.h"

#include <cstdarg>
#include <cstdio>

#ifdef DISCO_WITH_CUDA
#include <cuda_runtime.h>
#endif

namespace {
thread_local char g_error[1024] = "";
}

int disco_fail(int code, const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    std::vsnprintf(g_error, sizeof g_error, fmt, ap);
    va_end(ap);
    return code;
}

void disco_clear_error() { g_error[0] = '\0'; }

int disco_check_ptr(const char* fn, const char* name, const void* p) {
    return p ? DISCO_OK : disco_fail(DISCO_EINVAL, "%s: %s is NULL", fn, name);
}

int disco_check_pos(const char* fn, const char* name, int64_t v) {
    return v > 0 ? DISCO_OK : disco_fail(DISCO_EINVAL, "%s: %s must be > 0, got %lld", fn, name, (long long)v);
}

int disco_check_device(const char* fn, int device) {
    if (device == DISCO_DEVICE_CPU) return DISCO_OK;
    if (device != DISCO_DEVICE_CUDA) return disco_fail(DISCO_EINVAL, "%s: device must be 0 (CPU) or 1 (CUDA), got %d", fn, device);
#ifdef DISCO_WITH_CUDA
    return DISCO_OK;
#else
    return disco_fail(DISCO_ENOCUDA, "%s: built without CUDA", fn);
#endif
}

extern "C" {

DISCO_API const char* disco_last_error(void) { return g_error; }

DISCO_API int disco_built_with_cuda(void) {
#ifdef DISCO_WITH_CUDA
    return 1;
#else
    return 0;
#endif
}

DISCO_API int disco_has_cuda(void) {
#ifdef DISCO_WITH_CUDA
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        cudaGetLastError();  // clear the sticky-free error so later calls start clean
        return 0;
    }
    return n > 0 ? 1 : 0;
#else
    return 0;
#endif
}

}  // extern "C"

int disco_check_nchw(const char* fn, int64_t n, int64_t c, int64_t h, int64_t w, int device) {
    DISCO_TRY(disco_check_pos(fn, "n", n));
    DISCO_TRY(disco_check_pos(fn, "c", c));
    DISCO_TRY(disco_check_pos(fn, "h", h));
    DISCO_TRY(disco_check_pos(fn, "w", w));
    return disco_check_device(fn, device);
}
