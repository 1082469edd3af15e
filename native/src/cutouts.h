// Internal prototypes of the cutout kernel: the CPU twin and the CUDA implementation share one signature.
#ifndef DISCO_SRC_CUTOUTS_H
#define DISCO_SRC_CUTOUTS_H

#include <cstddef>
#include <cstdint>

// Where the [K, 3, 3, S, S] noise normals come from: a given buffer (on the kernel's device), or generated from
// the stream (key, start) (cutouts_noise.h: elements 2p and 2p + 1 are the Box-Muller pair of positions start + 2p,
// start + 2p + 1), or none.
struct CutNoise {
    const float* given = nullptr;
    bool keyed = false;
    uint64_t key = 0, start = 0;
    bool present() const { return given != nullptr || keyed; }
};

// state (may be NULL): [J, K, 3, S, S], J = the largest n_jitter of the cuts: slot j of cut c is the input of its
// jitter op j (slot 0: after noise 3). The forward writes it; the backward, given it, differentiates the jitter ops
// there instead of recomputing the forward.
int cutouts_forward_cpu(const float* image, int n, int h, int w, const float* cuts, int k, int s,
                        const CutNoise& noise, float* out, float* state, void* stream);
int cutouts_backward_cpu(const float* image, int n, int h, int w, const float* cuts, int k, int s,
                         const CutNoise& noise, const float* state, const float* grad_out, float* grad_image,
                         void* stream);
int cutouts_forward_cuda(const float* image, int n, int h, int w, const float* cuts, int k, int s,
                         const CutNoise& noise, float* out, float* state, void* stream);
int cutouts_backward_cuda(const float* image, int n, int h, int w, const float* cuts, int k, int s,
                          const CutNoise& noise, const float* state, const float* grad_out, float* grad_image,
                          void* stream);
int cutouts_noise_cuda(uint64_t key, uint64_t start, int64_t count, float* out, void* stream);

// The CPU noise: out[i] = normal first + i of the stream (key, start) (cutouts_noise.cpp).
void cutouts_noise_fill(uint64_t key, uint64_t start, uint64_t first, size_t count, float* out);

// 64-bit sizes in the kernels' range (cutouts.cpp).
int cutouts_check_sizes(const char* fn, int64_t n, int64_t h, int64_t w, int64_t k, int64_t s);

// Validates sizes and the cut table (host memory); returns 0 or disco_fail(DISCO_EINVAL, ...).
int cutouts_validate(const char* fn, const float* image, int n, int h, int w, const float* cuts, int k, int s,
                     bool noise, const void* out);

#endif
