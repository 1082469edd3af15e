/* Cutout + augmentation stage (Disco Diffusion's MakeCutoutsDango + its T.Compose augmentations).
 *
 * One cut = one row of DISCO_CUT_FIELDS floats (see the DISCO_CUT_* offsets). Per cut, in this order:
 *   resize   the box [y0, y0+h) x [x0, x0+w) of image n (pixels outside the image read 0: that is how DD's
 *            F.pad of the short side is expressed) to S x S with ResizeRight's defaults: antialiased cubic,
 *            support widened by 1/scale when downscaling, weights normalised, out-of-range taps read 0
 *            (pad_mode 'constant'), dims resized in order of increasing scale factor, a dim with scale 1 skipped;
 *   gray_pre torchvision 3-channel grayscale (0.2989 r + 0.587 g + 0.114 b, repeated);
 *   hflip;   noise1 (x += scale1 * noise[k][0]);
 *   affine   torchvision affine: rotation by angle degrees about the image centre, translation (tx, ty) pixels,
 *            bilinear grid_sample (align_corners=False, zeros), and with fill_mask != 0 the fill=0 mask product
 *            torchvision applies when a fill is given (RandomAffine's default);
 *   noise2;  gray_aug (grayscale again);  noise3;
 *   jitter   n_jitter ops of jitter_op[0..3] (0 brightness, 1 contrast, 2 saturation, 3 hue) with the factors
 *            given: torchvision _blend with clamp to [0, 1]; contrast blends with the mean of the grayscale of the
 *            whole cut; hue goes through rgb->hsv->rgb.
 * noise is [K, 3, 3, S, S] standard normals (stage, channel, y, x), element e = ((cut * 3 + stage) * 3 + channel)
 * * S * S + y * S + x. Two ways to give it:
 *   given    disco_cutouts_forward/backward: a buffer on the kernel's device (NULL when every noise scale is 0);
 *   keyed    disco_cutouts_forward_keyed/backward_keyed: generated inside the kernels, element e being the
 *            Box-Muller normal of positions start + 2p and start + 2p + 1 of the counter-based stream `key`, p = e / 2
 *            (disco.util.RandomStream: raw value at position i = splitmix64's finaliser of key + (i + 1) *
 *            0x9E3779B97F4A7C15; u1 = 1 - (a >> 11) 2^-53, u2 = (b >> 11) 2^-53, sqrt(-2 log u1) cos(2 pi u2) for
 *            even e, the same with sin for odd e, in double, rounded to float): the values
 *            disco.kernels.CutDraws.parallelGaussians draws from the same
 *            stream position, with no host array and no upload. The CPU twin and CUDA give bitwise-equal noise.
 * image [N, 3, H, W], out [K, 3, S, S], float32 contiguous. device 0 = CPU, 1 = CUDA (pointers on that device;
 * the cut table stays on the host: on CUDA it is staged in pinned memory and copied on `stream`; every kernel is
 * launched on `stream` and the call returns without waiting for it, except under DISCO_CUDA_SYNC=1). The CPU
 * twin runs on DISCO_KERNEL_THREADS threads (default: the hardware's), with the same result for any count.
 * Sizes are 64-bit
 * and each must be 1 to INT32_MAX, with h * w <= INT32_MAX / 3 and s * s <= INT32_MAX / 9 (the kernels index
 * within a plane or a cut with int). Returns 0 or an error code, disco_last_error() says why.
 */
#ifndef DISCO_CUTOUTS_H
#define DISCO_CUTOUTS_H

#include "abi.h"

#ifdef __cplusplus
extern "C" {
#endif

enum {
    DISCO_CUT_IMAGE = 0,
    DISCO_CUT_Y0 = 1,
    DISCO_CUT_X0 = 2,
    DISCO_CUT_H = 3,
    DISCO_CUT_W = 4,
    DISCO_CUT_GRAY_PRE = 5,
    DISCO_CUT_HFLIP = 6,
    DISCO_CUT_NOISE1 = 7,
    DISCO_CUT_AFFINE = 8,
    DISCO_CUT_ANGLE = 9,
    DISCO_CUT_TX = 10,
    DISCO_CUT_TY = 11,
    DISCO_CUT_FILL_MASK = 12,
    DISCO_CUT_NOISE2 = 13,
    DISCO_CUT_GRAY_AUG = 14,
    DISCO_CUT_NOISE3 = 15,
    DISCO_CUT_N_JITTER = 16,
    DISCO_CUT_JITTER_OP0 = 17, /* ops at 17..20 */
    DISCO_CUT_BRIGHTNESS = 21,
    DISCO_CUT_CONTRAST = 22,
    DISCO_CUT_SATURATION = 23,
    DISCO_CUT_HUE = 24,
    DISCO_CUT_FIELDS = 25
};

/* out[K,3,S,S] = cutouts of image[N,3,H,W] described by cuts[K * DISCO_CUT_FIELDS] (host memory). */
DISCO_API int disco_cutouts_forward(const float* image, int64_t n, int64_t h, int64_t w,
                          const float* cuts, int64_t k, int64_t s,
                          const float* noise, float* out,
                          int device, void* stream);

/* grad_image[N,3,H,W] = (d out / d image)^T grad_out, evaluated at image (the forward is recomputed).
 * grad_image is overwritten (not accumulated). */
DISCO_API int disco_cutouts_backward(const float* image, int64_t n, int64_t h, int64_t w,
                           const float* cuts, int64_t k, int64_t s,
                           const float* noise, const float* grad_out,
                           float* grad_image,
                           int device, void* stream);

/* The keyed forms. state (may be NULL): [J, K, 3, S, S] on the kernel's device, J = the largest n_jitter of the
 * cuts (with J = 0 the state is not used): slot j of cut c holds the input of its
 * jitter op j, j < its n_jitter (slot 0: what the forward adds noise 3 to); the forward writes it, and the
 * backward, given it, differentiates each jitter op at its input instead of recomputing the forward (no resize,
 * no noise, no jitter op): pass what the forward wrote for the same image, cuts and key, or NULL to recompute. */

DISCO_API int disco_cutouts_forward_keyed(const float* image, int64_t n, int64_t h, int64_t w,
                                const float* cuts, int64_t k, int64_t s,
                                uint64_t noise_key, int64_t noise_start, float* out, float* state,
                                int device, void* stream);

DISCO_API int disco_cutouts_backward_keyed(const float* image, int64_t n, int64_t h, int64_t w,
                                 const float* cuts, int64_t k, int64_t s,
                                 uint64_t noise_key, int64_t noise_start, const float* state,
                                 const float* grad_out, float* grad_image,
                                 int device, void* stream);

/* out[i] = the keyed noise element `i` of the stream (key, start), i < count (what the keyed kernels add). */
DISCO_API int disco_cutouts_noise(uint64_t noise_key, int64_t noise_start, int64_t count, float* out,
                        int device, void* stream);

/* The first CPU kernel (single-threaded, given noise, the backward recomputing the forward), kept as the oracle
 * of the CPU twin and the baseline of `disco bench kernels --baseline`; CPU only. */
DISCO_API int disco_cutouts_baseline_forward(const float* image, int64_t n, int64_t h, int64_t w,
                                   const float* cuts, int64_t k, int64_t s, const float* noise, float* out);
DISCO_API int disco_cutouts_baseline_backward(const float* image, int64_t n, int64_t h, int64_t w,
                                    const float* cuts, int64_t k, int64_t s, const float* noise,
                                    const float* grad_out, float* grad_image);

#ifdef __cplusplus
}
#endif

#endif
