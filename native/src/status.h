// status.h — the thread-local error of the C ABI.
#pragma once
#include "disco/abi.h"

#include <cstdint>

// Sets this thread's error message (printf-style) and returns `code`.
int disco_fail(int code, const char* fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

// Clears this thread's error message (entry points call it on success paths when useful).
void disco_clear_error();

// Common argument checks; each returns DISCO_OK or sets the error naming `fn` and the argument.
int disco_check_ptr(const char* fn, const char* name, const void* p);
int disco_check_pos(const char* fn, const char* name, int64_t v);
int disco_check_device(const char* fn, int device);

#define DISCO_TRY(expr)               \
    do {                              \
        int disco_rc_ = (expr);       \
        if (disco_rc_ != DISCO_OK) return disco_rc_; \
    } while (0)

// Dispatch of an entry point: device 0 → the CPU twin; device 1 → the CUDA implementation when built with CUDA,
// else DISCO_ENOCUDA (disco_check_device has already rejected other values).
#ifdef DISCO_WITH_CUDA
#define DISCO_DISPATCH(fn, device, stream, cpu_call, cuda_call) \
    return (device) == DISCO_DEVICE_CPU ? (cpu_call) : (cuda_call)
#else
#define DISCO_DISPATCH(fn, device, stream, cpu_call, cuda_call)                                   \
    do {                                                                                          \
        (void)(stream);                                                                           \
        return (device) == DISCO_DEVICE_CPU ? (cpu_call)                                          \
                                            : disco_fail(DISCO_ENOCUDA, "%s: built without CUDA", fn); \
    } while (0)
#endif

// n, c, h, w > 0 and a valid device.
int disco_check_nchw(const char* fn, int64_t n, int64_t c, int64_t h, int64_t w, int device);
