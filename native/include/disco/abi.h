/* disco/abi.h — conventions shared by every disco_kernels entry point.
 *
 * - raw pointers, float32 unless stated, contiguous NCHW, explicit sizes (int64_t);
 * - `device`: DISCO_DEVICE_CPU (0) or DISCO_DEVICE_CUDA (1); with CUDA every tensor pointer is a device pointer;
 * - `stream`: a cudaStream_t (NULL = the default stream), ignored on the CPU;
 * - return DISCO_OK (0) or an error code, with disco_last_error() describing it; never abort or exit.
 */
#ifndef DISCO_ABI_H
#define DISCO_ABI_H

#include <stdint.h>

#if defined(__GNUC__) || defined(__clang__)
#define DISCO_API __attribute__((visibility("default")))
#else
#define DISCO_API
#endif

#define DISCO_OK 0
#define DISCO_EINVAL 1  /* bad argument: null pointer, bad size, bad device */
#define DISCO_ENOCUDA 2 /* CUDA requested but the library was built without CUDA (or no GPU) */
#define DISCO_ECUDA 3   /* a CUDA runtime call failed */

#define DISCO_DEVICE_CPU 0
#define DISCO_DEVICE_CUDA 1

#endif
