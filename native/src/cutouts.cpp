// Cutout + augmentation stage: CPU twin and the C entry points (see include/disco/cutouts.h).
//
// The work is split over threads by independent items ((distinct box, channel) for the resizes, cuts for the per-cut
// pipeline, rows of the image for the transposes), each written by one thread, so the result does not depend on
// the thread count and equals the single-threaded first kernel (cutouts_baseline.cpp) bitwise: the same
// operations in the same order. Cuts sharing (image, box) share one resize (DD's overview copies). The resize
// taps are precomputed as compact tables (only the nonzero weights, in tap order); the transposes of the resize
// are gathers over the transposed tables (an image row or column sums the outputs it feeds in increasing order,
// starting from the value it holds), which is the order the scatter used.
#include "cutouts.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include "cutouts_common.h"
#include "cutouts_cpu.h"
#include "disco_kernels.h"
#include "status.h"

using namespace disco_cut;


int cutouts_validate(const char* fn, const float* image, int n, int h, int w, const float* cuts, int k, int s,
                     bool noise, const void* out) {
    if (!image) return disco_fail(DISCO_EINVAL, "%s: image is NULL", fn);
    if (!cuts) return disco_fail(DISCO_EINVAL, "%s: cuts is NULL", fn);
    if (!out) return disco_fail(DISCO_EINVAL, "%s: output is NULL", fn);
    if (n <= 0 || h <= 0 || w <= 0) return disco_fail(DISCO_EINVAL, "%s: image size %dx3x%dx%d must be positive", fn, n, h, w);
    if (k <= 0 || s <= 0) return disco_fail(DISCO_EINVAL, "%s: k=%d, s=%d must be positive", fn, k, s);
    long lim = 4L * std::max(h, w) + 4L * s;
    for (int c = 0; c < k; c++) {
        const float* d = cuts + (size_t) c * DISCO_CUT_FIELDS;
        for (int f = 0; f < DISCO_CUT_FIELDS; f++)
            if (!std::isfinite(d[f])) return disco_fail(DISCO_EINVAL, "%s: cut %d field %d is not finite", fn, c, f);
        int img = (int) d[DISCO_CUT_IMAGE];
        if (img != d[DISCO_CUT_IMAGE] || img < 0 || img >= n)
            return disco_fail(DISCO_EINVAL, "%s: cut %d: image index %g not in [0, %d)", fn, c, d[DISCO_CUT_IMAGE], n);
        long y0 = (long) d[DISCO_CUT_Y0], x0 = (long) d[DISCO_CUT_X0], bh = (long) d[DISCO_CUT_H], bw = (long) d[DISCO_CUT_W];
        if (y0 != d[DISCO_CUT_Y0] || x0 != d[DISCO_CUT_X0] || bh != d[DISCO_CUT_H] || bw != d[DISCO_CUT_W])
            return disco_fail(DISCO_EINVAL, "%s: cut %d: box must be integer", fn, c);
        if (bh < 1 || bw < 1 || bh > lim || bw > lim)
            return disco_fail(DISCO_EINVAL, "%s: cut %d: box size %ldx%ld out of range", fn, c, bh, bw);
        if (y0 >= h || x0 >= w || y0 + bh <= 0 || x0 + bw <= 0 || y0 < -lim || x0 < -lim)
            return disco_fail(DISCO_EINVAL, "%s: cut %d: box y0=%ld x0=%ld h=%ld w=%ld lies outside the %dx%d image",
                              fn, c, y0, x0, bh, bw, h, w);
        const int flags[] = {DISCO_CUT_GRAY_PRE, DISCO_CUT_HFLIP, DISCO_CUT_AFFINE, DISCO_CUT_FILL_MASK, DISCO_CUT_GRAY_AUG};
        for (int f : flags)
            if (d[f] != 0.0f && d[f] != 1.0f) return disco_fail(DISCO_EINVAL, "%s: cut %d: flag field %d must be 0 or 1", fn, c, f);
        const int noises[] = {DISCO_CUT_NOISE1, DISCO_CUT_NOISE2, DISCO_CUT_NOISE3};
        for (int f : noises)
            if (d[f] != 0.0f && !noise) return disco_fail(DISCO_EINVAL, "%s: cut %d: noise scale set but noise is NULL", fn, c);
        int nj = (int) d[DISCO_CUT_N_JITTER];
        if (nj != d[DISCO_CUT_N_JITTER] || nj < 0 || nj > 4)
            return disco_fail(DISCO_EINVAL, "%s: cut %d: n_jitter must be 0..4", fn, c);
        for (int j = 0; j < nj; j++) {
            float op = d[DISCO_CUT_JITTER_OP0 + j];
            if (op != 0.0f && op != 1.0f && op != 2.0f && op != 3.0f)
                return disco_fail(DISCO_EINVAL, "%s: cut %d: jitter op %d must be 0..3", fn, c, j);
        }
        if (d[DISCO_CUT_BRIGHTNESS] < 0 || d[DISCO_CUT_CONTRAST] < 0 || d[DISCO_CUT_SATURATION] < 0)
            return disco_fail(DISCO_EINVAL, "%s: cut %d: brightness/contrast/saturation factors must be >= 0", fn, c);
        if (d[DISCO_CUT_HUE] < -0.5f || d[DISCO_CUT_HUE] > 0.5f)
            return disco_fail(DISCO_EINVAL, "%s: cut %d: hue factor must be in [-0.5, 0.5]", fn, c);
    }
    return DISCO_OK;
}

