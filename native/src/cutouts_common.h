// Shared by the CPU twin (cutouts.cpp) and the CUDA implementation (cutouts.cu): the per-cut plan computed on the
// host (resize tap tables, affine matrices) and the per-pixel colour maths as host/device inline functions, so
// both implementations evaluate exactly the same formulas.
#ifndef DISCO_CUTOUTS_COMMON_H
#define DISCO_CUTOUTS_COMMON_H

#include <cmath>
#include <vector>

#include "disco/cutouts.h"

#ifdef __CUDACC__
#define DISCO_HD __host__ __device__ __forceinline__
#else
#define DISCO_HD inline
#endif

namespace disco_cut {

constexpr float GRAY_R = 0.2989f, GRAY_G = 0.587f, GRAY_B = 0.114f;

// floorf without a libm call on CPUs below SSE4.1 (x86-64's baseline has no rounding instruction, and the call
// dominated the hue op): exact for every float (|x| >= 2^23 and NaN are returned as they are, as floorf does).
DISCO_HD float ffloor(float x) {
#ifdef __CUDA_ARCH__
    return floorf(x);
#else
    if (!(x > -8388608.0f && x < 8388608.0f)) return x;
    const float t = (float) (int) x;
    return t > x ? t - 1.0f : t;
#endif
}

// fmodf(y, 1) for y >= 0, exactly (y - 1 is exact for y in [1, 2)); the libm call only outside [0, 2).
DISCO_HD float fmod1(float y) {
    if (y >= 0.0f && y < 2.0f) return y >= 1.0f ? y - 1.0f : y;
    return fmodf(y, 1.0f);
}

// One resized axis of one cut: output o reads taps raw index idx[o*T + t] with weight w[o*T + t]. Taps that fall
// outside the box or the image carry weight 0 (their index is clamped to 0) but still count in the normalisation,
// as ResizeRight's zero padding does.
struct Axis {
    int taps = 1;
    bool identity = false;  // scale 1: ResizeRight skips the dim
    double scale = 1.0;
    std::vector<int> idx;
    std::vector<float> w;
};

// ResizeRight's cubic, in float32 op by op as torch evaluates interp_methods.cubic on a float32 tensor:
// ((1.5*|x|^3 - 2.5*|x|^2) + 1) * (|x| <= 1) + ((((-0.5*|x|^3 + 2.5*|x|^2) - 4*|x|) + 2) * (1 < |x| <= 2),
// |x|^3 = (|x|*|x|)*|x| (torch's pow by 3). Every product and sum is rounded to float (no fused multiply-add: the
// library is built with -ffp-contract=off).
inline float cubic_f32(float x) {
    const float a = std::fabs(x), a2 = a * a, a3 = a2 * a;
    const float p1 = (1.5f * a3 - 2.5f * a2) + 1.0f;
    const float p2 = ((-0.5f * a3 + 2.5f * a2) - 4.0f * a) + 2.0f;
    return p1 * (a <= 1.0f ? 1.0f : 0.0f) + p2 * ((1.0f < a && a <= 2.0f) ? 1.0f : 0.0f);
}

// ResizeRight (assafshocher/ResizeRight, defaults: cubic, antialiasing, pad_mode 'constant', by_convs False) for
// one dim: box of `in_sz` pixels starting at raw coordinate `origin` of an image `limit` pixels long, to `out_sz`.
// The grid, field of view and weights follow ResizeRight's torch code in float32, step by step (its python scalars
// are doubles, cast to float where they meet the float32 grid): computed in double instead, the weights of an
// upscale (a 96-pixel side to 224) differ from DD's by up to 1.8e-5, enough to move CLIP gradients by 1e-3.
inline Axis make_axis(int in_sz, int out_sz, int origin, int limit) {
    Axis a;
    const double eps = 1.1920928955078125e-07;  // torch.finfo(torch.float32).eps, as ResizeRight uses
    double scale = (double) out_sz / (double) in_sz;
    a.scale = scale;
    a.identity = (out_sz == in_sz);
    if (a.identity) {
        a.taps = 1;
        a.idx.resize(out_sz);
        a.w.resize(out_sz);
        for (int o = 0; o < out_sz; o++) {
            int raw = origin + o;
            bool ok = raw >= 0 && raw < limit;
            a.idx[o] = ok ? raw : 0;
            a.w[o] = ok ? 1.0f : 0.0f;
        }
        return a;
    }
    const bool aa = scale < 1.0;
    const double support = aa ? 4.0 / scale : 4.0;
    const int taps = (int) std::ceil(support - eps);
    a.taps = taps;
    a.idx.resize((size_t) out_sz * taps);
    a.w.resize((size_t) out_sz * taps);
    const float sf = (float) scale;
    const float c_in = (float) ((in_sz - 1) / 2.0), c_out = (float) ((out_sz - 1) / (2.0 * scale));
    const float half_support = (float) (support / 2.0), feps = (float) eps;
    // get_projected_grid: arange(out) / sf + (in - 1) / 2 - (out - 1) / (2 sf); get_field_of_view: ceil(grid - support/2 - eps)
    std::vector<float> grid(out_sz);
    std::vector<long> left(out_sz);
    for (int o = 0; o < out_sz; o++) {
        grid[o] = ((float) o / sf + c_in) - c_out;
        left[o] = (long) std::ceil((grid[o] - half_support) - feps);
    }
    // calc_pad_sz shifts the grid and the field of view by the left overhang (in float32 for the grid)
    const long pad0 = -left[0];
    const float fpad0 = (float) pad0;
    std::vector<float> tmp(taps);
    for (int o = 0; o < out_sz; o++) {
        const float g = grid[o] + fpad0;
        float sum = 0.0f;
        for (int t = 0; t < taps; t++) {
            const float d = g - (float) (left[o] + pad0 + t);
            const float v = aa ? sf * cubic_f32(sf * d) : cubic_f32(d);
            tmp[t] = v;
            sum = t == 0 ? v : sum + v;
        }
        if (sum == 0.0f) sum = 1.0f;
        for (int t = 0; t < taps; t++) {
            long j = left[o] + t;            // box coordinate
            long raw = origin + j;           // image coordinate
            bool ok = j >= 0 && j < in_sz && raw >= 0 && raw < limit;
            a.idx[(size_t) o * taps + t] = ok ? (int) raw : 0;
            a.w[(size_t) o * taps + t] = ok ? tmp[t] / sum : 0.0f;
        }
    }
    return a;
}

// torchvision's inverse affine matrix (shear 0, scale 1, centre of image) for angle in degrees, translate (tx, ty).
inline void affine_matrix(double angle, double tx, double ty, float m[6]) {
    const double pi = 3.14159265358979323846;
    double rot = angle * pi / 180.0;
    double a = std::cos(rot), b = -std::sin(rot), c = std::sin(rot), d = std::cos(rot);
    double mm[6] = {d, -b, 0.0, -c, a, 0.0};
    mm[2] += mm[0] * (-tx) + mm[1] * (-ty);
    mm[5] += mm[3] * (-tx) + mm[4] * (-ty);
    for (int i = 0; i < 6; i++) m[i] = (float) mm[i];
}

// Bilinear taps of output pixel (i, j) of an S x S affine (grid_sample, align_corners=False, zero padding).
// Writes the 4 flat source indices (clamped when out of range) and weights (0 when out of range); returns the
// mask value (sum of in-range weights) torchvision multiplies by when a fill is given.
DISCO_HD float affine_taps(const float* m, int s, int i, int j, int* idx, float* wt) {
    float bx = -s * 0.5f + 0.5f + (float) j;
    float by = -s * 0.5f + 0.5f + (float) i;
    float gx = (m[0] * bx + m[1] * by + m[2]) / (0.5f * s);
    float gy = (m[3] * bx + m[4] * by + m[5]) / (0.5f * s);
    float ix = ((gx + 1.0f) * s - 1.0f) / 2.0f;
    float iy = ((gy + 1.0f) * s - 1.0f) / 2.0f;
    float fx = ffloor(ix), fy = ffloor(iy);
    int x0 = (int) fx, y0 = (int) fy;
    float ax = ix - fx, ay = iy - fy;
    float ws[4] = {(1 - ax) * (1 - ay), ax * (1 - ay), (1 - ax) * ay, ax * ay};
    int xs[4] = {x0, x0 + 1, x0, x0 + 1};
    int ys[4] = {y0, y0, y0 + 1, y0 + 1};
    float mask = 0.0f;
    for (int q = 0; q < 4; q++) {
        bool ok = xs[q] >= 0 && xs[q] < s && ys[q] >= 0 && ys[q] < s;
        idx[q] = ok ? ys[q] * s + xs[q] : 0;
        wt[q] = ok ? ws[q] : 0.0f;
        mask += wt[q];
    }
    return mask;
}

// ---- the transposes as gathers (the CUDA backward: one writer per element, no atomics, a fixed order) ----------

// The transpose of a resized axis: source index base + r feeds the outputs out[row[r]] .. out[row[r + 1] - 1]
// (increasing) with weights w[...]; only taps of nonzero weight are listed, as the forward skips the others.
struct AxisT {
    int base = 0, len = 0;
    std::vector<int> row{0}, out;
    std::vector<float> w;
};

inline AxisT transpose_axis(const Axis& a, int out_sz) {
    AxisT t;
    int lo = 0, hi = -1;
    bool any = false;
    for (size_t q = 0; q < (size_t) out_sz * a.taps; q++) {
        if (a.w[q] == 0.0f) continue;
        if (!any || a.idx[q] < lo) lo = a.idx[q];
        if (!any || a.idx[q] > hi) hi = a.idx[q];
        any = true;
    }
    t.base = lo;
    t.len = any ? hi - lo + 1 : 0;
    t.row.assign((size_t) t.len + 1, 0);
    for (size_t q = 0; q < (size_t) out_sz * a.taps; q++)
        if (a.w[q] != 0.0f) t.row[(size_t) (a.idx[q] - lo) + 1]++;
    for (int r = 0; r < t.len; r++) t.row[(size_t) r + 1] += t.row[(size_t) r];
    t.out.resize((size_t) t.row[(size_t) t.len]);
    t.w.resize(t.out.size());
    std::vector<int> fill(t.row.begin(), t.row.end() - 1);
    for (int o = 0; o < out_sz; o++)
        for (int k = 0; k < a.taps; k++) {
            const size_t q = (size_t) o * a.taps + k;
            if (a.w[q] == 0.0f) continue;
            const int at = fill[(size_t) (a.idx[q] - lo)]++;
            t.out[(size_t) at] = o;
            t.w[(size_t) at] = a.w[q];
        }
    return t;
}

// sum over the entries of transposed row r of w * src[out * stride]
DISCO_HD float gather_taps(const int* row, const int* out, const float* w, int r, const float* src, long long stride) {
    float acc = 0.0f;
    for (int t = row[r]; t < row[r + 1]; t++) acc += w[t] * src[(long long) out[t] * stride];
    return acc;
}

// The inverse of the affine's linear part (m[0 1; 3 4]) and the half-width of the window of output pixels around
// a source pixel's preimage that holds every output whose bilinear taps reach it: the taps of output (i, j) read
// the source within 1 pixel of L (j, i) + t (centred), so those outputs lie within |L^-1|_inf of the preimage; + 1/2
// for its rounding to a pixel, + 1 to spare.
inline int affine_inverse(const float m[6], float minv[4]) {
    const double a = m[0], b = m[1], c = m[3], d = m[4], det = a * d - b * c;
    const double ia = d / det, ib = -b / det, ic = -c / det, id = a / det;
    minv[0] = (float) ia; minv[1] = (float) ib; minv[2] = (float) ic; minv[3] = (float) id;
    const double norm = std::fmax(std::fabs(ia) + std::fabs(ib), std::fabs(ic) + std::fabs(id));
    return (int) std::ceil(norm + 0.5) + 1;
}

// The affine transpose at source pixel a of an S x S plane: acc[ch] = sum over the output pixels e (row-major, in
// the window) whose taps include a of (tap weight * mask multiplier) * grad(e, ch); grad(e, v) fills v[3].
template <class Grad>
DISCO_HD void affine_transpose_at(const float* m, const float* minv, int r, bool fill_mask, int s, int a,
                                  const Grad& grad, float acc[3]) {
    const float half = 0.5f * (float) (s - 1);
    const float cx = (float) (a % s) - half - m[2], cy = (float) (a / s) - half - m[5];
    const float bj = minv[0] * cx + minv[1] * cy + half, bi = minv[2] * cx + minv[3] * cy + half;
    const int j0 = (int) ffloor(bj + 0.5f), i0 = (int) ffloor(bi + 0.5f);
    acc[0] = acc[1] = acc[2] = 0.0f;
    const int ilo = i0 - r < 0 ? 0 : i0 - r, ihi = i0 + r > s - 1 ? s - 1 : i0 + r;
    const int jlo = j0 - r < 0 ? 0 : j0 - r, jhi = j0 + r > s - 1 ? s - 1 : j0 + r;
    for (int i = ilo; i <= ihi; i++)
        for (int j = jlo; j <= jhi; j++) {
            int idx[4];
            float wt[4];
            const float mask = affine_taps(m, s, i, j, idx, wt);
            float wsum = 0.0f;
            bool hit = false;
            for (int q = 0; q < 4; q++)
                if (wt[q] != 0.0f && idx[q] == a) {
                    wsum += wt[q];
                    hit = true;
                }
            if (!hit) continue;
            const float mul = fill_mask ? mask : 1.0f;
            float v[3];
            grad(i * s + j, v);
            for (int ch = 0; ch < 3; ch++) acc[ch] += wsum * v[ch] * mul;
        }
}

DISCO_HD float clamp01(float x) { return x < 0.0f ? 0.0f : (x > 1.0f ? 1.0f : x); }
// torch.clamp's backward: the gradient passes where min <= x <= max.
DISCO_HD float clamp_pass(float x) { return (x >= 0.0f && x <= 1.0f) ? 1.0f : 0.0f; }

// _rgb2hsv's raw hue h (in sextants, before / 6) shifted by f as adjust_hue does — fmod(h / 6 + 1, 1), then
// (h + f) % 1 Python-style — and split for _hsv2rgb: returns the sector i in 0..5, sets fr to the fraction in it.
DISCO_HD int hue_sector(float h, float f, float& fr) {
    h = fmod1(h / 6.0f + 1.0f);
    float h2 = h + f;
    h2 = h2 - ffloor(h2);  // Python-style % 1.0
    if (h2 >= 1.0f) h2 = 0.0f;
    float fi = ffloor(h2 * 6.0f);
    fr = h2 * 6.0f - fi;
    int i = ((int) fi) % 6;
    if (i < 0) i += 6;
    return i;
}

// torchvision adjust_hue on one pixel (_rgb2hsv, (h + f) % 1, _hsv2rgb), float32 like torch.
DISCO_HD void hue_forward(const float in[3], float f, float out[3]) {
    float r = in[0], g = in[1], b = in[2];
    float mx = r, mn = r;
    if (g > mx) mx = g;
    if (b > mx) mx = b;
    if (g < mn) mn = g;
    if (b < mn) mn = b;
    bool eqc = mx == mn;
    float cr = mx - mn;
    float s = cr / (eqc ? 1.0f : mx);
    float crd = eqc ? 1.0f : cr;
    float rc = (mx - r) / crd, gc = (mx - g) / crd, bc = (mx - b) / crd;
    float h;
    if (mx == r) h = bc - gc;
    else if (mx == g) h = 2.0f + rc - bc;
    else h = 4.0f + gc - rc;
    float fr;
    int i = hue_sector(h, f, fr);
    float v = mx;
    float p = clamp01(v * (1.0f - s));
    float q = clamp01(v * (1.0f - s * fr));
    float t = clamp01(v * (1.0f - s * (1.0f - fr)));
    switch (i) {
        case 0: out[0] = v; out[1] = t; out[2] = p; break;
        case 1: out[0] = q; out[1] = v; out[2] = p; break;
        case 2: out[0] = p; out[1] = v; out[2] = t; break;
        case 3: out[0] = p; out[1] = q; out[2] = v; break;
        case 4: out[0] = t; out[1] = p; out[2] = v; break;
        default: out[0] = v; out[1] = p; out[2] = q; break;
    }
}

// Vector-Jacobian product of hue_forward at `in`, following torch's autograd through the same graph (max/min
// route to the first extremal channel; floor and the comparisons carry no gradient).
DISCO_HD void hue_backward(const float in[3], float f, const float gout[3], float gin[3]) {
    float r = in[0], g = in[1], b = in[2];
    int imx = 0, imn = 0;
    float mx = r, mn = r;
    if (g > mx) { mx = g; imx = 1; }
    if (b > mx) { mx = b; imx = 2; }
    if (g < mn) { mn = g; imn = 1; }
    if (b < mn) { mn = b; imn = 2; }
    bool eqc = mx == mn;
    float cr = mx - mn;
    float sd = eqc ? 1.0f : mx;
    float s = cr / sd;
    float crd = eqc ? 1.0f : cr;
    float rc = (mx - r) / crd, gc = (mx - g) / crd, bc = (mx - b) / crd;
    int branch;
    float h;
    if (mx == r) { h = bc - gc; branch = 0; }
    else if (mx == g) { h = 2.0f + rc - bc; branch = 1; }
    else { h = 4.0f + gc - rc; branch = 2; }
    float fr;
    int i = hue_sector(h, f, fr);
    float v = mx;
    float pr = v * (1.0f - s), qr = v * (1.0f - s * fr), tr = v * (1.0f - s * (1.0f - fr));
    float gv = 0, gp = 0, gq = 0, gt = 0;
    switch (i) {
        case 0: gv += gout[0]; gt += gout[1]; gp += gout[2]; break;
        case 1: gq += gout[0]; gv += gout[1]; gp += gout[2]; break;
        case 2: gp += gout[0]; gv += gout[1]; gt += gout[2]; break;
        case 3: gp += gout[0]; gq += gout[1]; gv += gout[2]; break;
        case 4: gt += gout[0]; gp += gout[1]; gv += gout[2]; break;
        default: gv += gout[0]; gp += gout[1]; gq += gout[2]; break;
    }
    gp *= clamp_pass(pr);
    gq *= clamp_pass(qr);
    gt *= clamp_pass(tr);
    float ds = 0, dfr = 0;
    gv += gp * (1.0f - s) + gq * (1.0f - s * fr) + gt * (1.0f - s * (1.0f - fr));
    ds += -gp * v - gq * v * fr - gt * v * (1.0f - fr);
    dfr += -gq * v * s + gt * v * s;
    // f = 6 h2 - i, h2 = (h + f) % 1, h = fmod(hraw / 6 + 1, 1): d hraw = (6 dfr) / 6, rounded as autograd does
    float dh = 6.0f * dfr / 6.0f;
    float drc = 0, dgc = 0, dbc = 0;
    if (branch == 0) { dbc += dh; dgc -= dh; }
    else if (branch == 1) { drc += dh; dbc -= dh; }
    else { dgc += dh; drc -= dh; }
    float dmx = gv, dmn = 0, dcr = 0;
    float dcrd = -(drc * (mx - r) + dgc * (mx - g) + dbc * (mx - b)) / (crd * crd);
    dmx += (drc + dgc + dbc) / crd;
    float dr = -drc / crd, dg = -dgc / crd, db = -dbc / crd;
    if (!eqc) dcr += dcrd;
    dcr += ds / sd;
    if (!eqc) dmx += -ds * cr / (sd * sd);
    dmx += dcr;
    dmn -= dcr;
    gin[0] = dr; gin[1] = dg; gin[2] = db;
    gin[imx] += dmx;
    gin[imn] += dmn;
}

}  // namespace disco_cut

#endif
