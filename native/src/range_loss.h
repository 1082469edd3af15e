// range_loss.h — DD's range_loss and its VJP (see disco/guidance.h).
#pragma once
#include <cstdint>

int range_loss_cpu(const float* x, int64_t n, int64_t c, int64_t h, int64_t w, float* loss);
int range_loss_backward_cpu(const float* x, const float* grad_loss, int64_t n, int64_t c, int64_t h, int64_t w,
                            float* grad_x, int accumulate);
int range_loss_cuda(const float* x, int64_t n, int64_t c, int64_t h, int64_t w, float* loss, void* stream);
int range_loss_backward_cuda(const float* x, const float* grad_loss, int64_t n, int64_t c, int64_t h, int64_t w,
                             float* grad_x, int accumulate, void* stream);
