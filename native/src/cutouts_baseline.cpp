// The cutout stage's first CPU kernel, kept unchanged as the oracle of the optimised CPU twin (test_cutouts checks
// that both give bitwise-equal cutouts and gradients) and as the baseline of `disco bench kernels --baseline`:
// single-threaded, given noise only, the backward recomputing the forward. Not used by the engine.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "cutouts.h"
#include "cutouts_common.h"
#include "cutouts_cpu.h"
#include "disco_kernels.h"
#include "status.h"

using namespace disco_cut;

namespace {

void gray_fwd(float* x, size_t ss) {
    for (size_t i = 0; i < ss; i++) {
        float l = GRAY_R * x[i] + GRAY_G * x[ss + i] + GRAY_B * x[2 * ss + i];
        x[i] = x[ss + i] = x[2 * ss + i] = l;
    }
}

// torchvision's affine (forward and its transpose) per pixel, through a scratch buffer.
void affine_fwd(float* x, int s, const float* m, bool fill_mask, std::vector<float>& src) {
    size_t ss = (size_t) s * s;
    src.assign(x, x + 3 * ss);
    for (int i = 0; i < s; i++)
        for (int j = 0; j < s; j++) {
            int idx[4]; float wt[4];
            float mask = affine_taps(m, s, i, j, idx, wt);
            float mul = fill_mask ? mask : 1.0f;
            for (int c = 0; c < 3; c++) {
                const float* sc = src.data() + c * ss;
                float v = wt[0] * sc[idx[0]] + wt[1] * sc[idx[1]] + wt[2] * sc[idx[2]] + wt[3] * sc[idx[3]];
                x[c * ss + (size_t) i * s + j] = v * mul;
            }
        }
}

void affine_bwd(float* g, int s, const float* m, bool fill_mask, std::vector<float>& go) {
    size_t ss = (size_t) s * s;
    go.assign(g, g + 3 * ss);
    std::fill(g, g + 3 * ss, 0.0f);
    for (int i = 0; i < s; i++)
        for (int j = 0; j < s; j++) {
            int idx[4]; float wt[4];
            float mask = affine_taps(m, s, i, j, idx, wt);
            float mul = fill_mask ? mask : 1.0f;
            for (int c = 0; c < 3; c++) {
                float v = go[c * ss + (size_t) i * s + j] * mul;
                for (int q = 0; q < 4; q++) g[c * ss + idx[q]] += wt[q] * v;
            }
        }
}

struct CutPlan {
    Axis ay, ax;
    bool h_first;
    int cy0, cy1, cx0, cx1;  // rows / columns of the image the box touches
    float m[6];
};

CutPlan make_plan(const float* d, int h, int w, int s) {
    CutPlan p;
    int y0 = (int) d[DISCO_CUT_Y0], x0 = (int) d[DISCO_CUT_X0], bh = (int) d[DISCO_CUT_H], bw = (int) d[DISCO_CUT_W];
    p.ay = make_axis(bh, s, y0, h);
    p.ax = make_axis(bw, s, x0, w);
    p.h_first = p.ay.scale <= p.ax.scale;
    p.cy0 = std::max(0, y0); p.cy1 = std::min(h, y0 + bh);
    p.cx0 = std::max(0, x0); p.cx1 = std::min(w, x0 + bw);
    affine_matrix(d[DISCO_CUT_ANGLE], d[DISCO_CUT_TX], d[DISCO_CUT_TY], p.m);
    return p;
}

void resize_fwd(const float* img, int h, int w, int s, const CutPlan& p, float* out) {
    const size_t hw = (size_t) h * w;
    if (p.h_first) {
        int cw = p.cx1 - p.cx0;
        std::vector<float> tmp((size_t) 3 * s * cw);
        for (int c = 0; c < 3; c++)
            for (int o = 0; o < s; o++) {
                float* row = &tmp[((size_t) c * s + o) * cw];
                std::fill(row, row + cw, 0.0f);
                for (int t = 0; t < p.ay.taps; t++) {
                    float wt = p.ay.w[(size_t) o * p.ay.taps + t];
                    if (wt == 0.0f) continue;
                    const float* src = img + c * hw + (size_t) p.ay.idx[(size_t) o * p.ay.taps + t] * w + p.cx0;
                    for (int x = 0; x < cw; x++) row[x] += wt * src[x];
                }
            }
        for (int c = 0; c < 3; c++)
            for (int o = 0; o < s; o++) {
                const float* row = &tmp[((size_t) c * s + o) * cw];
                for (int q = 0; q < s; q++) {
                    float acc = 0.0f;
                    for (int t = 0; t < p.ax.taps; t++) {
                        float wt = p.ax.w[(size_t) q * p.ax.taps + t];
                        if (wt != 0.0f) acc += wt * row[p.ax.idx[(size_t) q * p.ax.taps + t] - p.cx0];
                    }
                    out[((size_t) c * s + o) * s + q] = acc;
                }
            }
    } else {
        int ch = p.cy1 - p.cy0;
        std::vector<float> tmp((size_t) 3 * ch * s);
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < ch; y++) {
                const float* src = img + c * hw + (size_t) (p.cy0 + y) * w;
                for (int q = 0; q < s; q++) {
                    float acc = 0.0f;
                    for (int t = 0; t < p.ax.taps; t++) {
                        float wt = p.ax.w[(size_t) q * p.ax.taps + t];
                        if (wt != 0.0f) acc += wt * src[p.ax.idx[(size_t) q * p.ax.taps + t]];
                    }
                    tmp[((size_t) c * ch + y) * s + q] = acc;
                }
            }
        for (int c = 0; c < 3; c++)
            for (int o = 0; o < s; o++) {
                float* row = out + ((size_t) c * s + o) * s;
                std::fill(row, row + s, 0.0f);
                for (int t = 0; t < p.ay.taps; t++) {
                    float wt = p.ay.w[(size_t) o * p.ay.taps + t];
                    if (wt == 0.0f) continue;
                    const float* src = &tmp[((size_t) c * ch + (p.ay.idx[(size_t) o * p.ay.taps + t] - p.cy0)) * s];
                    for (int q = 0; q < s; q++) row[q] += wt * src[q];
                }
            }
    }
}

