// tv_loss.cu — CUDA implementation of DD's tv_loss and its VJP.
#include "cuda_common.cuh"
#include "tv_loss.h"

namespace {

// grid (blocks, n): block (bx, b) sums a strided share of image b into partials[b * blocks + bx].
__global__ void tv_forward_kernel(const float* __restrict__ x, int64_t c, int64_t h, int64_t w,
                                  float* __restrict__ partials) {
    const int64_t b = blockIdx.y, per_image = c * h * w;
    const float* p = x + b * per_image;
    float sum = 0.f;
    for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < per_image;
         e += (int64_t)gridDim.x * blockDim.x) {
        const int64_t j = e % w, i = (e / w) % h;
        const float v = p[e];
        const float dx = j + 1 < w ? p[e + 1] - v : 0.f;
        const float dy = i + 1 < h ? p[e + w] - v : 0.f;
        sum += dx * dx + dy * dy;
    }
    sum = disco_cuda::block_sum(sum);
    if (threadIdx.x == 0) partials[b * gridDim.x + blockIdx.x] = sum;
}

__global__ void tv_backward_kernel(const float* __restrict__ x, const float* __restrict__ grad_loss, int64_t n,
                                   int64_t c, int64_t h, int64_t w, float* __restrict__ grad_x, int accumulate,
                                   float two_inv) {
    const int64_t per_image = c * h * w, total = n * per_image;
    for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < total;
         e += (int64_t)gridDim.x * blockDim.x) {
        const int64_t b = e / per_image;
        const float r = grad_loss[b] * two_inv * disco_cuda::tv_neighbours(x, e, h, w);
        grad_x[e] = accumulate ? grad_x[e] + r : r;
    }
}

}  // namespace

int tv_loss_cuda(const float* x, int64_t n, int64_t c, int64_t h, int64_t w, float* loss, void* stream) {
    const char* fn = "disco_tv_loss";
    DISCO_TRY(disco_cuda::require_device(fn, "x", x));
    DISCO_TRY(disco_cuda::require_device(fn, "loss", loss));
    if (n > 65535) return disco_fail(DISCO_EINVAL, "%s: n must be <= 65535 on CUDA, got %lld", fn, (long long)n);
    cudaStream_t s = disco_cuda::as_stream(stream);
    const int64_t per_image = c * h * w;
    dim3 grid(disco_cuda::blocks_for(per_image, 1024), (unsigned)n);
    disco_cuda::Scratch partials((size_t)grid.x * n, s);
    DISCO_CUDA_TRY(fn, partials.err);
    tv_forward_kernel<<<grid, disco_cuda::kThreads, 0, s>>>(x, c, h, w, partials.p);
    DISCO_CUDA_LAUNCHED(fn);
    disco_cuda::finish_rows<<<(unsigned)n, disco_cuda::kThreads, 0, s>>>(partials.p, (int)grid.x,
                                                                        float(1.0 / double(per_image)), loss);
    DISCO_CUDA_LAUNCHED(fn);
    return partials.release(fn);
}

int tv_loss_backward_cuda(const float* x, const float* grad_loss, int64_t n, int64_t c, int64_t h, int64_t w,
                          float* grad_x, int accumulate, void* stream) {
    const char* fn = "disco_tv_loss_backward";
    DISCO_TRY(disco_cuda::require_device(fn, "x", x));
    DISCO_TRY(disco_cuda::require_device(fn, "grad_loss", grad_loss));
    DISCO_TRY(disco_cuda::require_device(fn, "grad_x", grad_x));
    const int64_t total = n * c * h * w;
    tv_backward_kernel<<<disco_cuda::blocks_for(total), disco_cuda::kThreads, 0, disco_cuda::as_stream(stream)>>>(
        x, grad_loss, n, c, h, w, grad_x, accumulate, float(2.0 / double(c * h * w)));
    DISCO_CUDA_LAUNCHED(fn);
    return DISCO_OK;
}
