// sat_loss.h — DD's saturation loss mean|x - clamp(x,-1,1)| and its VJP (see disco/guidance.h).
#pragma once
#include <cstdint>

int sat_loss_cpu(const float* x, int64_t count, float* loss);
int sat_loss_backward_cpu(const float* x, const float* grad_loss, int64_t count, float* grad_x, int accumulate);
int sat_loss_cuda(const float* x, int64_t count, float* loss, void* stream);
int sat_loss_backward_cuda(const float* x, const float* grad_loss, int64_t count, float* grad_x, int accumulate,
                           void* stream);