namespace {

// ---- threads ---------------------------------------------------------------------------------------------------

// DISCO_KERNEL_THREADS (1 to 256) or the hardware's thread count (at most 64), read at every call.
int thread_count() {
    const char* e = std::getenv("DISCO_KERNEL_THREADS");
    long v = e && *e ? std::strtol(e, nullptr, 10) : 0;
    if (v >= 1 && v <= 256) return (int) v;
    static const unsigned hc = std::thread::hardware_concurrency();
    return hc == 0 ? 1 : (int) std::min(hc, 64u);
}

// fn(item, worker) for item in [0, items); each item runs on exactly one worker (worker < workers(items)).
int workers(long items) { return (int) std::max(1L, std::min((long) thread_count(), items)); }

template <class F>
void parallel_for(long items, const F& fn) {
    const int nw = workers(items);
    if (nw <= 1) {
        for (long i = 0; i < items; i++) fn(i, 0);
        return;
    }
    std::atomic<long> next{0};
    auto run = [&](int wid) {
        for (long i; (i = next.fetch_add(1)) < items;) fn(i, wid);
    };
    std::vector<std::thread> pool;
    pool.reserve((size_t) nw - 1);
    for (int t = 1; t < nw; t++) pool.emplace_back(run, t);
    run(0);
    for (auto& t : pool) t.join();
}

// ---- the per-box plan ------------------------------------------------------------------------------------------

// One resized axis as a compact table: output o reads idx[row[o] .. row[o+1]) with weights w (the nonzero taps of
// make_axis, in tap order) — and its transpose (transpose_axis: source base + r feeds its outputs in increasing
// order).
struct Taps {
    std::vector<int> row, idx;
    std::vector<float> w;
    AxisT t;
};

Taps make_taps(const Axis& a, int out_sz) {
    Taps tp;
    tp.row.assign((size_t) out_sz + 1, 0);
    for (int o = 0; o < out_sz; o++) {
        for (int t = 0; t < a.taps; t++) {
            const float wt = a.w[(size_t) o * a.taps + t];
            if (wt == 0.0f) continue;
            tp.idx.push_back(a.idx[(size_t) o * a.taps + t]);
            tp.w.push_back(wt);
        }
        tp.row[(size_t) o + 1] = (int) tp.idx.size();
    }
    tp.t = transpose_axis(a, out_sz);
    return tp;
}

struct BoxPlan {
    Taps ty, tx;
    bool h_first;
    int cy0, cy1, cx0, cx1;  // rows / columns of the image the box touches
};

BoxPlan make_box(const float* d, int h, int w, int s) {
    BoxPlan p;
    int y0 = (int) d[DISCO_CUT_Y0], x0 = (int) d[DISCO_CUT_X0], bh = (int) d[DISCO_CUT_H], bw = (int) d[DISCO_CUT_W];
    Axis ay = make_axis(bh, s, y0, h), ax = make_axis(bw, s, x0, w);
    p.h_first = ay.scale <= ax.scale;
    p.ty = make_taps(ay, s);
    p.tx = make_taps(ax, s);
    p.cy0 = std::max(0, y0); p.cy1 = std::min(h, y0 + bh);
    p.cx0 = std::max(0, x0); p.cx1 = std::min(w, x0 + bw);
    return p;
}

// torchvision's affine (affine_taps) for every output pixel of one (angle, tx, ty, fill): the 4 taps and weights
// and the multiplier (the mask where a fill is given, else 1, which leaves every value as it is). The cuts of a
// call that share the affine (DD draws it once per batch: all of them) share one table.
struct AffineTable {
    float key[4];
    std::vector<int> idx;    // [S*S][4]
    std::vector<float> wt;   // [S*S][4]
    std::vector<float> mul;  // [S*S]
};

struct Plan {
    std::vector<int> box_of, firsts;
    std::vector<BoxPlan> boxes;
    std::vector<int> affine_of;  // per cut: its table, or -1 without an affine
    std::vector<AffineTable> affines;
    const AffineTable* affine(int c) const { return affine_of[(size_t) c] < 0 ? nullptr : &affines[(size_t) affine_of[(size_t) c]]; }
};

Plan make_plan(const float* cuts, int k, int h, int w, int s) {
    Plan p;
    p.firsts = distinct_boxes(cuts, k, p.box_of);
    p.boxes.resize(p.firsts.size());
    parallel_for((long) p.firsts.size(), [&](long b, int) {
        p.boxes[(size_t) b] = make_box(cuts + (size_t) p.firsts[(size_t) b] * DISCO_CUT_FIELDS, h, w, s);
    });
    p.affine_of.assign((size_t) k, -1);
    for (int c = 0; c < k; c++) {
        const float* d = cuts + (size_t) c * DISCO_CUT_FIELDS;
        if (d[DISCO_CUT_AFFINE] == 0.0f) continue;
        const float key[4] = {d[DISCO_CUT_ANGLE], d[DISCO_CUT_TX], d[DISCO_CUT_TY], d[DISCO_CUT_FILL_MASK]};
        for (size_t a = 0; a < p.affines.size() && p.affine_of[(size_t) c] < 0; a++)
            if (std::equal(key, key + 4, p.affines[a].key)) p.affine_of[(size_t) c] = (int) a;
        if (p.affine_of[(size_t) c] >= 0) continue;
        p.affine_of[(size_t) c] = (int) p.affines.size();
        AffineTable t;
        std::copy(key, key + 4, t.key);
        p.affines.push_back(std::move(t));
    }
    const size_t ss = (size_t) s * s;
    for (AffineTable& t : p.affines) {
        t.idx.resize(4 * ss);
        t.wt.resize(4 * ss);
        t.mul.resize(ss);
    }
    parallel_for((long) p.affines.size() * s, [&](long ai, int) {
        AffineTable& t = p.affines[(size_t) (ai / s)];
        const int i = (int) (ai % s);
        float m[6];
        affine_matrix(t.key[0], t.key[1], t.key[2], m);
        for (int j = 0; j < s; j++) {
            const size_t q = (size_t) i * s + j;
            const float mask = affine_taps(m, s, i, j, &t.idx[4 * q], &t.wt[4 * q]);
            t.mul[q] = t.key[3] != 0.0f ? mask : 1.0f;
        }
    });
    return p;
}

inline float dot_taps(const Taps& t, int o, const float* src, long long stride, int shift) {
    float acc = 0.0f;
    for (int q = t.row[(size_t) o]; q < t.row[(size_t) o + 1]; q++) acc += t.w[(size_t) q] * src[(long long) (t.idx[(size_t) q] - shift) * stride];
    return acc;
}

// ---- resize forward / transpose --------------------------------------------------------------------------------

// Channel c of one box's resize (channels are independent: the work is split over (box, channel)).
void resize_fwd(const float* img, int h, int w, int s, const BoxPlan& p, int c, float* out, std::vector<float>& tmp) {
    const size_t hw = (size_t) h * w;
    if (p.h_first) {
        const int cw = p.cx1 - p.cx0;
        tmp.assign((size_t) s * cw, 0.0f);
        for (int o = 0; o < s; o++) {
            float* row = &tmp[(size_t) o * cw];
            for (int q = p.ty.row[(size_t) o]; q < p.ty.row[(size_t) o + 1]; q++) {
                const float wt = p.ty.w[(size_t) q];
                const float* src = img + c * hw + (size_t) p.ty.idx[(size_t) q] * w + p.cx0;
                for (int x = 0; x < cw; x++) row[x] += wt * src[x];
            }
        }
        for (int o = 0; o < s; o++) {
            const float* row = &tmp[(size_t) o * cw];
            float* dst = out + ((size_t) c * s + o) * s;
            for (int q = 0; q < s; q++) dst[q] = dot_taps(p.tx, q, row, 1, p.cx0);
        }
    } else {
        const int ch = p.cy1 - p.cy0;
        tmp.assign((size_t) ch * s, 0.0f);
        for (int y = 0; y < ch; y++) {
            const float* src = img + c * hw + (size_t) (p.cy0 + y) * w;
            float* dst = &tmp[(size_t) y * s];
            for (int q = 0; q < s; q++) dst[q] = dot_taps(p.tx, q, src, 1, 0);
        }
        for (int o = 0; o < s; o++) {
            float* row = out + ((size_t) c * s + o) * s;
            std::fill(row, row + s, 0.0f);
            for (int q = p.ty.row[(size_t) o]; q < p.ty.row[(size_t) o + 1]; q++) {
                const float wt = p.ty.w[(size_t) q];
                const float* src = &tmp[(size_t) (p.ty.idx[(size_t) q] - p.cy0) * s];
                for (int x = 0; x < s; x++) row[x] += wt * src[x];
            }
        }
    }
}

// gimg += the transpose of resize_fwd applied to g (one box). The first pass (into tmp) is split over its rows,
// the second (into the image) over the image rows; every element has one writer, and sums its terms in the order
// of increasing output index, as the scatter did.
void resize_bwd(const float* g, int h, int w, int s, const BoxPlan& p, float* gimg, std::vector<float>& tmp) {
    const size_t hw = (size_t) h * w;
    if (p.h_first) {
        const int cw = p.cx1 - p.cx0;
        tmp.assign((size_t) 3 * s * cw, 0.0f);
        // tmp[c][o][x] = sum over the x-outputs q reading column cx0 + x of w * g[c][o][q] (a gather over the
        // transposed x table: the scatter's terms in the scatter's order)
        const AxisT& xt = p.tx.t;
        parallel_for(3L * s, [&](long co, int) {
            if (xt.len == 0) return;
            float* row = &tmp[(size_t) co * cw] + (xt.base - p.cx0);
            const float* gr = g + (size_t) co * s;
            for (int r = 0; r < xt.len; r++) {
                float acc = 0.0f;
                for (int e = xt.row[(size_t) r]; e < xt.row[(size_t) r + 1]; e++) acc += xt.w[(size_t) e] * gr[xt.out[(size_t) e]];
                row[r] = acc;
            }
        });
        // gimg[c][Y][cx0 + x] += sum over the y-outputs o reading row Y of w * tmp[c][o][x]
        const AxisT& at = p.ty.t;
        parallel_for(3L * at.len, [&](long cr, int) {
            const int c = (int) (cr / at.len), r = (int) (cr % at.len);
            if (at.row[(size_t) r] == at.row[(size_t) r + 1]) return;
            float* dst = gimg + c * hw + (size_t) (at.base + r) * w + p.cx0;
            for (int e = at.row[(size_t) r]; e < at.row[(size_t) r + 1]; e++) {
                const float wt = at.w[(size_t) e];
                const float* src = &tmp[((size_t) c * s + at.out[(size_t) e]) * cw];
                for (int x = 0; x < cw; x++) dst[x] += wt * src[x];
            }
        });
    } else {
        const int ch = p.cy1 - p.cy0;
        tmp.assign((size_t) 3 * ch * s, 0.0f);
        // tmp[c][y][q] = sum over the y-outputs o reading row cy0 + y of w * g[c][o][q]
        const AxisT& at = p.ty.t;
        parallel_for(3L * ch, [&](long cy, int) {
            const int c = (int) (cy / ch), y = (int) (cy % ch), r = p.cy0 + y - at.base;
            if (r < 0 || r >= at.len) return;
            float* dst = &tmp[(size_t) cy * s];
            for (int e = at.row[(size_t) r]; e < at.row[(size_t) r + 1]; e++) {
                const float wt = at.w[(size_t) e];
                const float* gr = g + ((size_t) c * s + at.out[(size_t) e]) * s;
                for (int q = 0; q < s; q++) dst[q] += wt * gr[q];
            }
        });
        // gimg[c][cy0 + y][X] += sum over the x-outputs q reading column X of w * tmp[c][y][q]
        const AxisT& ax = p.tx.t;
        parallel_for(3L * ch, [&](long cy, int) {
            const int c = (int) (cy / ch), y = (int) (cy % ch);
            float* dst = gimg + c * hw + (size_t) (p.cy0 + y) * w + ax.base;
            const float* src = &tmp[(size_t) cy * s];
            for (int r = 0; r < ax.len; r++) {
                float acc = dst[r];
                for (int e = ax.row[(size_t) r]; e < ax.row[(size_t) r + 1]; e++) acc += ax.w[(size_t) e] * src[ax.out[(size_t) e]];
                dst[r] = acc;
            }
        });
    }
}

// ---- the per-cut pipeline --------------------------------------------------------------------------------------




// ---- hue over a plane, vectorisable ---------------------------------------------------------------------------
// cutouts_common.h's hue_forward (the baseline's and CUDA's) evaluated with flat selects instead of branches, a
// switch and indexed stores, so that the loop over a plane vectorises (this file is compiled with
// -fno-trapping-math, which lets GCC evaluate both sides of a select; it changes no value): the same float
// operations in the same order, hence the same values (test_cutouts compares the twin bitwise with the baseline).

inline float floor_sel(float x) {  // ffloor without a branch
    const bool big = !((x > -8388608.0f) & (x < 8388608.0f));
    const float t = (float) (int) (big ? 0.0f : x);
    const float tm = t - 1.0f;
    const float fl = t > x ? tm : t;
    return big ? x : fl;
}

// hue_sector, branch-free. fmod1's argument h / 6 + 1 lies in [5/6, 11/6] for finite colours (rc, gc, bc are in
// [0, 1]); otherwise it is inf or NaN, where fmodf gives NaN, as y - y does.
inline int sector_sel(float h, float f, float& fr) {
    float y = h / 6.0f + 1.0f;
    const float ym1 = y - 1.0f, yy = y - y;
    y = ((y >= 0.0f) & (y < 2.0f)) ? (y >= 1.0f ? ym1 : y) : yy;
    float h2 = y + f;
    h2 = h2 - floor_sel(h2);
    h2 = h2 >= 1.0f ? 0.0f : h2;
    const float fi = floor_sel(h2 * 6.0f);
    fr = h2 * 6.0f - fi;
    int i = (int) (fi == fi ? fi : -2147483648.0f) % 6;  // NaN: INT32_MIN, what x86's conversion gives the scalar code
    return i < 0 ? i + 6 : i;
}

// The raw hue (sextants) and its branch (0: max is r, 1: g, 2: b) of _rgb2hsv, with max, min and their channels.
struct Hsv {
    float mx, mn, cr, sd, s, crd, rc, gc, bc, h;
    int imx, imn, branch;
};

inline Hsv rgb2hsv_sel(float r, float g, float b) {
    Hsv o;
    o.imx = 0, o.imn = 0;
    o.mx = r, o.mn = r;
    bool c = g > o.mx;
    o.mx = c ? g : o.mx;
    o.imx = c ? 1 : o.imx;
    c = b > o.mx;
    o.mx = c ? b : o.mx;
    o.imx = c ? 2 : o.imx;
    c = g < o.mn;
    o.mn = c ? g : o.mn;
    o.imn = c ? 1 : o.imn;
    c = b < o.mn;
    o.mn = c ? b : o.mn;
    o.imn = c ? 2 : o.imn;
    const bool eqc = o.mx == o.mn;
    o.cr = o.mx - o.mn;
    o.sd = eqc ? 1.0f : o.mx;
    o.s = o.cr / o.sd;
    o.crd = eqc ? 1.0f : o.cr;
    o.rc = (o.mx - r) / o.crd, o.gc = (o.mx - g) / o.crd, o.bc = (o.mx - b) / o.crd;
    o.branch = o.mx == r ? 0 : (o.mx == g ? 1 : 2);
    const float h0 = o.bc - o.gc, h1 = 2.0f + o.rc - o.bc, h2 = 4.0f + o.gc - o.rc;
    o.h = o.branch == 0 ? h0 : (o.branch == 1 ? h1 : h2);
    return o;
}

void hue_fwd_plane(float* x, size_t ss, float f) {
    float* __restrict R = x;
    float* __restrict G = x + ss;
    float* __restrict B = x + 2 * ss;
    for (size_t i = 0; i < ss; i++) {
        const Hsv o = rgb2hsv_sel(R[i], G[i], B[i]);
        float fr;
        const int k = sector_sel(o.h, f, fr);
        const float v = o.mx, s = o.s;
        const float p = clamp01(v * (1.0f - s));
        const float q = clamp01(v * (1.0f - s * fr));
        const float t = clamp01(v * (1.0f - s * (1.0f - fr)));
        const bool k0 = k == 0, k1 = k == 1, k2 = k == 2, k3 = k == 3, k4 = k == 4;
        float Rv = v, Gv = p, Bv = q;  // sectors 0..5: (v t p) (q v p) (p v t) (p q v) (t p v) (v p q)
        Rv = k1 ? q : Rv; Rv = (k2 | k3) ? p : Rv; Rv = k4 ? t : Rv;
        Gv = k0 ? t : Gv; Gv = (k1 | k2) ? v : Gv; Gv = k3 ? q : Gv;
        Bv = (k0 | k1) ? p : Bv; Bv = k2 ? t : Bv; Bv = (k3 | k4) ? v : Bv;
        R[i] = Rv;
        G[i] = Gv;
        B[i] = Bv;
    }
}

// cutouts_common.h's hue_backward over a plane with flat selects (as hue_fwd_plane): the same float operations in
// the same order. A gradient that the scalar code starts at 0 and adds to once is 0.0f + g here too (so -0.0
// becomes +0.0 as there), and a conditional += is a select between the sum and the old value (never "+ 0").
// cutouts_common.h's hue_backward over a plane: the same float operations in the same order, in blocks. The colour
// analysis (as hue_fwd_plane) is a loop GCC vectorises; the gradient part is written with GCC's vector extension
// (4 lanes, lane-wise IEEE operations, selects for the branches), which GCC does not vectorise from the scalar
// form. A gradient that the scalar code starts at 0 and adds to once is 0.0f + g here too (so -0.0 becomes +0.0 as
// there), and a conditional += is a select between the sum and the old value (never "+ 0").
inline float pass_sel(float x) { return ((x >= 0.0f) & (x <= 1.0f)) ? 1.0f : 0.0f; }  // clamp_pass, flat

typedef float v4f __attribute__((vector_size(16)));
typedef int v4i __attribute__((vector_size(16)));

inline v4f ld4(const float* p) { v4f v; std::memcpy(&v, p, sizeof v); return v; }
inline v4i ld4(const int* p) { v4i v; std::memcpy(&v, p, sizeof v); return v; }
inline void st4(float* p, v4f v) { std::memcpy(p, &v, sizeof v); }
inline v4f sel(v4i c, v4f a, v4f b) { return c ? a : b; }
inline v4f pass_sel(v4f x) {
    const v4f one = {1.0f, 1.0f, 1.0f, 1.0f}, zero = {0.0f, 0.0f, 0.0f, 0.0f};
    return sel((x >= 0.0f) & (x <= 1.0f), one, zero);
}

void hue_bwd_plane(const float* x, float* g, size_t ss, float f) {
    constexpr size_t BL = 256;
    alignas(16) float Rb[BL], Gb[BL], Bb[BL], G0[BL], G1[BL], G2[BL];
    alignas(16) float MX[BL], S[BL], SD[BL], CRD[BL], CR[BL], FR[BL];
    alignas(16) int K[BL], BR[BL], IMX[BL], IMN[BL], NE[BL];
    const v4f one = {1.0f, 1.0f, 1.0f, 1.0f}, zero = {0.0f, 0.0f, 0.0f, 0.0f};
    for (size_t i0 = 0; i0 < ss; i0 += BL) {
        const size_t nb = std::min(BL, ss - i0), n4 = (nb + 3) & ~(size_t) 3;
        for (size_t i = 0; i < n4; i++) {
            const bool in = i < nb;
            Rb[i] = in ? x[i0 + i] : 0.0f; Gb[i] = in ? x[ss + i0 + i] : 0.0f; Bb[i] = in ? x[2 * ss + i0 + i] : 0.0f;
            G0[i] = in ? g[i0 + i] : 0.0f; G1[i] = in ? g[ss + i0 + i] : 0.0f; G2[i] = in ? g[2 * ss + i0 + i] : 0.0f;
        }
        for (size_t i = 0; i < n4; i++) {  // the forward's colour analysis (as hue_fwd_plane)
            const Hsv o = rgb2hsv_sel(Rb[i], Gb[i], Bb[i]);
            float fr;
            K[i] = sector_sel(o.h, f, fr);
            FR[i] = fr;
            MX[i] = o.mx; S[i] = o.s; SD[i] = o.sd; CRD[i] = o.crd; CR[i] = o.cr;
            BR[i] = o.branch; IMX[i] = o.imx; IMN[i] = o.imn;
            NE[i] = o.mx == o.mn ? 0 : 1;
        }
        for (size_t i = 0; i < n4; i += 4) {
            const v4i k = ld4(K + i);
            const v4f v = ld4(MX + i), s = ld4(S + i), fr = ld4(FR + i);
            const v4f pr = v * (1.0f - s), qr = v * (1.0f - s * fr), tr = v * (1.0f - s * (1.0f - fr));
            const v4f g0 = 0.0f + ld4(G0 + i), g1 = 0.0f + ld4(G1 + i), g2 = 0.0f + ld4(G2 + i);
            const v4i k0 = k == 0, k1 = k == 1, k2 = k == 2, k3 = k == 3, k4 = k == 4, k5 = ~(k0 | k1 | k2 | k3 | k4);
            // sectors 0..5 route (R G B) from (v t p) (q v p) (p v t) (p q v) (t p v) (v p q)
            v4f gv = g2, gp = g1, gq = zero, gt = zero;
            gv = sel(k0 | k5, g0, gv); gv = sel(k1 | k2, g1, gv);
            gp = sel(k0 | k1, g2, gp); gp = sel(k2 | k3, g0, gp);
            gq = sel(k1, g0, gq); gq = sel(k3, g1, gq); gq = sel(k5, g2, gq);
            gt = sel(k0, g1, gt); gt = sel(k2, g2, gt); gt = sel(k4, g0, gt);
            gp *= sel((pr >= 0.0f) & (pr <= 1.0f), one, zero);  // clamp_pass
            gq *= sel((qr >= 0.0f) & (qr <= 1.0f), one, zero);
            gt *= sel((tr >= 0.0f) & (tr <= 1.0f), one, zero);
            v4f ds = zero, dfr = zero;
            gv += gp * (1.0f - s) + gq * (1.0f - s * fr) + gt * (1.0f - s * (1.0f - fr));
            ds += -gp * v - gq * v * fr - gt * v * (1.0f - fr);
            dfr += -gq * v * s + gt * v * s;
            const v4f dh = 6.0f * dfr / 6.0f;
            // through _rgb2hsv
            const v4f r = ld4(Rb + i), gg = ld4(Gb + i), b = ld4(Bb + i), mx = v, sd = ld4(SD + i), crd = ld4(CRD + i),
                      cr = ld4(CR + i);
            const v4f zp = 0.0f + dh, zm = 0.0f - dh;
            const v4i br = ld4(BR + i), b0 = br == 0, b1 = br == 1, b2 = ~(b0 | b1);
            v4f drc = zero, dgc = zero, dbc = zero;
            drc = sel(b1, zp, drc); drc = sel(b2, zm, drc);
            dgc = sel(b0, zm, dgc); dgc = sel(b2, zp, dgc);
            dbc = sel(b0, zp, dbc); dbc = sel(b1, zm, dbc);
            v4f dmx = gv, dcr = zero;
            const v4f dcrd = -(drc * (mx - r) + dgc * (mx - gg) + dbc * (mx - b)) / (crd * crd);
            dmx += (drc + dgc + dbc) / crd;
            const v4f dr = -drc / crd, dg = -dgc / crd, db = -dbc / crd;
            const v4i ne = ld4(NE + i) != 0;  // !eqc
            dcr = sel(ne, dcr + dcrd, dcr);
            dcr += ds / sd;
            dmx = sel(ne, dmx + -ds * cr / (sd * sd), dmx);
            dmx += dcr;
            const v4f dmn = 0.0f - dcr;
            const v4i imx = ld4(IMX + i), imn = ld4(IMN + i);
            v4f oR = dr, oG = dg, oB = db;
            oR = sel(imx == 0, oR + dmx, oR); oG = sel(imx == 1, oG + dmx, oG); oB = sel(imx == 2, oB + dmx, oB);
            oR = sel(imn == 0, oR + dmn, oR); oG = sel(imn == 1, oG + dmn, oG); oB = sel(imn == 2, oB + dmn, oB);
            st4(G0 + i, oR);
            st4(G1 + i, oG);
            st4(G2 + i, oB);
        }
        std::memcpy(g + i0, G0, nb * sizeof(float));
        std::memcpy(g + ss + i0, G1, nb * sizeof(float));
        std::memcpy(g + 2 * ss + i0, G2, nb * sizeof(float));
    }
}

void jitter_fwd(int op, float f, float* x, size_t ss) {
    if (!jitter_fwd_bcs(op, f, x, ss)) hue_fwd_plane(x, ss, f);
}

// g <- VJP of jitter op at input x.
void jitter_bwd(int op, float f, const float* x, float* g, size_t ss) {
    if (op == 0) {
        for (size_t i = 0; i < 3 * ss; i++) g[i] *= f * pass_sel(f * x[i]);
    } else if (op == 1) {
        float mean = gray_mean(x, ss);
        for (size_t i = 0; i < 3 * ss; i++) g[i] *= pass_sel(f * x[i] + (1.0f - f) * mean);
        double gs = 0.0;
        for (size_t i = 0; i < 3 * ss; i++) gs += g[i];
        contrast_bwd_blend(g, ss, f, gs);
    } else if (op == 2) {
        // one body for 4 lanes (GCC's vector extension) and for the scalar tail: the same operations per element
        auto body = [f](auto x0, auto x1, auto x2, auto& g0, auto& g1, auto& g2) {
            const auto l = GRAY_R * x0 + GRAY_G * x1 + GRAY_B * x2;
            const auto gc0 = g0 * pass_sel(f * x0 + (1.0f - f) * l);
            const auto gc1 = g1 * pass_sel(f * x1 + (1.0f - f) * l);
            const auto gc2 = g2 * pass_sel(f * x2 + (1.0f - f) * l);
            auto t = 0.0f + gc0;
            t += gc1;
            t += gc2;
            t *= (1.0f - f);
            g0 = f * gc0 + GRAY_R * t;
            g1 = f * gc1 + GRAY_G * t;
            g2 = f * gc2 + GRAY_B * t;
        };
        size_t i = 0;
        for (; i + 4 <= ss; i += 4) {
            v4f g0 = ld4(g + i), g1 = ld4(g + ss + i), g2 = ld4(g + 2 * ss + i);
            body(ld4(x + i), ld4(x + ss + i), ld4(x + 2 * ss + i), g0, g1, g2);
            st4(g + i, g0); st4(g + ss + i, g1); st4(g + 2 * ss + i, g2);
        }
        for (; i < ss; i++) body(x[i], x[ss + i], x[2 * ss + i], g[i], g[ss + i], g[2 * ss + i]);
    } else {
        hue_bwd_plane(x, g, ss, f);
    }
}




// The noise of cut c: a pointer into the given buffer, or generated into buf (only when the cut uses noise).
const float* cut_noise(const CutNoise& nz, const float* d, int c, size_t n9, std::vector<float>& buf) {
    if (d[DISCO_CUT_NOISE1] == 0.0f && d[DISCO_CUT_NOISE2] == 0.0f && d[DISCO_CUT_NOISE3] == 0.0f) return nullptr;
    if (nz.given) return nz.given + (size_t) c * n9;
    if (!nz.keyed) return nullptr;
    buf.resize(n9);
    cutouts_noise_fill(nz.key, nz.start, (uint64_t) c * n9, n9, buf.data());
    return buf.data();
}

// One cut up to its jitter input: out[3*S*S] from the resized box, in at most three passes (the baseline's seven
// steps fused, each element going through the same float operations in the same order): (gray) (flip) (+ noise 1)
// into tmp; the affine gathered from it (+ noise 2) into out; (gray) (+ noise 3) in place. A noise whose scale is
// 0 is not added at all (adding 0 * noise would turn -0 into +0).
void cut_pre_jitter(const float* resized, const float* d, int s, const AffineTable* aff, const float* noise_k,
                    float* out, std::vector<float>& tmp) {
    const size_t ss = (size_t) s * s, n3 = 3 * ss;
    const bool gray_pre = d[DISCO_CUT_GRAY_PRE] != 0.0f, flip = d[DISCO_CUT_HFLIP] != 0.0f;
    const float s1 = noise_k ? d[DISCO_CUT_NOISE1] : 0.0f, s2 = noise_k ? d[DISCO_CUT_NOISE2] : 0.0f,
                s3 = noise_k ? d[DISCO_CUT_NOISE3] : 0.0f;
    if (aff) tmp.resize(n3);
    float* a = aff ? tmp.data() : out;
    for (int i = 0; i < s; i++) {
        const float* r0 = resized + (size_t) i * s;
        float* a0 = a + (size_t) i * s;
        for (int j = 0; j < s; j++) {
            const int sj = flip ? s - 1 - j : j;
            float v0 = r0[sj], v1 = r0[ss + sj], v2 = r0[2 * ss + sj];
            if (gray_pre) v0 = v1 = v2 = GRAY_R * v0 + GRAY_G * v1 + GRAY_B * v2;
            a0[j] = v0;
            a0[ss + j] = v1;
            a0[2 * ss + j] = v2;
        }
    }
    if (s1 != 0.0f) add_noise(a, noise_k, s1, n3);
    if (aff) {
        for (size_t q = 0; q < ss; q++) {
            const int* ix = &aff->idx[4 * q];
            const float* wt = &aff->wt[4 * q];
            const float mul = aff->mul[q];
            for (int c = 0; c < 3; c++) {
                const float* sc = a + c * ss;
                const float v = wt[0] * sc[ix[0]] + wt[1] * sc[ix[1]] + wt[2] * sc[ix[2]] + wt[3] * sc[ix[3]];
                out[c * ss + q] = v * mul;
            }
        }
    }
    if (s2 != 0.0f) add_noise(out, noise_k + n3, s2, n3);
    if (d[DISCO_CUT_GRAY_AUG] != 0.0f) {
        const float* n = noise_k + 2 * n3;
        for (size_t q = 0; q < ss; q++) {
            float l = GRAY_R * out[q] + GRAY_G * out[ss + q] + GRAY_B * out[2 * ss + q];
            out[q] = s3 != 0.0f ? l + s3 * n[q] : l;
            out[ss + q] = s3 != 0.0f ? l + s3 * n[ss + q] : l;
            out[2 * ss + q] = s3 != 0.0f ? l + s3 * n[2 * ss + q] : l;
        }
    } else if (s3 != 0.0f) {
        add_noise(out, noise_k + 2 * n3, s3, n3);
    }
}

// The affine's transpose through its table: the baseline's affine_bwd, the same scatter in the same order.
void affine_bwd_table(float* g, int s, const AffineTable& aff, std::vector<float>& go) {
    const size_t ss = (size_t) s * s;
    go.assign(g, g + 3 * ss);
    std::fill(g, g + 3 * ss, 0.0f);
    for (size_t q = 0; q < ss; q++) {
        const int* ix = &aff.idx[4 * q];
        const float* wt = &aff.wt[4 * q];
        const float mul = aff.mul[q];
        for (int c = 0; c < 3; c++) {
            const float v = go[c * ss + q] * mul;
            float* gc = g + c * ss;
            for (int t = 0; t < 4; t++) gc[ix[t]] += wt[t] * v;
        }
    }
}

// The jitter ops in place on x; with a state, the input of op j is kept in slot j (slot stride: K * 3 * S * S).
void cut_jitter(const float* d, int s, float* x, float* slot0, size_t slot_stride) {
    size_t ss = (size_t) s * s;
    int nj = (int) d[DISCO_CUT_N_JITTER];
    for (int j = 0; j < nj; j++) {
        if (slot0) std::memcpy(slot0 + (size_t) j * slot_stride, x, 3 * ss * sizeof(float));
        int op = (int) d[DISCO_CUT_JITTER_OP0 + j];
        jitter_fwd(op, jitter_factor(d, op), x, ss);
    }
}

struct Scratch {
    std::vector<float> noise, tmp, saved;
};

// The resized boxes [B][3][S][S].
std::vector<float> resize_all(const float* image, int h, int w, int s, const float* cuts, const Plan& p) {
    const size_t n3 = (size_t) 3 * s * s;
    std::vector<float> resized(p.firsts.size() * n3);
    const long items = 3L * (long) p.firsts.size();
    std::vector<Scratch> scr((size_t) workers(items));
    parallel_for(items, [&](long bc, int wid) {
        const size_t b = (size_t) (bc / 3);
        const float* d = cuts + (size_t) p.firsts[b] * DISCO_CUT_FIELDS;
        resize_fwd(image + (size_t) d[DISCO_CUT_IMAGE] * 3 * h * w, h, w, s, p.boxes[b], (int) (bc % 3),
                   resized.data() + b * n3, scr[(size_t) wid].tmp);
    });
    return resized;
}

}  // namespace

