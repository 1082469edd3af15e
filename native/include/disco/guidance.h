/* disco/guidance.h — the guidance-gradient stage of DD's cond_fn: losses and their gradients, the masked
 * accumulation of the per-model gradients, the NaN guard and the RMS clamp. Conventions: disco/abi.h.
 * Every pointer lives on `device` unless marked "host". Reductions are per image unless stated. */
#ifndef DISCO_GUIDANCE_H
#define DISCO_GUIDANCE_H

#include "disco/abi.h"

#ifdef __cplusplus
extern "C" {
#endif

/* DD's tv_loss: replicate-pad right and bottom by one, then per image the mean over C,H,W of
 * (x[i][j+1]-x[i][j])^2 + (x[i+1][j]-x[i][j])^2.   x [n,c,h,w] -> loss [n]. */
DISCO_API int disco_tv_loss(const float* x, int64_t n, int64_t c, int64_t h, int64_t w, float* loss,
                            int device, void* stream);
/* Its vector-Jacobian product: grad_x = d(sum_b grad_loss[b] * loss[b]) / dx, grad_loss [n].
 * accumulate = 0 overwrites grad_x, 1 adds to it. */
DISCO_API int disco_tv_loss_backward(const float* x, const float* grad_loss, int64_t n, int64_t c, int64_t h,
                                     int64_t w, float* grad_x, int accumulate, int device, void* stream);

/* DD's range_loss: per image mean over C,H,W of (x - clamp(x,-1,1))^2.   x [n,c,h,w] -> loss [n]. */
DISCO_API int disco_range_loss(const float* x, int64_t n, int64_t c, int64_t h, int64_t w, float* loss,
                               int device, void* stream);
DISCO_API int disco_range_loss_backward(const float* x, const float* grad_loss, int64_t n, int64_t c, int64_t h,
                                        int64_t w, float* grad_x, int accumulate, int device, void* stream);

/* DD's saturation loss: mean over all `count` elements of |x - clamp(x,-1,1)|.   x [count] -> loss [1].
 * The backward uses torch's conventions: the gradient of |.| at 0 is 0, so only |x| > 1 contributes. */
DISCO_API int disco_sat_loss(const float* x, int64_t count, float* loss, int device, void* stream);
DISCO_API int disco_sat_loss_backward(const float* x, const float* grad_loss, int64_t count, float* grad_x,
                                      int accumulate, int device, void* stream);

/* DD's spherical_dist_loss with broadcasting (x [a,1,d] against y [1,b,d]):
 * out[i][j] = 2 * asin(|x_i/|x_i| - y_j/|y_j|| / 2)^2, norms clamped below at 1e-12 as F.normalize does.
 * x [a,d], y [b,d] -> out [a,b]. */
DISCO_API int disco_spherical_dist(const float* x, const float* y, int64_t a, int64_t b, int64_t d, float* out,
                                   int device, void* stream);
/* Its VJP for grad_out [a,b]: grad_x [a,d] and/or grad_y [b,d] (either may be NULL to skip it). */
DISCO_API int disco_spherical_dist_backward(const float* x, const float* y, const float* grad_out, int64_t a,
                                            int64_t b, int64_t d, float* grad_x, float* grad_y, int accumulate,
                                            int device, void* stream);

/* The gradient stage of cond_fn with respect to x_in (all tensors [n,c,h,w] unless stated):
 *   x_in_grad = clip_scale * sum_{k < m, mask[k] != 0} model_grads[k]
 *             + tv_scale * d tv_loss(x_in).sum() / dx_in + sat_scale * d sat_loss(x_in) / dx_in + extra_grad
 * with clip_scale = clip_guidance_scale / cutn_batches and model_grads [m,n,c,h,w] the per-model gradients
 * d(losses.sum())/dx_in summed over the cutn batches (may be NULL when m == 0); extra_grad [n,c,h,w] (may be
 * NULL) is a further term added last, before the NaN test (DD's init/LPIPS term). DD computes range_loss on the
 * denoiser output `pred` (upstream of x_in), so the range term adds nothing to x_in_grad; its value is reported.
 * losses [2n+1] receives tv[n], range(pred)[n], sat (unscaled).
 * mask [m] is HOST memory; nan_flags [m+1] (int32) lives on `device` like the tensors: nan_flags[k] = 1 when
 * model k (masked in) has a NaN in its gradient, nan_flags[m] = 1 when the sum (the whole x_in_grad, as DD tests
 * it) has one, else 0. When nan_flags[m] is set, x_in_grad is zeroed (DD then returns a zero gradient and skips
 * the clamp). Nothing synchronizes: the caller reads nan_flags and losses when it needs them (with CUDA, after
 * `stream`). */
DISCO_API int disco_guidance_grad(const float* x_in, const float* pred, const float* model_grads,
                                  const int32_t* mask, int64_t m, const float* extra_grad, int64_t n, int64_t c,
                                  int64_t h, int64_t w, float clip_scale, float tv_scale, float sat_scale,
                                  float* x_in_grad, float* losses, int32_t* nan_flags, int device, void* stream);

/* DD's gradient clamp: out = g * min(rms, clamp_max) / rms with rms = sqrt(mean(g^2)) over all `count`
 * elements. rms [1] (may be NULL) receives the rms. When rms == 0 out = g (DD would divide 0 by 0).
 * out may alias g. */
DISCO_API int disco_rms_clamp(const float* g, int64_t count, float clamp_max, float* out, float* rms,
                              int device, void* stream);
/* Its VJP: grad_g = d(sum grad_out * out) / dg. rms [1] (may be NULL) is the forward's rms of g (what
 * disco_rms_clamp wrote): given, the backward does not reduce g^2 again; NULL, it computes it. */
DISCO_API int disco_rms_clamp_backward(const float* g, const float* grad_out, int64_t count, float clamp_max,
                                       const float* rms, float* grad_g, int accumulate, int device, void* stream);

#ifdef __cplusplus
}
#endif

#endif
