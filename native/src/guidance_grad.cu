// guidance_grad.cu — CUDA implementation of the gradient stage (see guidance_grad.cpp): the three loss values by
// the loss kernels, then one fused elementwise pass (masked model sum, tv and sat gradients, NaN flags); the flags
// come back to the host (one stream synchronization, as DD's `torch.isnan(x_in_grad).any()`).
#include "cuda_common.cuh"
#include "guidance_grad.h"
#include "range_loss.h"
#include "sat_loss.h"
#include "tv_loss.h"

namespace {

struct Active {
    int32_t count;
    int32_t index[kGuidanceMaxModels];
};

__global__ void fused_kernel(const float* __restrict__ x, const float* __restrict__ model_grads, Active active,
                             int64_t n, int64_t c, int64_t h, int64_t w, float clip_scale, float tv_coef,
                             float sat_coef, float* __restrict__ out, int32_t* __restrict__ flags, int64_t m) {
    const int64_t total = n * c * h * w;
    for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < total; e += (int64_t)gridDim.x * blockDim.x) {
        float g = 0.f;
        for (int a = 0; a < active.count; a++) {
            const float v = model_grads[active.index[a] * total + e];
            if (isnan(v)) flags[active.index[a]] = 1;
            g += clip_scale * v;
        }
        const float v = x[e];
        g += tv_coef * disco_cuda::tv_neighbours(x, e, h, w);
        g += v > 1.f ? sat_coef : (v < -1.f ? -sat_coef : (isnan(v) ? v : 0.f));
        if (isnan(g)) flags[m] = 1;
        out[e] = g;
    }
}

}  // namespace

int guidance_grad_cuda(const float* x_in, const float* pred, const float* model_grads, const int32_t* mask, int64_t m,
                       int64_t n, int64_t c, int64_t h, int64_t w, float clip_scale, float tv_scale, float sat_scale,
                       float* x_in_grad, float* losses, int32_t* nan_flags, void* stream) {
    const char* fn = "disco_guidance_grad";
    DISCO_TRY(disco_cuda::require_device(fn, "x_in", x_in));
    DISCO_TRY(disco_cuda::require_device(fn, "pred", pred));
    DISCO_TRY(disco_cuda::require_device(fn, "model_grads", model_grads));
    DISCO_TRY(disco_cuda::require_device(fn, "x_in_grad", x_in_grad));
    DISCO_TRY(disco_cuda::require_device(fn, "losses", losses));
    cudaStream_t s = disco_cuda::as_stream(stream);
    const int64_t total = n * c * h * w;
    DISCO_TRY(tv_loss_cuda(x_in, n, c, h, w, losses, stream));
    DISCO_TRY(range_loss_cuda(pred, n, c, h, w, losses + n, stream));
    DISCO_TRY(sat_loss_cuda(x_in, total, losses + 2 * n, stream));

    Active active{};
    for (int64_t k = 0; k < m; k++)
        if (mask[k]) active.index[active.count++] = int32_t(k);
    int32_t* flags = nullptr;
    DISCO_CUDA_TRY(fn, cudaMallocAsync(reinterpret_cast<void**>(&flags), sizeof(int32_t) * (m + 1), s));
    cudaMemsetAsync(flags, 0, sizeof(int32_t) * (m + 1), s);
    fused_kernel<<<disco_cuda::blocks_for(total), disco_cuda::kThreads, 0, s>>>(
        x_in, model_grads, active, n, c, h, w, clip_scale, float(2.0 * tv_scale / double(c * h * w)),
        float(double(sat_scale) / double(total)), x_in_grad, flags, m);
    cudaError_t err = cudaGetLastError();
    if (err == cudaSuccess) err = cudaMemcpyAsync(nan_flags, flags, sizeof(int32_t) * (m + 1), cudaMemcpyDeviceToHost, s);
    cudaFreeAsync(flags, s);
    if (err == cudaSuccess) err = cudaStreamSynchronize(s);
    if (err != cudaSuccess) return disco_fail(DISCO_ECUDA, "%s: %s", fn, cudaGetErrorString(err));
    if (nan_flags[m]) DISCO_CUDA_TRY(fn, cudaMemsetAsync(x_in_grad, 0, sizeof(float) * total, s));
    return DISCO_OK;
}