int cutouts_forward_cpu(const float* image, int n, int h, int w, const float* cuts, int k, int s,
                        const CutNoise& noise, float* out, float* state, void*) {
    (void) n;
    const size_t n3 = (size_t) 3 * s * s, n9 = 3 * n3;
    Plan p = make_plan(cuts, k, h, w, s);
    std::vector<float> resized = resize_all(image, h, w, s, cuts, p);
    std::vector<Scratch> scr((size_t) workers(k));
    parallel_for(k, [&](long c, int wid) {
        const float* d = cuts + (size_t) c * DISCO_CUT_FIELDS;
        Scratch& sc = scr[(size_t) wid];
        float* o = out + (size_t) c * n3;
        cut_pre_jitter(resized.data() + (size_t) p.box_of[(size_t) c] * n3, d, s, p.affine((int) c),
                       cut_noise(noise, d, (int) c, n9, sc.noise), o, sc.tmp);
        cut_jitter(d, s, o, state ? state + (size_t) c * n3 : nullptr, (size_t) k * n3);
    });
    return DISCO_OK;
}

int cutouts_backward_cpu(const float* image, int n, int h, int w, const float* cuts, int k, int s,
                         const CutNoise& noise, const float* state, const float* grad_out, float* grad_image, void*) {
    const size_t ss = (size_t) s * s, n3 = 3 * ss, n9 = 3 * n3;
    Plan p = make_plan(cuts, k, h, w, s);
    bool any_jitter = false;
    for (int c = 0; c < k; c++) any_jitter |= cuts[(size_t) c * DISCO_CUT_FIELDS + DISCO_CUT_N_JITTER] != 0.0f;
    std::vector<float> resized;  // the jitter ops are differentiated at the forward point: recompute it if not given
    if (any_jitter && !state) resized = resize_all(image, h, w, s, cuts, p);
    std::vector<float> gcut((size_t) k * n3);
    std::vector<Scratch> scr((size_t) workers(k));
    parallel_for(k, [&](long c, int wid) {
        const float* d = cuts + (size_t) c * DISCO_CUT_FIELDS;
        Scratch& sc = scr[(size_t) wid];
        float* g = gcut.data() + (size_t) c * n3;
        std::memcpy(g, grad_out + (size_t) c * n3, n3 * sizeof(float));
        const int nj = (int) d[DISCO_CUT_N_JITTER];
        if (nj > 0) {
            // the input of each jitter op: slot j of the state, or recomputed (op 0's by the forward up to the
            // jitter, op j's as op j - 1 applied to op j - 1's; the last op's output is not needed)
            const float* in = state ? state + (size_t) c * n3 : nullptr;  // op j's input: in + j * stride
            size_t stride = (size_t) k * n3;
            if (!state) {
                sc.saved.resize((size_t) nj * n3);
                cut_pre_jitter(resized.data() + (size_t) p.box_of[(size_t) c] * n3, d, s, p.affine((int) c),
                               cut_noise(noise, d, (int) c, n9, sc.noise), sc.saved.data(), sc.tmp);
                for (int j = 1; j < nj; j++) {
                    const int op = (int) d[DISCO_CUT_JITTER_OP0 + j - 1];
                    float* x = sc.saved.data() + (size_t) j * n3;
                    std::memcpy(x, x - n3, n3 * sizeof(float));
                    jitter_fwd(op, jitter_factor(d, op), x, ss);
                }
                in = sc.saved.data();
                stride = n3;
            }
            for (int j = nj - 1; j >= 0; j--) {
                int op = (int) d[DISCO_CUT_JITTER_OP0 + j];
                jitter_bwd(op, jitter_factor(d, op), in + (size_t) j * stride, g, ss);
            }
        }
        if (d[DISCO_CUT_GRAY_AUG] != 0.0f) gray_bwd(g, ss);
        if (const AffineTable* aff = p.affine((int) c)) affine_bwd_table(g, s, *aff, sc.tmp);
        if (d[DISCO_CUT_HFLIP] != 0.0f) hflip(g, s);
        if (d[DISCO_CUT_GRAY_PRE] != 0.0f) gray_bwd(g, ss);
    });
    // per box: the sum of its cuts' gradients in cut order, then its resize transposed into the image, box by box
    const size_t nb = p.firsts.size();
    std::vector<float> gres(nb * n3, 0.0f);
    const long chunk = 4096, chunks = (long) ((n3 + chunk - 1) / chunk);
    parallel_for((long) nb * chunks, [&](long bc, int) {
        const size_t b = (size_t) (bc / chunks), lo = (size_t) (bc % chunks) * chunk, hi = std::min(n3, lo + chunk);
        float* acc = gres.data() + b * n3;
        for (int c = 0; c < k; c++) {
            if (p.box_of[(size_t) c] != (int) b) continue;
            const float* g = gcut.data() + (size_t) c * n3;
            for (size_t i = lo; i < hi; i++) acc[i] += g[i];
        }
    });
    std::fill(grad_image, grad_image + (size_t) n * 3 * h * w, 0.0f);
    std::vector<float> tmp;
    for (size_t b = 0; b < nb; b++) {
        const float* d = cuts + (size_t) p.firsts[b] * DISCO_CUT_FIELDS;
        resize_bwd(gres.data() + b * n3, h, w, s, p.boxes[b], grad_image + (size_t) d[DISCO_CUT_IMAGE] * 3 * h * w, tmp);
    }
    return DISCO_OK;
}

