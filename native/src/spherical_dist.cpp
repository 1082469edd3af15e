// spherical_dist.cpp — CPU twin of DD's spherical_dist_loss:
//   u = x / max(|x|, 1e-12), v = y / max(|y|, 1e-12), out = 2 * asin(|u - v| / 2)^2
// and its VJP:
//   dout/dD = 2 asin(D/2) / sqrt(1 - D^2/4) with D = |u - v|, dD/du = (u - v) / D (0 at D = 0, as torch's norm),
//   through normalize: grad_x = (grad_u - u (u . grad_u)) / |x| (or grad_u / eps when |x| < eps).
#include "spherical_dist.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "disco_kernels.h"
#include "status.h"

namespace {

float row_norm(const float* p, int64_t d) {
    double s = 0;
    for (int64_t k = 0; k < d; k++) s += double(p[k]) * p[k];
    return std::max(float(std::sqrt(s)), kSphNormEps);
}

// D = |x/nx - y/ny|
float pair_dist(const float* x, float nx, const float* y, float ny, int64_t d) {
    double s = 0;
    for (int64_t k = 0; k < d; k++) {
        const double t = double(x[k] / nx) - double(y[k] / ny);
        s += t * t;
    }
    return float(std::sqrt(s));
}

// kappa = (dout/dD) / D * grad_out; 0 at D == 0
float kappa(float D, float go) {
    if (!(D > 0.f)) return D == 0.f ? 0.f : D;  // NaN stays NaN
    const double s = double(D) / 2.0;
    return float(go * 2.0 * std::asin(s) / std::sqrt(1.0 - s * s) / double(D));
}

// grad rows of P ([p,d]) against Q ([q,d]) with kappa[i*q + j] given; grad_u_i = sum_j kappa_ij (u_i - v_j).
void rows_grad(const float* P, const std::vector<float>& np, const float* Q, const std::vector<float>& nq,
               const std::vector<float>& kap, int64_t p, int64_t q, int64_t d, float* grad, int accumulate) {
    std::vector<double> gu(d);
    for (int64_t i = 0; i < p; i++) {
        std::fill(gu.begin(), gu.end(), 0.0);
        const float* u = P + i * d;
        for (int64_t j = 0; j < q; j++) {
            const double kk = kap[i * q + j];
            if (kk == 0.0) continue;
            const float* v = Q + j * d;
            for (int64_t k = 0; k < d; k++) gu[k] += kk * (double(u[k] / np[i]) - double(v[k] / nq[j]));
        }
        const double n = np[i];
        const bool clamped = !(n > kSphNormEps);
        double dot = 0;
        if (!clamped)
            for (int64_t k = 0; k < d; k++) dot += double(u[k] / np[i]) * gu[k];
        for (int64_t k = 0; k < d; k++) {
            const double un = double(u[k] / np[i]);
            const float r = float(clamped ? gu[k] / n : (gu[k] - un * dot) / n);
            grad[i * d + k] = accumulate ? grad[i * d + k] + r : r;
        }
    }
}

}  // namespace

int spherical_dist_cpu(const float* x, const float* y, int64_t a, int64_t b, int64_t d, float* out) {
    std::vector<float> nx(a), ny(b);
    for (int64_t i = 0; i < a; i++) nx[i] = row_norm(x + i * d, d);
    for (int64_t j = 0; j < b; j++) ny[j] = row_norm(y + j * d, d);
    for (int64_t i = 0; i < a; i++)
        for (int64_t j = 0; j < b; j++) {
            const double as = std::asin(double(pair_dist(x + i * d, nx[i], y + j * d, ny[j], d)) / 2.0);
            out[i * b + j] = float(2.0 * as * as);
        }
    return DISCO_OK;
}

int spherical_dist_backward_cpu(const float* x, const float* y, const float* grad_out, int64_t a, int64_t b,
                                int64_t d, float* grad_x, float* grad_y, int accumulate) {
    std::vector<float> nx(a), ny(b), kx(a * b), ky(a * b);
    for (int64_t i = 0; i < a; i++) nx[i] = row_norm(x + i * d, d);
    for (int64_t j = 0; j < b; j++) ny[j] = row_norm(y + j * d, d);
    for (int64_t i = 0; i < a; i++)
        for (int64_t j = 0; j < b; j++) {
            const float k = kappa(pair_dist(x + i * d, nx[i], y + j * d, ny[j], d), grad_out[i * b + j]);
            kx[i * b + j] = k;
            ky[j * a + i] = k;
        }
    if (grad_x) rows_grad(x, nx, y, ny, kx, a, b, d, grad_x, accumulate);
    if (grad_y) rows_grad(y, ny, x, nx, ky, b, a, d, grad_y, accumulate);
    return DISCO_OK;
}

static int check_sizes(const char* fn, int64_t a, int64_t b, int64_t d, int device) {
    DISCO_TRY(disco_check_pos(fn, "a", a));
    DISCO_TRY(disco_check_pos(fn, "b", b));
    DISCO_TRY(disco_check_pos(fn, "d", d));
    return disco_check_device(fn, device);
}

extern "C" DISCO_API int disco_spherical_dist(const float* x, const float* y, int64_t a, int64_t b, int64_t d,
                                              float* out, int device, void* stream) {
    const char* fn = "disco_spherical_dist";
    DISCO_TRY(check_sizes(fn, a, b, d, device));
    DISCO_TRY(disco_check_ptr(fn, "x", x));
    DISCO_TRY(disco_check_ptr(fn, "y", y));
    DISCO_TRY(disco_check_ptr(fn, "out", out));
    DISCO_DISPATCH(fn, device, stream, spherical_dist_cpu(x, y, a, b, d, out),
                   spherical_dist_cuda(x, y, a, b, d, out, stream));
}

extern "C" DISCO_API int disco_spherical_dist_backward(const float* x, const float* y, const float* grad_out,
                                                       int64_t a, int64_t b, int64_t d, float* grad_x,
                                                       float* grad_y, int accumulate, int device, void* stream) {
    const char* fn = "disco_spherical_dist_backward";
    DISCO_TRY(check_sizes(fn, a, b, d, device));
    DISCO_TRY(disco_check_ptr(fn, "x", x));
    DISCO_TRY(disco_check_ptr(fn, "y", y));
    DISCO_TRY(disco_check_ptr(fn, "grad_out", grad_out));
    if (!grad_x && !grad_y) return DISCO_OK;
    DISCO_DISPATCH(fn, device, stream,
                   spherical_dist_backward_cpu(x, y, grad_out, a, b, d, grad_x, grad_y, accumulate),
                   spherical_dist_backward_cuda(x, y, grad_out, a, b, d, grad_x, grad_y, accumulate, stream));
}
