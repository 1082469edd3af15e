// Internal prototypes of the cutout kernel: the CPU twin and the CUDA implementation share one signature.
#ifndef DISCO_SRC_CUTOUTS_H
#define DISCO_SRC_CUTOUTS_H

int cutouts_forward_cpu(const float* image, int n, int h, int w, const float* cuts, int k, int s,
                        const float* noise, float* out, void* stream);
int cutouts_backward_cpu(const float* image, int n, int h, int w, const float* cuts, int k, int s,
                         const float* noise, const float* grad_out, float* grad_image, void* stream);
int cutouts_forward_cuda(const float* image, int n, int h, int w, const float* cuts, int k, int s,
                         const float* noise, float* out, void* stream);
int cutouts_backward_cuda(const float* image, int n, int h, int w, const float* cuts, int k, int s,
                          const float* noise, const float* grad_out, float* grad_image, void* stream);

// Validates sizes and the cut table (host memory); returns 0 or disco_fail(DISCO_EINVAL, ...).
int cutouts_validate(const char* fn, const float* image, int n, int h, int w, const float* cuts, int k, int s,
                     const float* noise, const void* out);

#endif
