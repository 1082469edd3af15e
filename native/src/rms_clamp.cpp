// rms_clamp.cpp — CPU twin of DD's clamp `grad * magnitude.clamp(max=clamp_max) / magnitude` with
// magnitude = sqrt(mean(grad^2)), its VJP, and the entry points.
#include "rms_clamp.h"

#include <cmath>

#include "disco_kernels.h"
#include "status.h"

static double sum_sq(const float* g, int64_t count) {
    double s = 0;
    for (int64_t e = 0; e < count; e++) s += double(g[e]) * g[e];
    return s;
}

int rms_clamp_cpu(const float* g, int64_t count, float clamp_max, float* out, float* rms) {
    const float r = float(std::sqrt(sum_sq(g, count) / double(count)));
    // DD: factor = min(r, clamp_max) / r in float32; r == 0 keeps g (DD would produce 0/0)
    const float factor = r > 0.f ? std::fmin(r, clamp_max) / r : 1.f;
    for (int64_t e = 0; e < count; e++) out[e] = g[e] * factor;
    if (rms) rms[0] = r;
    return DISCO_OK;
}

// r <= clamp_max: identity (torch's clamp passes the gradient at the bound). r > clamp_max: out = M g / r, so
// grad_g = (M / r) (grad_out - g (g . grad_out) / (count r^2)). `rms` (the forward's, may be NULL) spares the
// reduction of g^2: r = rms[0], count r^2 = ss.
int rms_clamp_backward_cpu(const float* g, const float* grad_out, int64_t count, float clamp_max, const float* rms,
                           float* grad_g, int accumulate) {
    double ss, r;
    if (rms) {
        r = rms[0];
        ss = double(count) * r * r;
    } else {
        ss = sum_sq(g, count);
        r = std::sqrt(ss / double(count));
    }
    if (!(r > clamp_max)) {
        for (int64_t e = 0; e < count; e++) grad_g[e] = accumulate ? grad_g[e] + grad_out[e] : grad_out[e];
        return DISCO_OK;
    }
    double dot = 0;
    for (int64_t e = 0; e < count; e++) dot += double(g[e]) * grad_out[e];
    const double a = clamp_max / r, b = a * dot / ss;  // count r^2 = ss
    for (int64_t e = 0; e < count; e++) {
        const float v = float(a * grad_out[e] - b * g[e]);
        grad_g[e] = accumulate ? grad_g[e] + v : v;
    }
    return DISCO_OK;
}

static int check_common(const char* fn, int64_t count, float clamp_max, int device) {
    DISCO_TRY(disco_check_pos(fn, "count", count));
    if (!(clamp_max > 0.f)) return disco_fail(DISCO_EINVAL, "%s: clamp_max must be > 0, got %g", fn, double(clamp_max));
    return disco_check_device(fn, device);
}

extern "C" DISCO_API int disco_rms_clamp(const float* g, int64_t count, float clamp_max, float* out, float* rms,
                                         int device, void* stream) {
    const char* fn = "disco_rms_clamp";
    DISCO_TRY(check_common(fn, count, clamp_max, device));
    DISCO_TRY(disco_check_ptr(fn, "g", g));
    DISCO_TRY(disco_check_ptr(fn, "out", out));
    DISCO_DISPATCH(fn, device, stream, rms_clamp_cpu(g, count, clamp_max, out, rms),
                   rms_clamp_cuda(g, count, clamp_max, out, rms, stream));
}

extern "C" DISCO_API int disco_rms_clamp_backward(const float* g, const float* grad_out, int64_t count,
                                                  float clamp_max, const float* rms, float* grad_g, int accumulate,
                                                  int device, void* stream) {
    const char* fn = "disco_rms_clamp_backward";
    DISCO_TRY(check_common(fn, count, clamp_max, device));
    DISCO_TRY(disco_check_ptr(fn, "g", g));
    DISCO_TRY(disco_check_ptr(fn, "grad_out", grad_out));
    DISCO_TRY(disco_check_ptr(fn, "grad_g", grad_g));
    DISCO_DISPATCH(fn, device, stream, rms_clamp_backward_cpu(g, grad_out, count, clamp_max, rms, grad_g, accumulate),
                   rms_clamp_backward_cuda(g, grad_out, count, clamp_max, rms, grad_g, accumulate, stream));
}