// Transpose of resize_fwd, accumulated into gimg.
void resize_bwd(const float* g, int h, int w, int s, const CutPlan& p, float* gimg) {
    const size_t hw = (size_t) h * w;
    if (p.h_first) {
        int cw = p.cx1 - p.cx0;
        std::vector<float> tmp((size_t) 3 * s * cw, 0.0f);
        for (int c = 0; c < 3; c++)
            for (int o = 0; o < s; o++) {
                float* row = &tmp[((size_t) c * s + o) * cw];
                const float* gr = g + ((size_t) c * s + o) * s;
                for (int q = 0; q < s; q++)
                    for (int t = 0; t < p.ax.taps; t++) {
                        float wt = p.ax.w[(size_t) q * p.ax.taps + t];
                        if (wt != 0.0f) row[p.ax.idx[(size_t) q * p.ax.taps + t] - p.cx0] += wt * gr[q];
                    }
            }
        for (int c = 0; c < 3; c++)
            for (int o = 0; o < s; o++) {
                const float* row = &tmp[((size_t) c * s + o) * cw];
                for (int t = 0; t < p.ay.taps; t++) {
                    float wt = p.ay.w[(size_t) o * p.ay.taps + t];
                    if (wt == 0.0f) continue;
                    float* dst = gimg + c * hw + (size_t) p.ay.idx[(size_t) o * p.ay.taps + t] * w + p.cx0;
                    for (int x = 0; x < cw; x++) dst[x] += wt * row[x];
                }
            }
    } else {
        int ch = p.cy1 - p.cy0;
        std::vector<float> tmp((size_t) 3 * ch * s, 0.0f);
        for (int c = 0; c < 3; c++)
            for (int o = 0; o < s; o++) {
                const float* gr = g + ((size_t) c * s + o) * s;
                for (int t = 0; t < p.ay.taps; t++) {
                    float wt = p.ay.w[(size_t) o * p.ay.taps + t];
                    if (wt == 0.0f) continue;
                    float* dst = &tmp[((size_t) c * ch + (p.ay.idx[(size_t) o * p.ay.taps + t] - p.cy0)) * s];
                    for (int q = 0; q < s; q++) dst[q] += wt * gr[q];
                }
            }
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < ch; y++) {
                float* dst = gimg + c * hw + (size_t) (p.cy0 + y) * w;
                const float* src = &tmp[((size_t) c * ch + y) * s];
                for (int q = 0; q < s; q++)
                    for (int t = 0; t < p.ax.taps; t++) {
                        float wt = p.ax.w[(size_t) q * p.ax.taps + t];
                        if (wt != 0.0f) dst[p.ax.idx[(size_t) q * p.ax.taps + t]] += wt * src[q];
                    }
            }
    }
}




void jitter_fwd(int op, float f, float* x, size_t ss) {
    if (jitter_fwd_bcs(op, f, x, ss)) return;
    for (size_t i = 0; i < ss; i++) {  // hue, a pixel at a time
        float in[3] = {x[i], x[ss + i], x[2 * ss + i]}, out[3];
        hue_forward(in, f, out);
        x[i] = out[0]; x[ss + i] = out[1]; x[2 * ss + i] = out[2];
    }
}

