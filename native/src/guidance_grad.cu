// guidance_grad.cu — CUDA implementation of the gradient stage (see guidance_grad.cpp): the three loss values by
// the loss kernels, then one fused elementwise pass (masked model sum, tv and sat gradients, the extra term, NaN
// flags), then a pass that zeroes the gradient when the sum had a NaN (DD's guard, decided on the device). The
// flags and the loss values stay on the device; nothing synchronizes with the host (the caller reads them once,
// when it needs them).
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

// Every thread that sees a NaN stores 1 into its flag: the same value from any thread, so the result does not
// depend on the order (no read-modify-write).
__global__ void fused_kernel(const float* __restrict__ x, const float* __restrict__ model_grads,
                             const float* __restrict__ extra, Active active, int64_t n, int64_t c, int64_t h,
                             int64_t w, float clip_scale, float tv_coef, float sat_coef, float* __restrict__ out,
                             int32_t* __restrict__ flags, int64_t m) {
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
        if (extra) g += extra[e];
        if (isnan(g)) flags[m] = 1;
        out[e] = g;
    }
}

// DD's guard: a NaN anywhere in x_in_grad → all of it zero
__global__ void zero_if_flagged_kernel(float* __restrict__ out, int64_t total, const int32_t* __restrict__ flag) {
    if (*flag == 0) return;
    for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < total; e += (int64_t)gridDim.x * blockDim.x)
        out[e] = 0.f;
}

}  // namespace

int guidance_grad_cuda(const float* x_in, const float* pred, const float* model_grads, const int32_t* mask, int64_t m,
                       const float* extra_grad, int64_t n, int64_t c, int64_t h, int64_t w, float clip_scale,
                       float tv_scale, float sat_scale, float* x_in_grad, float* losses, int32_t* nan_flags,
                       void* stream) {
    const char* fn = "disco_guidance_grad";
    DISCO_TRY(disco_cuda::require_device(fn, "x_in", x_in));
    DISCO_TRY(disco_cuda::require_device(fn, "pred", pred));
    DISCO_TRY(disco_cuda::require_device(fn, "model_grads", model_grads));
    DISCO_TRY(disco_cuda::require_device(fn, "extra_grad", extra_grad));
    DISCO_TRY(disco_cuda::require_device(fn, "x_in_grad", x_in_grad));
    DISCO_TRY(disco_cuda::require_device(fn, "losses", losses));
    DISCO_TRY(disco_cuda::require_device(fn, "nan_flags", nan_flags));
    cudaStream_t s = disco_cuda::as_stream(stream);
    const int64_t total = n * c * h * w;
    DISCO_TRY(tv_loss_cuda(x_in, n, c, h, w, losses, stream));
    DISCO_TRY(range_loss_cuda(pred, n, c, h, w, losses + n, stream));
    DISCO_TRY(sat_loss_cuda(x_in, total, losses + 2 * n, stream));

    Active active{};
    for (int64_t k = 0; k < m; k++)
        if (mask[k]) active.index[active.count++] = int32_t(k);
    DISCO_CUDA_TRY(fn, cudaMemsetAsync(nan_flags, 0, sizeof(int32_t) * (m + 1), s));
    const unsigned blocks = disco_cuda::blocks_for(total);
    fused_kernel<<<blocks, disco_cuda::kThreads, 0, s>>>(
        x_in, model_grads, extra_grad, active, n, c, h, w, clip_scale, float(2.0 * tv_scale / double(c * h * w)),
        float(double(sat_scale) / double(total)), x_in_grad, nan_flags, m);
    DISCO_CUDA_LAUNCHED(fn);
    zero_if_flagged_kernel<<<blocks, disco_cuda::kThreads, 0, s>>>(x_in_grad, total, nan_flags + m);
    DISCO_CUDA_LAUNCHED(fn);
    return DISCO_OK;
}
