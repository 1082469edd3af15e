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