// g <- VJP of jitter op at input x.
void jitter_bwd(int op, float f, const float* x, float* g, size_t ss) {
    if (op == 0) {
        for (size_t i = 0; i < 3 * ss; i++) g[i] *= f * clamp_pass(f * x[i]);
    } else if (op == 1) {
        float mean = gray_mean(x, ss);
        double gs = 0.0;
        for (size_t i = 0; i < 3 * ss; i++) {
            g[i] *= clamp_pass(f * x[i] + (1.0f - f) * mean);
            gs += g[i];
        }
        contrast_bwd_blend(g, ss, f, gs);
    } else if (op == 2) {
        for (size_t i = 0; i < ss; i++) {
            float l = GRAY_R * x[i] + GRAY_G * x[ss + i] + GRAY_B * x[2 * ss + i];
            float gc[3], t = 0.0f;
            for (int c = 0; c < 3; c++) {
                gc[c] = g[c * ss + i] * clamp_pass(f * x[c * ss + i] + (1.0f - f) * l);
                t += gc[c];
            }
            t *= (1.0f - f);
            g[i] = f * gc[0] + GRAY_R * t;
            g[ss + i] = f * gc[1] + GRAY_G * t;
            g[2 * ss + i] = f * gc[2] + GRAY_B * t;
        }
    } else {
        for (size_t i = 0; i < ss; i++) {
            float in[3] = {x[i], x[ss + i], x[2 * ss + i]}, go[3] = {g[i], g[ss + i], g[2 * ss + i]}, gi[3];
            hue_backward(in, f, go, gi);
            g[i] = gi[0]; g[ss + i] = gi[1]; g[2 * ss + i] = gi[2];
        }
    }
}



// Forward of one cut into out[3*S*S] from its resized box `resized` (3*S*S); when saved != NULL, the input of
// each jitter op is stored there.
void cut_forward(const float* resized, const float* d, int s, const float* noise_k, float* out, float* saved) {
    size_t ss = (size_t) s * s, n3 = 3 * ss;
    float m[6];
    affine_matrix(d[DISCO_CUT_ANGLE], d[DISCO_CUT_TX], d[DISCO_CUT_TY], m);
    std::memcpy(out, resized, n3 * sizeof(float));
    if (d[DISCO_CUT_GRAY_PRE] != 0.0f) gray_fwd(out, ss);
    if (d[DISCO_CUT_HFLIP] != 0.0f) hflip(out, s);
    if (noise_k) add_noise(out, noise_k, d[DISCO_CUT_NOISE1], n3);
    if (d[DISCO_CUT_AFFINE] != 0.0f) {
        std::vector<float> affine_tmp;
        affine_fwd(out, s, m, d[DISCO_CUT_FILL_MASK] != 0.0f, affine_tmp);
    }
    if (noise_k) add_noise(out, noise_k + n3, d[DISCO_CUT_NOISE2], n3);
    if (d[DISCO_CUT_GRAY_AUG] != 0.0f) gray_fwd(out, ss);
    if (noise_k) add_noise(out, noise_k + 2 * n3, d[DISCO_CUT_NOISE3], n3);
    int nj = (int) d[DISCO_CUT_N_JITTER];
    for (int j = 0; j < nj; j++) {
        int op = (int) d[DISCO_CUT_JITTER_OP0 + j];
        if (saved) std::memcpy(saved + j * n3, out, n3 * sizeof(float));
        jitter_fwd(op, jitter_factor(d, op), out, ss);
    }
}


}  // namespace

static int baseline_forward(const float* image, int n, int h, int w, const float* cuts, int k, int s,
                        const float* noise, float* out) {
    (void) n;
    size_t n3 = (size_t) 3 * s * s;
    std::vector<int> box_of;
    std::vector<int> firsts = distinct_boxes(cuts, k, box_of);
    std::vector<float> resized(firsts.size() * n3);
    for (size_t b = 0; b < firsts.size(); b++) {
        const float* d = cuts + (size_t) firsts[b] * DISCO_CUT_FIELDS;
        CutPlan p = make_plan(d, h, w, s);
        resize_fwd(image + (size_t) d[DISCO_CUT_IMAGE] * 3 * h * w, h, w, s, p, resized.data() + b * n3);
    }
    for (int c = 0; c < k; c++)
        cut_forward(resized.data() + box_of[c] * n3, cuts + (size_t) c * DISCO_CUT_FIELDS, s,
                    noise ? noise + c * 3 * n3 : nullptr, out + c * n3, nullptr);
    return DISCO_OK;
}

