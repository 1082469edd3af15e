// spherical_dist.cu — CUDA implementation of DD's spherical_dist_loss and its VJP (formulas in spherical_dist.cpp).
// The sizes are small (a = cutouts x images, b = prompts, d = embedding width): row norms one warp per row,
// pairs one warp per pair, the gradient one block per row (two passes: u . grad_u, then the projection).
#include "cuda_common.cuh"
#include "spherical_dist.h"

namespace {

__device__ inline float warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

// norms[r] = max(|rows[r]|, eps), one warp per row
__global__ void row_norms_kernel(const float* __restrict__ rows, int64_t count, int64_t d, float* __restrict__ norms) {
    const int64_t r = (blockIdx.x * (int64_t)blockDim.x + threadIdx.x) >> 5;
    if (r >= count) return;
    float s = 0.f;
    for (int64_t k = threadIdx.x & 31; k < d; k += 32) s += rows[r * d + k] * rows[r * d + k];
    s = warp_sum(s);
    if ((threadIdx.x & 31) == 0) norms[r] = fmaxf(sqrtf(s), kSphNormEps);
}

// one warp per pair (i, j): D = |x_i/nx_i - y_j/ny_j|; mode 0 writes out = 2 asin(D/2)^2,
// mode 1 writes kappa = grad_out * (2 asin(D/2) / sqrt(1 - D^2/4)) / D (0 at D = 0)
__global__ void pair_kernel(const float* __restrict__ x, const float* __restrict__ nx, const float* __restrict__ y,
                            const float* __restrict__ ny, int64_t a, int64_t b, int64_t d,
                            const float* __restrict__ grad_out, float* __restrict__ out, int mode) {
    const int64_t pair = (blockIdx.x * (int64_t)blockDim.x + threadIdx.x) >> 5;
    if (pair >= a * b) return;  // whole warps leave together
    const int64_t i = pair / b, j = pair % b;
    const float* p = x + i * d;
    const float* q = y + j * d;
    const float np = nx[i], nq = ny[j];
    float s = 0.f;
    for (int64_t k = threadIdx.x & 31; k < d; k += 32) {
        const float t = p[k] / np - q[k] / nq;
        s += t * t;
    }
    const float D = sqrtf(warp_sum(s));
    if ((threadIdx.x & 31) != 0) return;
    const float h = D * 0.5f;
    if (mode == 0) {
        const float as = asinf(h);
        out[pair] = 2.f * as * as;
    } else if (!(D > 0.f)) {
        out[pair] = D == 0.f ? 0.f : D;
    } else {
        out[pair] = grad_out[pair] * 2.f * asinf(h) / sqrtf(1.f - h * h) / D;
    }
}

// block i: grad for row i of P ([*, d], norms np) against the q rows of Q (norms nq);
// kappa(i, j) = kap[i * si + j * sj]; grad_u = sum_j kappa (u - v_j); grad = (grad_u - u (u . grad_u)) / |P_i|
__global__ void rows_grad_kernel(const float* __restrict__ P, const float* __restrict__ np,
                                 const float* __restrict__ Q, const float* __restrict__ nq,
                                 const float* __restrict__ kap, int64_t si, int64_t sj, int64_t q, int64_t d,
                                 float* __restrict__ grad, int accumulate) {
    __shared__ float s_dot;
    const int64_t i = blockIdx.x;
    const float* u = P + i * d;
    const float nu = np[i];
    const bool clamped = !(nu > kSphNormEps);
    float dot = 0.f;
    if (!clamped) {
        for (int64_t k = threadIdx.x; k < d; k += blockDim.x) {
            const float uk = u[k] / nu;
            float g = 0.f;
            for (int64_t j = 0; j < q; j++) g += kap[i * si + j * sj] * (uk - Q[j * d + k] / nq[j]);
            dot += uk * g;
        }
    }
    dot = disco_cuda::block_sum(dot);
    if (threadIdx.x == 0) s_dot = dot;
    __syncthreads();
    dot = s_dot;
    for (int64_t k = threadIdx.x; k < d; k += blockDim.x) {
        const float uk = u[k] / nu;
        float g = 0.f;
        for (int64_t j = 0; j < q; j++) g += kap[i * si + j * sj] * (uk - Q[j * d + k] / nq[j]);
        const float r = clamped ? g / nu : (g - uk * dot) / nu;
        grad[i * d + k] = accumulate ? grad[i * d + k] + r : r;
    }
}

unsigned warps_blocks(int64_t warps) { return (unsigned)((warps * 32 + disco_cuda::kThreads - 1) / disco_cuda::kThreads); }

}  // namespace

