// range_loss.cu — CUDA implementation of DD's range_loss and its VJP.
#include "cuda_common.cuh"
#include "range_loss.h"

namespace {

__device__ inline float excess(float v) { return v > 1.f ? v - 1.f : (v < -1.f ? v + 1.f : 0.f); }

__global__ void range_forward_kernel(const float* __restrict__ x, int64_t per, float* __restrict__ partials) {
    const int64_t b = blockIdx.y;
    float s = 0.f;
    for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < per; e += (int64_t)gridDim.x * blockDim.x) {
        const float d = excess(x[b * per + e]);
        s += d * d;
    }
    s = disco_cuda::block_sum(s);
    if (threadIdx.x == 0) partials[b * gridDim.x + blockIdx.x] = s;
}

__global__ void range_backward_kernel(const float* __restrict__ x, const float* __restrict__ grad_loss,
                                      int64_t total, int64_t per, float* __restrict__ grad_x, int accumulate,
                                      float two_inv) {
    for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < total; e += (int64_t)gridDim.x * blockDim.x) {
        const float r = grad_loss[e / per] * two_inv * excess(x[e]);
        grad_x[e] = accumulate ? grad_x[e] + r : r;
    }
}

}  // namespace

int range_loss_cuda(const float* x, int64_t n, int64_t c, int64_t h, int64_t w, float* loss, void* stream) {
    const char* fn = "disco_range_loss";
    DISCO_TRY(disco_cuda::require_device(fn, "x", x));
    DISCO_TRY(disco_cuda::require_device(fn, "loss", loss));
    if (n > 65535) return disco_fail(DISCO_EINVAL, "%s: n must be <= 65535 on CUDA, got %lld", fn, (long long)n);
    cudaStream_t s = disco_cuda::as_stream(stream);
    const int64_t per = c * h * w;
    dim3 grid(disco_cuda::blocks_for(per, 1024), (unsigned)n);
    disco_cuda::Scratch partials((size_t)grid.x * n, s);
    DISCO_CUDA_TRY(fn, partials.err);
    range_forward_kernel<<<grid, disco_cuda::kThreads, 0, s>>>(x, per, partials.p);
    DISCO_CUDA_LAUNCHED(fn);
    disco_cuda::finish_rows<<<(unsigned)n, disco_cuda::kThreads, 0, s>>>(partials.p, (int)grid.x, float(1.0 / double(per)), loss);
    DISCO_CUDA_LAUNCHED(fn);
    return partials.release(fn);
}

int range_loss_backward_cuda(const float* x, const float* grad_loss, int64_t n, int64_t c, int64_t h, int64_t w,
                             float* grad_x, int accumulate, void* stream) {
    const char* fn = "disco_range_loss_backward";
    DISCO_TRY(disco_cuda::require_device(fn, "x", x));
    DISCO_TRY(disco_cuda::require_device(fn, "grad_loss", grad_loss));
    DISCO_TRY(disco_cuda::require_device(fn, "grad_x", grad_x));
    const int64_t per = c * h * w, total = n * per;
    range_backward_kernel<<<disco_cuda::blocks_for(total), disco_cuda::kThreads, 0, disco_cuda::as_stream(stream)>>>(
        x, grad_loss, total, per, grad_x, accumulate, float(2.0 / double(per)));
    DISCO_CUDA_LAUNCHED(fn);
    return DISCO_OK;
}