int cutouts_check_sizes(const char* fn, int64_t n, int64_t h, int64_t w, int64_t k, int64_t s) {
    const int64_t imax = INT32_MAX;
    const struct {
        const char* name;
        int64_t v;
    } dims[] = {{"n", n}, {"h", h}, {"w", w}, {"k", k}, {"s", s}};
    for (const auto& d : dims)
        if (d.v < 1 || d.v > imax)
            return disco_fail(DISCO_EINVAL, "%s: %s = %lld: expected 1 to %lld", fn, d.name, (long long) d.v,
                              (long long) imax);
    if (h * w > imax / 3 || s * s > imax / 9)
        return disco_fail(DISCO_EINVAL, "%s: image %lldx%lld or cut size %lld too large for the kernels", fn,
                          (long long) h, (long long) w, (long long) s);
    return DISCO_OK;
}


namespace {

int validate_all(const char* fn, int64_t n64, int64_t h64, int64_t w64, const float* image, const float* cuts,
                 int64_t k64, int64_t s64, bool noise, const void* out, int device) {
    DISCO_TRY(cutouts_check_sizes(fn, n64, h64, w64, k64, s64));
    DISCO_TRY(cutouts_validate(fn, image, (int) n64, (int) h64, (int) w64, cuts, (int) k64, (int) s64, noise, out));
    return disco_check_device(fn, device);
}

int check_start(const char* fn, int64_t start) {
    if (start < 0) return disco_fail(DISCO_EINVAL, "%s: noise_start = %lld: expected >= 0", fn, (long long) start);
    return DISCO_OK;
}

}  // namespace

