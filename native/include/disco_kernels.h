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

/* The CUDA devices the driver reports (the library's own static CUDA runtime: no host CUDA libraries needed):
 * their count (0 without a CUDA build, a driver or a device; the driver's reason then in disco_last_error()). */
DISCO_API int disco_cuda_device_count(void);

/* Device `index`: its name (NUL-terminated, at most name_len bytes), compute capability and total memory.
 * Returns DISCO_OK, DISCO_ENOCUDA without a CUDA build, DISCO_ECUDA / DISCO_EINVAL otherwise. */
DISCO_API int disco_cuda_device(int index, char* name, int name_len, int* major, int* minor, int64_t* total_bytes);

/* The CUDA driver's version (e.g. 13000 for 13.0; 0 without a driver or a CUDA build) and the CUDA runtime's
 * version the library was built with (0 without CUDA). */
DISCO_API int disco_cuda_driver_version(void);
DISCO_API int disco_cuda_runtime_version(void);

#ifdef __cplusplus
}
#endif

#include "disco/guidance.h"
#if __has_include("disco/cutouts.h")
#include "disco/cutouts.h"
#endif

#endif
