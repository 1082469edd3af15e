// rms_clamp.cu — CUDA implementation of DD's RMS gradient clamp and its VJP. The reductions (per-block partials
// summed in a fixed order: bitwise reproducible) land in a small stream-ordered scratch buffer that the
// elementwise kernels read, so nothing synchronizes with the host. The forward computes the rms once and writes
// it out; the backward takes it back instead of reducing g^2 again.
#include "cuda_common.cuh"
#include "rms_clamp.h"

namespace {

// partials[blockIdx.x] = this block's sum of a^2 (when sq); when b != nullptr, partials[gridDim.x + blockIdx.x] =
// sum a*b (finish_rows then sums them in a fixed order into acc[0], acc[1]; no atomics)
__global__ void reduce_kernel(const float* __restrict__ a, const float* __restrict__ b, int64_t count, bool sq,
                              float* __restrict__ partials) {
    float s = 0.f, d = 0.f;
    for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < count; e += (int64_t)gridDim.x * blockDim.x) {
        const float v = a[e];
        if (sq) s += v * v;
        if (b) d += v * b[e];
    }
    if (sq) {
        s = disco_cuda::block_sum(s);
        if (threadIdx.x == 0) partials[blockIdx.x] = s;
    }
    if (b) {
        d = disco_cuda::block_sum(d);
        if (threadIdx.x == 0) partials[gridDim.x + blockIdx.x] = d;
    }
}

// acc[0] = sum g^2 from the forward's rms (count r^2), when the caller hands the rms in
__global__ void ss_from_rms_kernel(const float* __restrict__ rms, int64_t count, float* __restrict__ acc) {
    if (threadIdx.x == 0 && blockIdx.x == 0) acc[0] = float(count) * rms[0] * rms[0];
}

__global__ void clamp_kernel(const float* g, int64_t count, float clamp_max, float* out, const float* acc,
                             float* rms) {
    const float r = sqrtf(acc[0] / float(count));
    const float factor = r > 0.f ? fminf(r, clamp_max) / r : 1.f;
    if (rms && blockIdx.x == 0 && threadIdx.x == 0) rms[0] = r;
    for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < count; e += (int64_t)gridDim.x * blockDim.x)
        out[e] = g[e] * factor;
}

__global__ void clamp_backward_kernel(const float* __restrict__ g, const float* __restrict__ grad_out, int64_t count,
                                      float clamp_max, const float* __restrict__ rms, float* __restrict__ grad_g,
                                      int accumulate, const float* __restrict__ acc) {
    const float ss = acc[0], r = rms ? rms[0] : sqrtf(ss / float(count));
    const bool clamped = r > clamp_max;
    const float a = clamped ? clamp_max / r : 1.f, b = clamped ? a * acc[1] / ss : 0.f;
    for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < count; e += (int64_t)gridDim.x * blockDim.x) {
        const float v = a * grad_out[e] - b * g[e];
        grad_g[e] = accumulate ? grad_g[e] + v : v;
    }
}

}  // namespace

// The forward reduces g^2 once (partials, then a fixed-order finish) and writes the rms it used; nothing
// synchronizes with the host.
int rms_clamp_cuda(const float* g, int64_t count, float clamp_max, float* out, float* rms, void* stream) {
    const char* fn = "disco_rms_clamp";
    DISCO_TRY(disco_cuda::require_device(fn, "g", g));
    DISCO_TRY(disco_cuda::require_device(fn, "out", out));
    DISCO_TRY(disco_cuda::require_device(fn, "rms", rms));
    cudaStream_t s = disco_cuda::as_stream(stream);
    const unsigned blocks = disco_cuda::blocks_for(count, 1024);
    disco_cuda::Scratch acc(2 + blocks, s);
    DISCO_CUDA_TRY(fn, acc.err);
    float* partials = acc.p + 2;
    reduce_kernel<<<blocks, disco_cuda::kThreads, 0, s>>>(g, nullptr, count, true, partials);
    DISCO_CUDA_LAUNCHED(fn);
    disco_cuda::finish_rows<<<1, disco_cuda::kThreads, 0, s>>>(partials, (int)blocks, 1.f, acc.p);
    DISCO_CUDA_LAUNCHED(fn);
    clamp_kernel<<<disco_cuda::blocks_for(count), disco_cuda::kThreads, 0, s>>>(g, count, clamp_max, out, acc.p, rms);
    DISCO_CUDA_LAUNCHED(fn);
    return acc.release(fn);
}

// The backward reduces g . grad_out, and g^2 only when the forward's rms is not handed in.
int rms_clamp_backward_cuda(const float* g, const float* grad_out, int64_t count, float clamp_max, const float* rms,
                            float* grad_g, int accumulate, void* stream) {
    const char* fn = "disco_rms_clamp_backward";
    DISCO_TRY(disco_cuda::require_device(fn, "g", g));
    DISCO_TRY(disco_cuda::require_device(fn, "grad_out", grad_out));
    DISCO_TRY(disco_cuda::require_device(fn, "rms", rms));
    DISCO_TRY(disco_cuda::require_device(fn, "grad_g", grad_g));
    cudaStream_t s = disco_cuda::as_stream(stream);
    const unsigned blocks = disco_cuda::blocks_for(count, 1024);
    disco_cuda::Scratch acc(2 + 2 * blocks, s);
    DISCO_CUDA_TRY(fn, acc.err);
    float* partials = acc.p + 2;
    reduce_kernel<<<blocks, disco_cuda::kThreads, 0, s>>>(g, grad_out, count, rms == nullptr, partials);
    DISCO_CUDA_LAUNCHED(fn);
    if (rms) {
        // only the dot: its row of partials (the second) into acc[1]
        disco_cuda::finish_rows<<<1, disco_cuda::kThreads, 0, s>>>(partials + blocks, (int)blocks, 1.f, acc.p + 1);
        DISCO_CUDA_LAUNCHED(fn);
        ss_from_rms_kernel<<<1, 32, 0, s>>>(rms, count, acc.p);
    } else {
        disco_cuda::finish_rows<<<2, disco_cuda::kThreads, 0, s>>>(partials, (int)blocks, 1.f, acc.p);
    }
    DISCO_CUDA_LAUNCHED(fn);
    clamp_backward_kernel<<<disco_cuda::blocks_for(count), disco_cuda::kThreads, 0, s>>>(g, grad_out, count, clamp_max,
                                                                                       rms, grad_g, accumulate, acc.p);
    DISCO_CUDA_LAUNCHED(fn);
    return acc.release(fn);
}
