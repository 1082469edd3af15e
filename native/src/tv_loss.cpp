// tv_loss.cpp — CPU twin of DD's tv_loss (replicate pad right/bottom, mean of dx^2 + dy^2 over C,H,W) and
// the C ABI entry points.
#include "tv_loss.h"

#include "disco_kernels.h"
#include "status.h"

int tv_loss_cpu(const float* x, int64_t n, int64_t c, int64_t h, int64_t w, float* loss) {
    const int64_t plane = h * w;
    const double inv = 1.0 / double(c * plane);
    for (int64_t b = 0; b < n; b++) {
        double sum = 0;
        for (int64_t ch = 0; ch < c; ch++) {
            const float* p = x + (b * c + ch) * plane;
            for (int64_t i = 0; i < h; i++) {
                const float* row = p + i * w;
                const float* below = i + 1 < h ? row + w : row;  // replicate: the padded row equals the last
                for (int64_t j = 0; j < w; j++) {
                    const float v = row[j];
                    const float dx = (j + 1 < w ? row[j + 1] : v) - v;
                    const float dy = below[j] - v;
                    sum += double(dx) * dx + double(dy) * dy;
                }
            }
        }
        loss[b] = float(sum * inv);
    }
    return DISCO_OK;
}

int tv_loss_backward_cpu(const float* x, const float* grad_loss, int64_t n, int64_t c, int64_t h, int64_t w,
                         float* grad_x, int accumulate) {
    const int64_t plane = h * w;
    for (int64_t b = 0; b < n; b++) {
        const float s = float(2.0 * grad_loss[b] / double(c * plane));
        for (int64_t ch = 0; ch < c; ch++) {
            const int64_t off = (b * c + ch) * plane;
            const float* p = x + off;
            float* g = grad_x + off;
            for (int64_t i = 0; i < h; i++) {
                for (int64_t j = 0; j < w; j++) {
                    const float v = p[i * w + j];
                    float acc = 0;
                    if (j + 1 < w) acc -= p[i * w + j + 1] - v;        // own dx
                    if (i + 1 < h) acc -= p[(i + 1) * w + j] - v;      // own dy
                    if (j > 0) acc += v - p[i * w + j - 1];            // left neighbour's dx
                    if (i > 0) acc += v - p[(i - 1) * w + j];          // upper neighbour's dy
                    const float r = s * acc;
                    g[i * w + j] = accumulate ? g[i * w + j] + r : r;
                }
            }
        }
    }
    return DISCO_OK;
}

extern "C" DISCO_API int disco_tv_loss(const float* x, int64_t n, int64_t c, int64_t h, int64_t w, float* loss,
                                       int device, void* stream) {
    const char* fn = "disco_tv_loss";
    DISCO_TRY(disco_check_nchw(fn, n, c, h, w, device));
    DISCO_TRY(disco_check_ptr(fn, "x", x));
    DISCO_TRY(disco_check_ptr(fn, "loss", loss));
    DISCO_DISPATCH(fn, device, stream, tv_loss_cpu(x, n, c, h, w, loss), tv_loss_cuda(x, n, c, h, w, loss, stream));
}

extern "C" DISCO_API int disco_tv_loss_backward(const float* x, const float* grad_loss, int64_t n, int64_t c,
                                                int64_t h, int64_t w, float* grad_x, int accumulate, int device,
                                                void* stream) {
    const char* fn = "disco_tv_loss_backward";
    DISCO_TRY(disco_check_nchw(fn, n, c, h, w, device));
    DISCO_TRY(disco_check_ptr(fn, "x", x));
    DISCO_TRY(disco_check_ptr(fn, "grad_loss", grad_loss));
    DISCO_TRY(disco_check_ptr(fn, "grad_x", grad_x));
    DISCO_DISPATCH(fn, device, stream, tv_loss_backward_cpu(x, grad_loss, n, c, h, w, grad_x, accumulate),
                   tv_loss_backward_cuda(x, grad_loss, n, c, h, w, grad_x, accumulate, stream));
}
