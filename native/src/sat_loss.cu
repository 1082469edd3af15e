// sat_loss.cu — CUDA implementation of DD's saturation loss and its VJP.
#include "cuda_common.cuh"
#include "sat_loss.h"

namespace {

__device__ inline float sat_term(float v) {
    return v > 1.f ? v - 1.f : (v < -1.f ? -1.f - v : (isnan(v) ? v : 0.f));
}

__global__ void sat_forward_kernel(const float* __restrict__ x, int64_t count, float* __restrict__ partials) {
    float s = 0.f;
    for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < count; e += (int64_t)gridDim.x * blockDim.x)
        s += sat_term(x[e]);
    s = disco_cuda::block_sum(s);
    if (threadIdx.x == 0) partials[blockIdx.x] = s;
}

__global__ void sat_backward_kernel(const float* __restrict__ x, const float* __restrict__ grad_loss, int64_t count,
                                    float* __restrict__ grad_x, int accumulate, float inv) {
    const float s = grad_loss[0] * inv;
    for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < count; e += (int64_t)gridDim.x * blockDim.x) {
        const float v = x[e];
        const float r = v > 1.f ? s : (v < -1.f ? -s : (isnan(v) ? v : 0.f));
        grad_x[e] = accumulate ? grad_x[e] + r : r;
    }
}

}  // namespace

int sat_loss_cuda(const float* x, int64_t count, float* loss, void* stream) {
    const char* fn = "disco_sat_loss";
    DISCO_TRY(disco_cuda::require_device(fn, "x", x));
    DISCO_TRY(disco_cuda::require_device(fn, "loss", loss));
    cudaStream_t s = disco_cuda::as_stream(stream);
    const unsigned blocks = disco_cuda::blocks_for(count, 1024);
    disco_cuda::Scratch partials(blocks, s);
    DISCO_CUDA_TRY(fn, partials.err);
    sat_forward_kernel<<<blocks, disco_cuda::kThreads, 0, s>>>(x, count, partials.p);
    DISCO_CUDA_LAUNCHED(fn);
    disco_cuda::finish_rows<<<1, disco_cuda::kThreads, 0, s>>>(partials.p, (int)blocks, float(1.0 / double(count)), loss);
    DISCO_CUDA_LAUNCHED(fn);
    return partials.release(fn);
}

int sat_loss_backward_cuda(const float* x, const float* grad_loss, int64_t count, float* grad_x, int accumulate,
                           void* stream) {
    const char* fn = "disco_sat_loss_backward";
    DISCO_TRY(disco_cuda::require_device(fn, "x", x));
    DISCO_TRY(disco_cuda::require_device(fn, "grad_loss", grad_loss));
    DISCO_TRY(disco_cuda::require_device(fn, "grad_x", grad_x));
    sat_backward_kernel<<<disco_cuda::blocks_for(count), disco_cuda::kThreads, 0, disco_cuda::as_stream(stream)>>>(
        x, grad_loss, count, grad_x, accumulate, float(1.0 / double(count)));
    DISCO_CUDA_LAUNCHED(fn);
    return DISCO_OK;
}
