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

DISCO_API int disco_cuda_device_count(void) {
#ifdef DISCO_WITH_CUDA
    int n = 0;
    const cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
        cudaGetLastError();
        disco_fail(DISCO_ECUDA, "cudaGetDeviceCount: %s", cudaGetErrorString(e));
        return 0;
    }
    return n;
#else
    disco_fail(DISCO_ENOCUDA, "disco_cuda_device_count: built without CUDA");
    return 0;
#endif
}

DISCO_API int disco_cuda_device(int index, char* name, int name_len, int* major, int* minor, int64_t* total_bytes) {
    DISCO_TRY(disco_check_ptr("disco_cuda_device", "name", name));
    DISCO_TRY(disco_check_pos("disco_cuda_device", "name_len", name_len));
    DISCO_TRY(disco_check_ptr("disco_cuda_device", "major", major));
    DISCO_TRY(disco_check_ptr("disco_cuda_device", "minor", minor));
    DISCO_TRY(disco_check_ptr("disco_cuda_device", "total_bytes", total_bytes));
#ifdef DISCO_WITH_CUDA
    cudaDeviceProp p;
    const cudaError_t e = cudaGetDeviceProperties(&p, index);
    if (e != cudaSuccess) {
        cudaGetLastError();
        return disco_fail(index < 0 ? DISCO_EINVAL : DISCO_ECUDA, "disco_cuda_device(%d): cudaGetDeviceProperties: %s",
                          index, cudaGetErrorString(e));
    }
    std::snprintf(name, (size_t)name_len, "%s", p.name);
    *major = p.major;
    *minor = p.minor;
    *total_bytes = (int64_t)p.totalGlobalMem;
    return DISCO_OK;
#else
    (void)index;
    return disco_fail(DISCO_ENOCUDA, "disco_cuda_device: built without CUDA");
#endif
}

DISCO_API int disco_cuda_driver_version(void) {
#ifdef DISCO_WITH_CUDA
    int v = 0;
    if (cudaDriverGetVersion(&v) != cudaSuccess) {
        cudaGetLastError();
        return 0;
    }
    return v;
#else
    return 0;
#endif
}

DISCO_API int disco_cuda_runtime_version(void) {
#ifdef DISCO_WITH_CUDA
    return CUDART_VERSION;
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
