// cuda_common.cuh — helpers shared by the CUDA kernels of disco_kernels.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "status.h"

#define DISCO_CUDA_TRY(fn, expr)                                                                        \
    do {                                                                                                \
        cudaError_t disco_err_ = (expr);                                                                \
        if (disco_err_ != cudaSuccess)                                                                  \
            return disco_fail(DISCO_ECUDA, "%s: %s: %s", fn, #expr, cudaGetErrorString(disco_err_));    \
    } while (0)

namespace disco_cuda {
// The debug switch DISCO_CUDA_SYNC (set and not "0"): every entry point synchronises the device after its launches,
// so an asynchronous fault (an illegal address in a kernel) is reported by the call that caused it, with its name.
inline bool debug_sync() {
    static const bool on = [] {
        const char* v = std::getenv("DISCO_CUDA_SYNC");
        return v && *v && std::strcmp(v, "0") != 0;
    }();
    return on;
}
}  // namespace disco_cuda

// After a launch: the launch error (bad configuration, no device) as DISCO_ECUDA; under DISCO_CUDA_SYNC also the
// kernel's own failure.
#define DISCO_CUDA_LAUNCHED(fn)                                                                         \
    do {                                                                                                \
        DISCO_CUDA_TRY(fn, cudaGetLastError());                                                         \
        if (disco_cuda::debug_sync()) DISCO_CUDA_TRY(fn, cudaDeviceSynchronize());                      \
    } while (0)

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

// Deterministic reductions: a reduction kernel writes one partial per block (partials[row * cols + blockIdx.x], no
// atomics), then finish_rows sums each row's partials in a fixed order, one block per row: out[row] = scale * sum.
// The same inputs give bitwise-equal results run after run (the grid depends only on the sizes).
template <int Unused = 0>
__global__ void finish_rows(const float* __restrict__ partials, int cols, float scale, float* __restrict__ out) {
    const float* p = partials + (int64_t)blockIdx.x * cols;
    float s = 0.f;
    for (int i = threadIdx.x; i < cols; i += blockDim.x) s += p[i];
    s = block_sum(s);
    if (threadIdx.x == 0) out[blockIdx.x] = s * scale;
}

// A stream-ordered scratch buffer of n floats, freed in stream order when it goes out of scope. An entry point
// ends with `return scratch.release(fn);`: the free checked under the entry point's name (the destructor frees
// silently on the error paths, which already report an error).
struct Scratch {
    float* p = nullptr;
    cudaStream_t st;
    cudaError_t err;
    Scratch(size_t n, cudaStream_t s) : st(s) { err = cudaMallocAsync(reinterpret_cast<void**>(&p), sizeof(float) * (n ? n : 1), s); }
    ~Scratch() {
        if (p) cudaFreeAsync(p, st);
    }
    int release(const char* fn) {
        float* q = p;
        p = nullptr;
        if (q) DISCO_CUDA_TRY(fn, cudaFreeAsync(q, st));
        return DISCO_OK;
    }
    Scratch(const Scratch&) = delete;
    Scratch& operator=(const Scratch&) = delete;
};

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
