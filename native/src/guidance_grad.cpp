// guidance_grad.cpp — CPU twin of the gradient stage of DD's cond_fn (x_in side):
//   x_in_grad  = sum over models k that the step's schedule turns on, of
//                  clip_guidance_scale * d(losses_k.sum())/dx_in / cutn_batches   (model_grads[k] summed over batches)
//              + d(tv_losses.sum() * tv_scale + sat_loss * sat_scale)/dx_in
//              + extra_grad (DD's init term, when given: added last)
//   (range_loss is taken on the denoiser output, upstream of x_in: DD's autograd.grad(loss, x_in) gets nothing
//   from it), then DD's NaN guard: any NaN in x_in_grad → a zero gradient. The loss values are reported.
#include "guidance_grad.h"

#include <cmath>
#include <vector>

#include "disco_kernels.h"
#include "range_loss.h"
#include "sat_loss.h"
#include "status.h"
#include "tv_loss.h"

int guidance_grad_cpu(const float* x_in, const float* pred, const float* model_grads, const int32_t* mask, int64_t m,
                      const float* extra_grad, int64_t n, int64_t c, int64_t h, int64_t w, float clip_scale, float tv_scale, float sat_scale,
                      float* x_in_grad, float* losses, int32_t* nan_flags) {
    const int64_t total = n * c * h * w;
    tv_loss_cpu(x_in, n, c, h, w, losses);
    range_loss_cpu(pred, n, c, h, w, losses + n);
    sat_loss_cpu(x_in, total, losses + 2 * n);

    for (int64_t e = 0; e < total; e++) x_in_grad[e] = 0.f;
    for (int64_t k = 0; k < m; k++) {
        nan_flags[k] = 0;
        if (!mask[k]) continue;
        const float* g = model_grads + k * total;
        int nan = 0;
        for (int64_t e = 0; e < total; e++) {
            nan |= std::isnan(g[e]) ? 1 : 0;
            x_in_grad[e] += clip_scale * g[e];
        }
        nan_flags[k] = nan;
    }
    std::vector<float> tv_w(n, tv_scale);
    const float sat_w = sat_scale;
    tv_loss_backward_cpu(x_in, tv_w.data(), n, c, h, w, x_in_grad, 1);
    sat_loss_backward_cpu(x_in, &sat_w, total, x_in_grad, 1);
    if (extra_grad)
        for (int64_t e = 0; e < total; e++) x_in_grad[e] += extra_grad[e];

    int any = 0;
    for (int64_t e = 0; e < total && !any; e++) any = std::isnan(x_in_grad[e]) ? 1 : 0;
    nan_flags[m] = any;
    if (any)
        for (int64_t e = 0; e < total; e++) x_in_grad[e] = 0.f;
    return DISCO_OK;
}

extern "C" DISCO_API int disco_guidance_grad(const float* x_in, const float* pred, const float* model_grads,
                                             const int32_t* mask, int64_t m, const float* extra_grad, int64_t n,
                                             int64_t c, int64_t h, int64_t w, float clip_scale, float tv_scale, float sat_scale,
                                             float* x_in_grad, float* losses, int32_t* nan_flags, int device,
                                             void* stream) {
    const char* fn = "disco_guidance_grad";
    DISCO_TRY(disco_check_nchw(fn, n, c, h, w, device));
    if (m < 0) return disco_fail(DISCO_EINVAL, "%s: m must be >= 0, got %lld", fn, (long long)m);
    if (m > kGuidanceMaxModels)
        return disco_fail(DISCO_EINVAL, "%s: at most %d models, got %lld", fn, kGuidanceMaxModels, (long long)m);
    DISCO_TRY(disco_check_ptr(fn, "x_in", x_in));
    DISCO_TRY(disco_check_ptr(fn, "pred", pred));
    if (m > 0) {
        DISCO_TRY(disco_check_ptr(fn, "model_grads", model_grads));
        DISCO_TRY(disco_check_ptr(fn, "mask", mask));
    }
    DISCO_TRY(disco_check_ptr(fn, "x_in_grad", x_in_grad));
    DISCO_TRY(disco_check_ptr(fn, "losses", losses));
    DISCO_TRY(disco_check_ptr(fn, "nan_flags", nan_flags));
    DISCO_DISPATCH(fn, device, stream,
                   guidance_grad_cpu(x_in, pred, model_grads, mask, m, extra_grad, n, c, h, w, clip_scale, tv_scale, sat_scale,
                                     x_in_grad, losses, nan_flags),
                   guidance_grad_cuda(x_in, pred, model_grads, mask, m, extra_grad, n, c, h, w, clip_scale, tv_scale, sat_scale,
                                      x_in_grad, losses, nan_flags, stream));
}