extern "C" DISCO_API int disco_cutouts_forward(const float* image, int64_t n64, int64_t h64, int64_t w64,
                                               const float* cuts, int64_t k64, int64_t s64, const float* noise,
                                               float* out, int device, void* stream) {
    const char* fn = "disco_cutouts_forward";
    DISCO_TRY(validate_all(fn, n64, h64, w64, image, cuts, k64, s64, noise != nullptr, out, device));
    const int n = (int) n64, h = (int) h64, w = (int) w64, k = (int) k64, s = (int) s64;
    CutNoise nz;
    nz.given = noise;
    DISCO_DISPATCH(fn, device, stream, cutouts_forward_cpu(image, n, h, w, cuts, k, s, nz, out, nullptr, stream),
                   cutouts_forward_cuda(image, n, h, w, cuts, k, s, nz, out, nullptr, stream));
}

extern "C" DISCO_API int disco_cutouts_backward(const float* image, int64_t n64, int64_t h64, int64_t w64,
                                                const float* cuts, int64_t k64, int64_t s64, const float* noise,
                                                const float* grad_out, float* grad_image, int device, void* stream) {
    const char* fn = "disco_cutouts_backward";
    DISCO_TRY(validate_all(fn, n64, h64, w64, image, cuts, k64, s64, noise != nullptr, grad_image, device));
    DISCO_TRY(disco_check_ptr(fn, "grad_out", grad_out));
    const int n = (int) n64, h = (int) h64, w = (int) w64, k = (int) k64, s = (int) s64;
    CutNoise nz;
    nz.given = noise;
    DISCO_DISPATCH(fn, device, stream,
                   cutouts_backward_cpu(image, n, h, w, cuts, k, s, nz, nullptr, grad_out, grad_image, stream),
                   cutouts_backward_cuda(image, n, h, w, cuts, k, s, nz, nullptr, grad_out, grad_image, stream));
}

