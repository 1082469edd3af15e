// range_loss.cpp — CPU twin of DD's range_loss: per image mean of (x - clamp(x,-1,1))^2, and the entry points.
#include "range_loss.h"

#include "disco_kernels.h"
#include "status.h"

static inline float excess(float v) { return v > 1.f ? v - 1.f : (v < -1.f ? v + 1.f : 0.f); }

int range_loss_cpu(const float* x, int64_t n, int64_t c, int64_t h, int64_t w, float* loss) {
    const int64_t per = c * h * w;
    for (int64_t b = 0; b < n; b++) {
        double s = 0;
        for (int64_t e = 0; e < per; e++) {
            const double d = excess(x[b * per + e]);
            s += d * d;
        }
        loss[b] = float(s / double(per));
    }
    return DISCO_OK;
}

int range_loss_backward_cpu(const float* x, const float* grad_loss, int64_t n, int64_t c, int64_t h, int64_t w,
                            float* grad_x, int accumulate) {
    const int64_t per = c * h * w;
    for (int64_t b = 0; b < n; b++) {
        const float s = float(2.0 * grad_loss[b] / double(per));
        for (int64_t e = b * per; e < (b + 1) * per; e++) {
            const float r = s * excess(x[e]);
            grad_x[e] = accumulate ? grad_x[e] + r : r;
        }
    }
    return DISCO_OK;
}

extern "C" DISCO_API int disco_range_loss(const float* x, int64_t n, int64_t c, int64_t h, int64_t w, float* loss,
                                          int device, void* stream) {
    const char* fn = "disco_range_loss";
    DISCO_TRY(disco_check_nchw(fn, n, c, h, w, device));
    DISCO_TRY(disco_check_ptr(fn, "x", x));
    DISCO_TRY(disco_check_ptr(fn, "loss", loss));
    DISCO_DISPATCH(fn, device, stream, range_loss_cpu(x, n, c, h, w, loss),
                   range_loss_cuda(x, n, c, h, w, loss, stream));
}

extern "C" DISCO_API int disco_range_loss_backward(const float* x, const float* grad_loss, int64_t n, int64_t c,
                                                   int64_t h, int64_t w, float* grad_x, int accumulate, int device,
                                                   void* stream) {
    const char* fn = "disco_range_loss_backward";
    DISCO_TRY(disco_check_nchw(fn, n, c, h, w, device));
    DISCO_TRY(disco_check_ptr(fn, "x", x));
    DISCO_TRY(disco_check_ptr(fn, "grad_loss", grad_loss));
    DISCO_TRY(disco_check_ptr(fn, "grad_x", grad_x));
    DISCO_DISPATCH(fn, device, stream, range_loss_backward_cpu(x, grad_loss, n, c, h, w, grad_x, accumulate),
                   range_loss_backward_cuda(x, grad_loss, n, c, h, w, grad_x, accumulate, stream));
}
