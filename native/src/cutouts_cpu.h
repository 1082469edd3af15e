// What the two CPU cutout kernels share (cutouts.cpp, the engine's; cutouts_baseline.cpp, the first one kept as
// its oracle and benchmark baseline): the distinct boxes of a cut table, the grayscale transpose, hflip, noise
// addition, the grayscale mean of contrast, ColorJitter's brightness/contrast/saturation and the end of contrast's VJP.
#ifndef DISCO_CUTOUTS_CPU_H
#define DISCO_CUTOUTS_CPU_H

#include <algorithm>
#include <vector>

#include "cutouts_common.h"
#include "disco_kernels.h"

namespace disco_cut {

// Cuts that share (image, box) share one resize. box_of[c] = index of the distinct box of cut c; returns the
// first cut of each distinct box.
inline std::vector<int> distinct_boxes(const float* cuts, int k, std::vector<int>& box_of) {
    std::vector<int> firsts;
    box_of.assign(k, -1);
    for (int c = 0; c < k; c++) {
        const float* d = cuts + (size_t) c * DISCO_CUT_FIELDS;
        for (size_t b = 0; b < firsts.size() && box_of[c] < 0; b++) {
            const float* e = cuts + (size_t) firsts[b] * DISCO_CUT_FIELDS;
            if (std::equal(d, d + DISCO_CUT_W + 1, e)) box_of[c] = (int) b;
        }
        if (box_of[c] < 0) {
            box_of[c] = (int) firsts.size();
            firsts.push_back(c);
        }
    }
    return firsts;
}

// The mean of the grayscale of a [3, S, S] cut (contrast's blend target), summed in double.
inline float gray_mean(const float* x, size_t ss) {
    double sum = 0.0;
    for (size_t i = 0; i < ss; i++) sum += (double) (GRAY_R * x[i] + GRAY_G * x[ss + i] + GRAY_B * x[2 * ss + i]);
    return (float) (sum / (double) ss);
}

// The end of contrast's VJP: g (already masked by the clamp) blended as the forward blends with the mean;
// gs = the sum of the masked gradient, in double.
inline void contrast_bwd_blend(float* g, size_t ss, float f, double gs) {
    float gm = (float) ((1.0f - f) * gs / (double) ss);
    for (size_t i = 0; i < ss; i++) {
        g[i] = f * g[i] + GRAY_R * gm;
        g[ss + i] = f * g[ss + i] + GRAY_G * gm;
        g[2 * ss + i] = f * g[2 * ss + i] + GRAY_B * gm;
    }
}

inline void gray_bwd(float* g, size_t ss) {
    for (size_t i = 0; i < ss; i++) {
        float t = g[i] + g[ss + i] + g[2 * ss + i];
        g[i] = GRAY_R * t; g[ss + i] = GRAY_G * t; g[2 * ss + i] = GRAY_B * t;
    }
}

inline void hflip(float* x, int s) {
    for (int r = 0; r < 3 * s; r++) std::reverse(x + (size_t) r * s, x + (size_t) (r + 1) * s);
}

inline float jitter_factor(const float* d, int op) {
    return d[op == 0 ? DISCO_CUT_BRIGHTNESS : op == 1 ? DISCO_CUT_CONTRAST : op == 2 ? DISCO_CUT_SATURATION : DISCO_CUT_HUE];
}

inline void add_noise(float* x, const float* nz, float scale, size_t n) {
    if (scale == 0.0f) return;
    for (size_t i = 0; i < n; i++) x[i] += scale * nz[i];
}

// ColorJitter's brightness (op 0), contrast (1) and saturation (2) in place; false for the hue (3), which each
// kernel does its own way.
inline bool jitter_fwd_bcs(int op, float f, float* x, size_t ss) {
    if (op == 0) {
        for (size_t i = 0; i < 3 * ss; i++) x[i] = clamp01(f * x[i]);
    } else if (op == 1) {
        float mean = gray_mean(x, ss);
        for (size_t i = 0; i < 3 * ss; i++) x[i] = clamp01(f * x[i] + (1.0f - f) * mean);
    } else if (op == 2) {
        for (size_t i = 0; i < ss; i++) {
            float l = GRAY_R * x[i] + GRAY_G * x[ss + i] + GRAY_B * x[2 * ss + i];
            for (int c = 0; c < 3; c++) x[c * ss + i] = clamp01(f * x[c * ss + i] + (1.0f - f) * l);
        }
    } else {
        return false;
    }
    return true;
}

}  // namespace disco_cut

#endif
