// spherical_dist.h — DD's spherical_dist_loss with broadcasting and its VJP (see disco/guidance.h).
#pragma once
#include <cstdint>

int spherical_dist_cpu(const float* x, const float* y, int64_t a, int64_t b, int64_t d, float* out);
int spherical_dist_backward_cpu(const float* x, const float* y, const float* grad_out, int64_t a, int64_t b,
                                int64_t d, float* grad_x, float* grad_y, int accumulate);
int spherical_dist_cuda(const float* x, const float* y, int64_t a, int64_t b, int64_t d, float* out, void* stream);
int spherical_dist_backward_cuda(const float* x, const float* y, const float* grad_out, int64_t a, int64_t b,
                                 int64_t d, float* grad_x, float* grad_y, int accumulate, void* stream);

// F.normalize's clamp of the norm
constexpr float kSphNormEps = 1e-12f;