int spherical_dist_cuda(const float* x, const float* y, int64_t a, int64_t b, int64_t d, float* out, void* stream) {
    const char* fn = "disco_spherical_dist";
    DISCO_TRY(disco_cuda::require_device(fn, "x", x));
    DISCO_TRY(disco_cuda::require_device(fn, "y", y));
    DISCO_TRY(disco_cuda::require_device(fn, "out", out));
    cudaStream_t s = disco_cuda::as_stream(stream);
    disco_cuda::Scratch norms(a + b, s);
    DISCO_CUDA_TRY(fn, norms.err);
    row_norms_kernel<<<warps_blocks(a), disco_cuda::kThreads, 0, s>>>(x, a, d, norms.p);
    DISCO_CUDA_LAUNCHED(fn);
    row_norms_kernel<<<warps_blocks(b), disco_cuda::kThreads, 0, s>>>(y, b, d, norms.p + a);
    DISCO_CUDA_LAUNCHED(fn);
    pair_kernel<<<warps_blocks(a * b), disco_cuda::kThreads, 0, s>>>(x, norms.p, y, norms.p + a, a, b, d, nullptr, out, 0);
    DISCO_CUDA_LAUNCHED(fn);
    return norms.release(fn);
}

int spherical_dist_backward_cuda(const float* x, const float* y, const float* grad_out, int64_t a, int64_t b,
                                 int64_t d, float* grad_x, float* grad_y, int accumulate, void* stream) {
    const char* fn = "disco_spherical_dist_backward";
    DISCO_TRY(disco_cuda::require_device(fn, "x", x));
    DISCO_TRY(disco_cuda::require_device(fn, "y", y));
    DISCO_TRY(disco_cuda::require_device(fn, "grad_out", grad_out));
    DISCO_TRY(disco_cuda::require_device(fn, "grad_x", grad_x));
    DISCO_TRY(disco_cuda::require_device(fn, "grad_y", grad_y));
    cudaStream_t s = disco_cuda::as_stream(stream);
    disco_cuda::Scratch scratch(a + b + a * b, s);  // norms x [a], norms y [b], kappa [a*b]
    DISCO_CUDA_TRY(fn, scratch.err);
    float* nx = scratch.p;
    float* ny = scratch.p + a;
    float* kap = scratch.p + a + b;
    row_norms_kernel<<<warps_blocks(a), disco_cuda::kThreads, 0, s>>>(x, a, d, nx);
    DISCO_CUDA_LAUNCHED(fn);
    row_norms_kernel<<<warps_blocks(b), disco_cuda::kThreads, 0, s>>>(y, b, d, ny);
    DISCO_CUDA_LAUNCHED(fn);
    pair_kernel<<<warps_blocks(a * b), disco_cuda::kThreads, 0, s>>>(x, nx, y, ny, a, b, d, grad_out, kap, 1);
    DISCO_CUDA_LAUNCHED(fn);
    if (grad_x) {
        rows_grad_kernel<<<(unsigned)a, disco_cuda::kThreads, 0, s>>>(x, nx, y, ny, kap, b, 1, b, d, grad_x, accumulate);
        DISCO_CUDA_LAUNCHED(fn);
    }
    if (grad_y) {
        rows_grad_kernel<<<(unsigned)b, disco_cuda::kThreads, 0, s>>>(y, ny, x, nx, kap, 1, b, a, d, grad_y, accumulate);
        DISCO_CUDA_LAUNCHED(fn);
    }
    return scratch.release(fn);
}