extern "C" DISCO_API int disco_cutouts_forward_keyed(const float* image, int64_t n64, int64_t h64, int64_t w64,
                                                     const float* cuts, int64_t k64, int64_t s64, uint64_t noise_key,
                                                     int64_t noise_start, float* out, float* state, int device,
                                                     void* stream) {
    const char* fn = "disco_cutouts_forward_keyed";
    DISCO_TRY(validate_all(fn, n64, h64, w64, image, cuts, k64, s64, true, out, device));
    DISCO_TRY(check_start(fn, noise_start));
    const int n = (int) n64, h = (int) h64, w = (int) w64, k = (int) k64, s = (int) s64;
    CutNoise nz;
    nz.keyed = true;
    nz.key = noise_key;
    nz.start = (uint64_t) noise_start;
    DISCO_DISPATCH(fn, device, stream, cutouts_forward_cpu(image, n, h, w, cuts, k, s, nz, out, state, stream),
                   cutouts_forward_cuda(image, n, h, w, cuts, k, s, nz, out, state, stream));
}

extern "C" DISCO_API int disco_cutouts_backward_keyed(const float* image, int64_t n64, int64_t h64, int64_t w64,
                                                      const float* cuts, int64_t k64, int64_t s64, uint64_t noise_key,
                                                      int64_t noise_start, const float* state, const float* grad_out,
                                                      float* grad_image, int device, void* stream) {
    const char* fn = "disco_cutouts_backward_keyed";
    DISCO_TRY(validate_all(fn, n64, h64, w64, image, cuts, k64, s64, true, grad_image, device));
    DISCO_TRY(check_start(fn, noise_start));
    DISCO_TRY(disco_check_ptr(fn, "grad_out", grad_out));
    const int n = (int) n64, h = (int) h64, w = (int) w64, k = (int) k64, s = (int) s64;
    CutNoise nz;
    nz.keyed = true;
    nz.key = noise_key;
    nz.start = (uint64_t) noise_start;
    DISCO_DISPATCH(fn, device, stream,
                   cutouts_backward_cpu(image, n, h, w, cuts, k, s, nz, state, grad_out, grad_image, stream),
                   cutouts_backward_cuda(image, n, h, w, cuts, k, s, nz, state, grad_out, grad_image, stream));
}

extern "C" DISCO_API int disco_cutouts_noise(uint64_t noise_key, int64_t noise_start, int64_t count, float* out,
                                             int device, void* stream) {
    const char* fn = "disco_cutouts_noise";
    DISCO_TRY(check_start(fn, noise_start));
    DISCO_TRY(disco_check_pos(fn, "count", count));
    DISCO_TRY(disco_check_ptr(fn, "out", out));
    DISCO_TRY(disco_check_device(fn, device));
    const long chunk = 1 << 16, chunks = (long) ((count + chunk - 1) / chunk);
    DISCO_DISPATCH(fn, device, stream,
                   (parallel_for(chunks, [&](long c, int) {
                        const int64_t lo = c * chunk, m = std::min<int64_t>(chunk, count - lo);
                        cutouts_noise_fill(noise_key, (uint64_t) noise_start, (uint64_t) lo, (size_t) m, out + lo);
                    }),
                    DISCO_OK),
                   cutouts_noise_cuda(noise_key, (uint64_t) noise_start, count, out, stream));
}
