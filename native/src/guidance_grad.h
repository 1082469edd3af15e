// guidance_grad.h — the gradient stage of DD's cond_fn with respect to x_in (see disco/guidance.h).
#pragma once
#include <cstdint>

int guidance_grad_cpu(const float* x_in, const float* pred, const float* model_grads, const int32_t* mask, int64_t m,
                      const float* extra_grad, int64_t n, int64_t c, int64_t h, int64_t w, float clip_scale, float tv_scale, float sat_scale,
                      float* x_in_grad, float* losses, int32_t* nan_flags);
int guidance_grad_cuda(const float* x_in, const float* pred, const float* model_grads, const int32_t* mask, int64_t m,
                       const float* extra_grad, int64_t n, int64_t c, int64_t h, int64_t w, float clip_scale, float tv_scale, float sat_scale,
                       float* x_in_grad, float* losses, int32_t* nan_flags, void* stream);

// the most models one call accumulates on CUDA (the active indices travel as a kernel argument)
constexpr int kGuidanceMaxModels = 64;
