// sat_loss.cpp — CPU twin of DD's `abs(x_in - x_in.clamp(-1, 1)).mean()` and the entry points.
#include "sat_loss.h"

#include <cmath>

#include "disco_kernels.h"
#include "status.h"

int sat_loss_cpu(const float* x, int64_t count, float* loss) {
    double s = 0;
    for (int64_t e = 0; e < count; e++) {
        const float v = x[e];
        s += v > 1.f ? v - 1.f : (v < -1.f ? -1.f - v : (std::isnan(v) ? v : 0.f));
    }
    loss[0] = float(s / double(count));
    return DISCO_OK;
}

// d|x - clamp(x)|/dx: sign(x - clamp(x)) * (1 - clamp'(x)); torch: sign(0) = 0 and clamp' = 1 on [-1, 1].
int sat_loss_backward_cpu(const float* x, const float* grad_loss, int64_t count, float* grad_x, int accumulate) {
    const float s = float(double(grad_loss[0]) / double(count));
    for (int64_t e = 0; e < count; e++) {
        const float v = x[e];
        const float r = v > 1.f ? s : (v < -1.f ? -s : (std::isnan(v) ? v : 0.f));
        grad_x[e] = accumulate ? grad_x[e] + r : r;
    }
    return DISCO_OK;
}

extern "C" DISCO_API int disco_sat_loss(const float* x, int64_t count, float* loss, int device, void* stream) {
    const char* fn = "disco_sat_loss";
    DISCO_TRY(disco_check_pos(fn, "count", count));
    DISCO_TRY(disco_check_device(fn, device));
    DISCO_TRY(disco_check_ptr(fn, "x", x));
    DISCO_TRY(disco_check_ptr(fn, "loss", loss));
    DISCO_DISPATCH(fn, device, stream, sat_loss_cpu(x, count, loss), sat_loss_cuda(x, count, loss, stream));
}

extern "C" DISCO_API int disco_sat_loss_backward(const float* x, const float* grad_loss, int64_t count,
                                                 float* grad_x, int accumulate, int device, void* stream) {
    const char* fn = "disco_sat_loss_backward";
    DISCO_TRY(disco_check_pos(fn, "count", count));
    DISCO_TRY(disco_check_device(fn, device));
    DISCO_TRY(disco_check_ptr(fn, "x", x));
    DISCO_TRY(disco_check_ptr(fn, "grad_loss", grad_loss));
    DISCO_TRY(disco_check_ptr(fn, "grad_x", grad_x));
    DISCO_DISPATCH(fn, device, stream, sat_loss_backward_cpu(x, grad_loss, count, grad_x, accumulate),
                   sat_loss_backward_cuda(x, grad_loss, count, grad_x, accumulate, stream));
}
