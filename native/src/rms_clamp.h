// rms_clamp.h — DD's gradient clamp g * min(rms, clamp_max) / rms and its VJP (see disco/guidance.h).
#pragma once
#include <cstdint>

int rms_clamp_cpu(const float* g, int64_t count, float clamp_max, float* out, float* rms);
int rms_clamp_backward_cpu(const float* g, const float* grad_out, int64_t count, float clamp_max, const float* rms,
                           float* grad_g, int accumulate);
int rms_clamp_cuda(const float* g, int64_t count, float clamp_max, float* out, float* rms, void* stream);
int rms_clamp_backward_cuda(const float* g, const float* grad_out, int64_t count, float clamp_max, const float* rms,
                            float* grad_g, int accumulate, void* stream);