static int baseline_backward(const float* image, int n, int h, int w, const float* cuts, int k, int s,
                         const float* noise, const float* grad_out, float* grad_image) {
    size_t ss = (size_t) s * s, n3 = 3 * ss;
    std::fill(grad_image, grad_image + (size_t) n * 3 * h * w, 0.0f);
    std::vector<int> box_of;
    std::vector<int> firsts = distinct_boxes(cuts, k, box_of);
    std::vector<float> resized, gres(firsts.size() * n3, 0.0f);
    bool any_jitter = false;
    for (int c = 0; c < k; c++) any_jitter |= cuts[(size_t) c * DISCO_CUT_FIELDS + DISCO_CUT_N_JITTER] != 0.0f;
    if (any_jitter) {  // the jitter ops are differentiated at the forward point: recompute the resizes
        resized.resize(firsts.size() * n3);
        for (size_t b = 0; b < firsts.size(); b++) {
            const float* d = cuts + (size_t) firsts[b] * DISCO_CUT_FIELDS;
            CutPlan p = make_plan(d, h, w, s);
            resize_fwd(image + (size_t) d[DISCO_CUT_IMAGE] * 3 * h * w, h, w, s, p, resized.data() + b * n3);
        }
    }
    std::vector<float> fwd(n3), saved(4 * n3), g(n3), affine_tmp;
    for (int c = 0; c < k; c++) {
        const float* d = cuts + (size_t) c * DISCO_CUT_FIELDS;
        int nj = (int) d[DISCO_CUT_N_JITTER];
        if (nj > 0)
            cut_forward(resized.data() + box_of[c] * n3, d, s, noise ? noise + c * 3 * n3 : nullptr, fwd.data(),
                        saved.data());
        std::memcpy(g.data(), grad_out + c * n3, n3 * sizeof(float));
        for (int j = nj - 1; j >= 0; j--) {
            int op = (int) d[DISCO_CUT_JITTER_OP0 + j];
            jitter_bwd(op, jitter_factor(d, op), saved.data() + j * n3, g.data(), ss);
        }
        float m[6];
        affine_matrix(d[DISCO_CUT_ANGLE], d[DISCO_CUT_TX], d[DISCO_CUT_TY], m);
        if (d[DISCO_CUT_GRAY_AUG] != 0.0f) gray_bwd(g.data(), ss);
        if (d[DISCO_CUT_AFFINE] != 0.0f) affine_bwd(g.data(), s, m, d[DISCO_CUT_FILL_MASK] != 0.0f, affine_tmp);
        if (d[DISCO_CUT_HFLIP] != 0.0f) hflip(g.data(), s);
        if (d[DISCO_CUT_GRAY_PRE] != 0.0f) gray_bwd(g.data(), ss);
        float* acc = gres.data() + box_of[c] * n3;
        for (size_t i = 0; i < n3; i++) acc[i] += g[i];
    }
    for (size_t b = 0; b < firsts.size(); b++) {
        const float* d = cuts + (size_t) firsts[b] * DISCO_CUT_FIELDS;
        CutPlan p = make_plan(d, h, w, s);
        resize_bwd(gres.data() + b * n3, h, w, s, p, grad_image + (size_t) d[DISCO_CUT_IMAGE] * 3 * h * w);
    }
    return DISCO_OK;
}


extern "C" DISCO_API int disco_cutouts_baseline_forward(const float* image, int64_t n, int64_t h, int64_t w,
                                                        const float* cuts, int64_t k, int64_t s, const float* noise,
                                                        float* out) {
    const char* fn = "disco_cutouts_baseline_forward";
    DISCO_TRY(cutouts_check_sizes(fn, n, h, w, k, s));
    DISCO_TRY(cutouts_validate(fn, image, (int) n, (int) h, (int) w, cuts, (int) k, (int) s, noise != nullptr, out));
    return baseline_forward(image, (int) n, (int) h, (int) w, cuts, (int) k, (int) s, noise, out);
}

extern "C" DISCO_API int disco_cutouts_baseline_backward(const float* image, int64_t n, int64_t h, int64_t w,
                                                         const float* cuts, int64_t k, int64_t s, const float* noise,
                                                         const float* grad_out, float* grad_image) {
    const char* fn = "disco_cutouts_baseline_backward";
    DISCO_TRY(cutouts_check_sizes(fn, n, h, w, k, s));
    DISCO_TRY(cutouts_validate(fn, image, (int) n, (int) h, (int) w, cuts, (int) k, (int) s, noise != nullptr,
                               grad_image));
    DISCO_TRY(disco_check_ptr(fn, "grad_out", grad_out));
    return baseline_backward(image, (int) n, (int) h, (int) w, cuts, (int) k, (int) s, noise, grad_out, grad_image);
}
