/* disco_kernels.h — the C ABI of the disco native kernels (one shared library, `disco_kernels`).
 * Conventions: see disco/abi.h. Each group of kernels has its own header, included below. */
#ifndef DISCO_KERNELS_H
#define DISCO_KERNELS_H

#include "disco/abi.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The message of the last error on this thread ("" when none). Valid until the next call on this thread. */
DISCO_API const char* disco_last_error(void);

/* 1 when the library was built with CUDA and at least one CUDA device is usable, else 0. */
DISCO_API int disco_has_cuda(void);

/* 1 when the library was built with CUDA (whether or not a device is present), else 0. */
DISCO_API int disco_built_with_cuda(void);

#ifdef __cplusplus
}
#endif

#include "disco/guidance.h"
#if __has_include("disco/cutouts.h")
#include "disco/cutouts.h"
#endif

#endif
