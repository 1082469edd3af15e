// cuda_common.cuh — helpers shared by the CUDA kernels of disco_kernels.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "status.h"

#define DISCO_CUDA_TRY(fn, expr)                                                                        \
    do {                                                                                                \
        cudaError_t disco_err_ = (expr);                                                                \
        if (disco_err_ != cudaSuccess)                                                                  \
            return disco_fail(DISCO_ECUDA, "%s: %s: %s", fn, #expr, cudaGetErrorString(disco_err_));    \
    } while (0)

// After a launch: the launch error (bad configuration, no device) as DISCO_ECUDA.
#define DISCO_CUDA_LAUNCHED(fn) DISCO_CUDA_TRY(fn, cudaGetLastError())

namespace disco_cuda {

constexpr int kThreads = 256;

inline unsigned blocks_for(int64_t count, int64_t cap = 4096) {
    int64_t b = (count + kThreads - 1) / kThreads;
    if (b < 1) b = 1;
    if (b > cap) b = cap;
    return (unsigned)b;
}

inline cudaStream_t as_stream(void* s) { return reinterpret_cast<cudaStream_t>(s); }

// A host pointer handed to a kernel would fault and poison the CUDA context: refuse it up front (NULL passes;
// the entry points have already rejected NULLs that matter).
inline int require_device(const char* fn, const char* name, const void* p) {
    if (!p) return DISCO_OK;
    cudaPointerAttributes a;
    const cudaError_t e = cudaPointerGetAttributes(&a, p);
    if (e != cudaSuccess) {
        cudaGetLastError();
        return disco_fail(DISCO_EINVAL, "%s: %s: not a CUDA device pointer (%s)", fn, name, cudaGetErrorString(e));
    }
    if (a.type != cudaMemoryTypeDevice && a.type != cudaMemoryTypeManaged)
        return disco_fail(DISCO_EINVAL, "%s: %s: not CUDA device memory", fn, name);
    return DISCO_OK;
}

// Sum over the block (blockDim.x == kThreads); the result is valid in thread 0.
__device__ inline float block_sum(float v) {
    __shared__ float warp_sums[kThreads / 32];
    for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    if (lane == 0) warp_sums[warp] = v;
    __syncthreads();
    v = threadIdx.x < kThreads / 32 ? warp_sums[threadIdx.x] : 0.f;
    if (warp == 0)
        for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
    __syncthreads();
    return v;
}

// The neighbour sum of DD's tv loss gradient at flat index e of an [.., h, w] tensor (replicate padding: a missing
// right / lower neighbour contributes nothing): d tv / d x[e] = 2 / (c h w) * tv_neighbours(x, e, h, w).
__device__ __forceinline__ float tv_neighbours(const float* x, int64_t e, int64_t h, int64_t w) {
    const int64_t j = e % w, i = (e / w) % h;
    const float v = x[e];
    float acc = 0.f;
    if (j + 1 < w) acc -= x[e + 1] - v;
    if (i + 1 < h) acc -= x[e + w] - v;
    if (j > 0) acc += v - x[e - 1];
    if (i > 0) acc += v - x[e - w];
    return acc;
}

}  // namespace disco_cuda
