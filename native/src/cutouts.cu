// Cutout + augmentation stage: CUDA implementation (see include/disco/cutouts.h). The host builds the same per-cut
// plan as the CPU twin (cutouts_common.h: ResizeRight tap tables, torchvision affine matrices), uploads it on the
// given stream, and runs: separable resize (two gather passes), the pointwise/affine stages, and the colour jitter
// one step at a time (contrast needs a per-cut mean). The backward recomputes the forward to keep the inputs of the
// jitter ops, then applies the transposes. The transposes are gathers, with no atomics, so the same inputs give
// bitwise-equal gradients run after run: the resize transposes read transposed tap tables built on the host (for
// each source index, its (output, weight) pairs in increasing output order), the affine transpose visits the
// output pixels whose bilinear taps can reach a source pixel (a window around its preimage), and the image
// gradient is one writer per pixel summing the cuts in order.
//
// Keyed noise is generated in the kernels that add it (cutouts_noise.h, the CPU twin's generator: this file is
// compiled with --fmad=false, so both evaluate the same IEEE double operations and give bitwise-equal normals).
// The plan travels in one pinned staging buffer per device, copied with cudaMemcpyAsync on the caller's stream;
// the next call waits only for that copy's event before reusing the buffer. No call waits for the stream
// (except under DISCO_CUDA_SYNC=1): device scratch is cudaMallocAsync/cudaFreeAsync in stream order.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstring>
#include <mutex>
#include <vector>

#include "cutouts.h"
#include "cutouts_common.h"
#include "cutouts_noise.h"
#include "cuda_common.cuh"
#include "status.h"

using namespace disco_cut;
using disco_cuda::require_device;

namespace {

struct CutDev {
    int img, ty, tx, h_first, cy0, cy1, cx0, cx1;
    long long tmp_off, ay_off, ax_off;
    int gray_pre, hflip, affine, fill_mask, gray_aug, nj;
    int ops[4];
    float noise1, noise2, noise3;
    float m[6];
    float fac[4];
    // transposed tap tables of the two axes: source index base + r has the (output, weight) entries
    // trow[t_off + r] .. trow[t_off + r + 1] of (t_out, t_w)
    int ayt_base, ayt_len, axt_base, axt_len;
    long long ayt_off, axt_off;
    int aff_r;  // affine transpose: half-width of the window of output pixels around a source pixel's preimage
    float minv[4];  // the inverse of the affine's linear part
};

struct DevPlan {
    std::vector<CutDev> cuts;
    std::vector<int> idx;
    std::vector<float> w;
    std::vector<int> trow, tout;  // transposed tap tables (rows, entries)
    std::vector<float> tw;
    long long tmp_total = 0, max_tmp = 0;
    int max_nj = 0;
};

// Appends the transpose of axis `a` to the plan's tables (row offsets shifted to the plan's entry arrays).
void append_transpose(const Axis& a, int out_sz, DevPlan& p, int& base, int& len, long long& off) {
    AxisT t = transpose_axis(a, out_sz);
    base = t.base;
    len = t.len;
    off = (long long) p.trow.size();
    const int start = (int) p.tout.size();
    for (int r : t.row) p.trow.push_back(start + r);
    p.tout.insert(p.tout.end(), t.out.begin(), t.out.end());
    p.tw.insert(p.tw.end(), t.w.begin(), t.w.end());
}

DevPlan build_plan(const float* cuts, int k, int h, int w, int s) {
    DevPlan p;
    for (int c = 0; c < k; c++) {
        const float* d = cuts + (size_t) c * DISCO_CUT_FIELDS;
        int y0 = (int) d[DISCO_CUT_Y0], x0 = (int) d[DISCO_CUT_X0], bh = (int) d[DISCO_CUT_H], bw = (int) d[DISCO_CUT_W];
        Axis ay = make_axis(bh, s, y0, h), ax = make_axis(bw, s, x0, w);
        CutDev cd;
        std::memset(&cd, 0, sizeof cd);
        cd.img = (int) d[DISCO_CUT_IMAGE];
        cd.ty = ay.taps; cd.tx = ax.taps;
        cd.h_first = ay.scale <= ax.scale;
        cd.cy0 = std::max(0, y0); cd.cy1 = std::min(h, y0 + bh);
        cd.cx0 = std::max(0, x0); cd.cx1 = std::min(w, x0 + bw);
        long long tsz = cd.h_first ? 3LL * s * (cd.cx1 - cd.cx0) : 3LL * (cd.cy1 - cd.cy0) * s;
        cd.tmp_off = p.tmp_total;
        p.tmp_total += tsz;
        p.max_tmp = std::max(p.max_tmp, tsz);
        cd.ay_off = (long long) p.idx.size();
        p.idx.insert(p.idx.end(), ay.idx.begin(), ay.idx.end());
        p.w.insert(p.w.end(), ay.w.begin(), ay.w.end());
        cd.ax_off = (long long) p.idx.size();
        p.idx.insert(p.idx.end(), ax.idx.begin(), ax.idx.end());
        p.w.insert(p.w.end(), ax.w.begin(), ax.w.end());
        cd.gray_pre = d[DISCO_CUT_GRAY_PRE] != 0.0f;
        cd.hflip = d[DISCO_CUT_HFLIP] != 0.0f;
        cd.affine = d[DISCO_CUT_AFFINE] != 0.0f;
        cd.fill_mask = d[DISCO_CUT_FILL_MASK] != 0.0f;
        cd.gray_aug = d[DISCO_CUT_GRAY_AUG] != 0.0f;
        cd.nj = (int) d[DISCO_CUT_N_JITTER];
        for (int j = 0; j < 4; j++) cd.ops[j] = j < cd.nj ? (int) d[DISCO_CUT_JITTER_OP0 + j] : 0;
        cd.noise1 = d[DISCO_CUT_NOISE1]; cd.noise2 = d[DISCO_CUT_NOISE2]; cd.noise3 = d[DISCO_CUT_NOISE3];
        affine_matrix(d[DISCO_CUT_ANGLE], d[DISCO_CUT_TX], d[DISCO_CUT_TY], cd.m);
        cd.fac[0] = d[DISCO_CUT_BRIGHTNESS]; cd.fac[1] = d[DISCO_CUT_CONTRAST];
        cd.fac[2] = d[DISCO_CUT_SATURATION]; cd.fac[3] = d[DISCO_CUT_HUE];
        append_transpose(ay, s, p, cd.ayt_base, cd.ayt_len, cd.ayt_off);
        append_transpose(ax, s, p, cd.axt_base, cd.axt_len, cd.axt_off);
        cd.aff_r = affine_inverse(cd.m, cd.minv);
        p.max_nj = std::max(p.max_nj, cd.nj);
        p.cuts.push_back(cd);
    }
    if (p.idx.empty()) { p.idx.push_back(0); p.w.push_back(0.0f); }
    if (p.trow.empty()) p.trow.push_back(0);
    if (p.tout.empty()) { p.tout.push_back(0); p.tw.push_back(0.0f); }
    if (p.tmp_total == 0) p.tmp_total = 1;
    return p;
}

constexpr int TPB = 256;

__global__ void k_resize1(const float* img, int h, int w, int s, const CutDev* cuts, const int* idx, const float* wt,
                          float* tmp) {
    const CutDev& c = cuts[blockIdx.y];
    long long e = (long long) blockIdx.x * blockDim.x + threadIdx.x;
    const float* im = img + (size_t) c.img * 3 * h * w;
    if (c.h_first) {
        int cw = c.cx1 - c.cx0;
        if (e >= 3LL * s * cw) return;
        int x = (int) (e % cw), o = (int) ((e / cw) % s), ch = (int) (e / ((long long) cw * s));
        float acc = 0.0f;
        for (int t = 0; t < c.ty; t++) {
            float q = wt[c.ay_off + (long long) o * c.ty + t];
            if (q != 0.0f) acc += q * im[(size_t) ch * h * w + (size_t) idx[c.ay_off + (long long) o * c.ty + t] * w + c.cx0 + x];
        }
        tmp[c.tmp_off + e] = acc;
    } else {
        int chh = c.cy1 - c.cy0;
        if (e >= 3LL * chh * s) return;
        int q = (int) (e % s), y = (int) ((e / s) % chh), ch = (int) (e / ((long long) s * chh));
        const float* row = im + (size_t) ch * h * w + (size_t) (c.cy0 + y) * w;
        float acc = 0.0f;
        for (int t = 0; t < c.tx; t++) {
            float v = wt[c.ax_off + (long long) q * c.tx + t];
            if (v != 0.0f) acc += v * row[idx[c.ax_off + (long long) q * c.tx + t]];
        }
        tmp[c.tmp_off + e] = acc;
    }
}

__global__ void k_resize2(int s, const CutDev* cuts, const int* idx, const float* wt, const float* tmp, float* out) {
    int k = blockIdx.y;
    const CutDev& c = cuts[k];
    long long e = (long long) blockIdx.x * blockDim.x + threadIdx.x;
    if (e >= 3LL * s * s) return;
    int q = (int) (e % s), o = (int) ((e / s) % s), ch = (int) (e / ((long long) s * s));
    float acc = 0.0f;
    if (c.h_first) {
        int cw = c.cx1 - c.cx0;
        const float* row = tmp + c.tmp_off + ((long long) ch * s + o) * cw;
        for (int t = 0; t < c.tx; t++) {
            float v = wt[c.ax_off + (long long) q * c.tx + t];
            if (v != 0.0f) acc += v * row[idx[c.ax_off + (long long) q * c.tx + t] - c.cx0];
        }
    } else {
        int chh = c.cy1 - c.cy0;
        for (int t = 0; t < c.ty; t++) {
            float v = wt[c.ay_off + (long long) o * c.ty + t];
            if (v != 0.0f) acc += v * tmp[c.tmp_off + ((long long) ch * chh + (idx[c.ay_off + (long long) o * c.ty + t] - c.cy0)) * s + q];
        }
    }
    out[(size_t) k * 3 * s * s + e] = acc;
}

__device__ __forceinline__ void gray3(float* v) {
    float l = GRAY_R * v[0] + GRAY_G * v[1] + GRAY_B * v[2];
    v[0] = v[1] = v[2] = l;
}
__device__ __forceinline__ void gray3_t(float* g) {
    float t = g[0] + g[1] + g[2];
    g[0] = GRAY_R * t; g[1] = GRAY_G * t; g[2] = GRAY_B * t;
}

// The noise of the call: given normals [K][3][3][S][S] on the device, or generated from (key, start).
struct NoiseDev {
    const float* given;
    int keyed;
    uint64_t key, start;
    __device__ float at(size_t e) const { return given ? given[e] : disco_noise::gaussian(key, start, e); }
    __host__ __device__ bool present() const { return given != nullptr || keyed; }
};

// A = noise1 + hflip(gray_pre(R)), per pixel.
__global__ void k_stage1(int s, const CutDev* cuts, const float* R, NoiseDev noise, float* A) {
    int k = blockIdx.y;
    const CutDev& c = cuts[k];
    int e = blockIdx.x * blockDim.x + threadIdx.x;
    size_t ss = (size_t) s * s;
    if (e >= (int) ss) return;
    int i = e / s, j = e % s, sj = c.hflip ? s - 1 - j : j;
    const float* r = R + (size_t) k * 3 * ss;
    float v[3];
    for (int ch = 0; ch < 3; ch++) v[ch] = r[ch * ss + (size_t) i * s + sj];
    if (c.gray_pre) gray3(v);
    for (int ch = 0; ch < 3; ch++) {
        float x = v[ch];
        if (noise.present() && c.noise1 != 0.0f) x += c.noise1 * noise.at(((size_t) k * 9 + ch) * ss + e);
        A[(size_t) k * 3 * ss + ch * ss + e] = x;
    }
}

// B = noise3 + gray_aug(noise2 + affine(A)), per pixel.
__global__ void k_stage2(int s, const CutDev* cuts, const float* A, NoiseDev noise, float* B) {
    int k = blockIdx.y;
    const CutDev& c = cuts[k];
    int e = blockIdx.x * blockDim.x + threadIdx.x;
    size_t ss = (size_t) s * s;
    if (e >= (int) ss) return;
    const float* a = A + (size_t) k * 3 * ss;
    float v[3];
    if (c.affine) {
        int idx[4]; float wt[4];
        float mask = affine_taps(c.m, s, e / s, e % s, idx, wt);
        float mul = c.fill_mask ? mask : 1.0f;
        for (int ch = 0; ch < 3; ch++) {
            const float* sc = a + ch * ss;
            v[ch] = (wt[0] * sc[idx[0]] + wt[1] * sc[idx[1]] + wt[2] * sc[idx[2]] + wt[3] * sc[idx[3]]) * mul;
        }
    } else {
        for (int ch = 0; ch < 3; ch++) v[ch] = a[ch * ss + e];
    }
    if (noise.present() && c.noise2 != 0.0f)
        for (int ch = 0; ch < 3; ch++) v[ch] += c.noise2 * noise.at(((size_t) k * 9 + 3 + ch) * ss + e);
    if (c.gray_aug) gray3(v);
    if (noise.present() && c.noise3 != 0.0f)
        for (int ch = 0; ch < 3; ch++) v[ch] += c.noise3 * noise.at(((size_t) k * 9 + 6 + ch) * ss + e);
    for (int ch = 0; ch < 3; ch++) B[(size_t) k * 3 * ss + ch * ss + e] = v[ch];
}

// Per-cut sums for contrast at jitter step j: mode 0 sums the grayscale of x, mode 1 sums the masked gradient g.
__global__ void k_cut_sum(int s, const CutDev* cuts, int j, int mode, const float* x, const float* g, float* sums) {
    int k = blockIdx.x;
    const CutDev& c = cuts[k];
    if (j >= c.nj || c.ops[j] != 1) return;
    size_t ss = (size_t) s * s;
    const float* xk = x + (size_t) k * 3 * ss;
    double acc = 0.0;
    if (mode == 0) {
        for (size_t i = threadIdx.x; i < ss; i += blockDim.x)
            acc += (double) (GRAY_R * xk[i] + GRAY_G * xk[ss + i] + GRAY_B * xk[2 * ss + i]);
    } else {
        const float* gk = g + (size_t) k * 3 * ss;
        for (size_t i = threadIdx.x; i < 3 * ss; i += blockDim.x) acc += (double) gk[i];
    }
    __shared__ double red[TPB];
    red[threadIdx.x] = acc;
    __syncthreads();
    for (int st = blockDim.x / 2; st > 0; st >>= 1) {
        if ((int) threadIdx.x < st) red[threadIdx.x] += red[threadIdx.x + st];
        __syncthreads();
    }
    if (threadIdx.x == 0) sums[k] = (float) red[0];
}

// Jitter step j in place on x (saving its input in saved when not NULL); sums[k] holds the grayscale sum.
__global__ void k_jitter_fwd(int s, const CutDev* cuts, int j, float* x, float* saved, const float* sums) {
    int k = blockIdx.y;
    const CutDev& c = cuts[k];
    if (j >= c.nj) return;
    int e = blockIdx.x * blockDim.x + threadIdx.x;
    size_t ss = (size_t) s * s;
    if (e >= (int) ss) return;
    float* xk = x + (size_t) k * 3 * ss;
    float v[3] = {xk[e], xk[ss + e], xk[2 * ss + e]};
    if (saved)
        for (int ch = 0; ch < 3; ch++) saved[(size_t) k * 3 * ss + ch * ss + e] = v[ch];
    int op = c.ops[j];
    float f = c.fac[op];
    float o[3];
    if (op == 0) {
        for (int ch = 0; ch < 3; ch++) o[ch] = clamp01(f * v[ch]);
    } else if (op == 1) {
        float mean = (float) ((double) sums[k] / (double) ss);
        for (int ch = 0; ch < 3; ch++) o[ch] = clamp01(f * v[ch] + (1.0f - f) * mean);
    } else if (op == 2) {
        float l = GRAY_R * v[0] + GRAY_G * v[1] + GRAY_B * v[2];
        for (int ch = 0; ch < 3; ch++) o[ch] = clamp01(f * v[ch] + (1.0f - f) * l);
    } else {
        hue_forward(v, f, o);
    }
    for (int ch = 0; ch < 3; ch++) xk[ch * ss + e] = o[ch];
}

// Backward of jitter step j, first part: full VJP for brightness/saturation/hue; for contrast the clamp mask only.
__global__ void k_jitter_bwd1(int s, const CutDev* cuts, int j, const float* saved, const float* sums, float* g) {
    int k = blockIdx.y;
    const CutDev& c = cuts[k];
    if (j >= c.nj) return;
    int e = blockIdx.x * blockDim.x + threadIdx.x;
    size_t ss = (size_t) s * s;
    if (e >= (int) ss) return;
    const float* xk = saved + (size_t) k * 3 * ss;
    float* gk = g + (size_t) k * 3 * ss;
    float v[3] = {xk[e], xk[ss + e], xk[2 * ss + e]}, gv[3] = {gk[e], gk[ss + e], gk[2 * ss + e]}, gi[3];
    int op = c.ops[j];
    float f = c.fac[op];
    if (op == 0) {
        for (int ch = 0; ch < 3; ch++) gi[ch] = gv[ch] * f * clamp_pass(f * v[ch]);
    } else if (op == 1) {
        float mean = (float) ((double) sums[k] / (double) ss);
        for (int ch = 0; ch < 3; ch++) gi[ch] = gv[ch] * clamp_pass(f * v[ch] + (1.0f - f) * mean);
    } else if (op == 2) {
        float l = GRAY_R * v[0] + GRAY_G * v[1] + GRAY_B * v[2], t = 0.0f, gc[3];
        for (int ch = 0; ch < 3; ch++) { gc[ch] = gv[ch] * clamp_pass(f * v[ch] + (1.0f - f) * l); t += gc[ch]; }
        t *= (1.0f - f);
        gi[0] = f * gc[0] + GRAY_R * t; gi[1] = f * gc[1] + GRAY_G * t; gi[2] = f * gc[2] + GRAY_B * t;
    } else {
        hue_backward(v, f, gv, gi);
    }
    for (int ch = 0; ch < 3; ch++) gk[ch * ss + e] = gi[ch];
}

// Contrast second part: g = f g + (1 - f) * sum(g) / ss * gray weights.
__global__ void k_jitter_bwd2(int s, const CutDev* cuts, int j, const float* gsums, float* g) {
    int k = blockIdx.y;
    const CutDev& c = cuts[k];
    if (j >= c.nj || c.ops[j] != 1) return;
    int e = blockIdx.x * blockDim.x + threadIdx.x;
    size_t ss = (size_t) s * s;
    if (e >= (int) ss) return;
    float f = c.fac[1];
    float gm = (float) ((1.0f - f) * (double) gsums[k] / (double) ss);
    float* gk = g + (size_t) k * 3 * ss;
    gk[e] = f * gk[e] + GRAY_R * gm;
    gk[ss + e] = f * gk[ss + e] + GRAY_G * gm;
    gk[2 * ss + e] = f * gk[2 * ss + e] + GRAY_B * gm;
}

// gray_aug^T(g) at output pixel e of one cut.
struct Stage2Grad {
    const float* gk;
    size_t ss;
    bool gray_aug;
    __device__ void operator()(int e, float* v) const {
        v[0] = gk[e]; v[1] = gk[ss + e]; v[2] = gk[2 * ss + e];
        if (gray_aug) gray3_t(v);
    }
};

// gA = affine^T(gray_aug^T(g)), one writer per source pixel a (affine_transpose_at: the outputs whose bilinear
// taps include a, recomputed exactly as the forward computes them, in a fixed order).
__global__ void k_stage2_t(int s, const CutDev* cuts, const float* g, float* gA) {
    int k = blockIdx.y;
    const CutDev& c = cuts[k];
    int a = blockIdx.x * blockDim.x + threadIdx.x;
    size_t ss = (size_t) s * s;
    if (a >= (int) ss) return;
    const Stage2Grad grad{g + (size_t) k * 3 * ss, ss, c.gray_aug != 0};
    float* ak = gA + (size_t) k * 3 * ss;
    float v[3];
    if (c.affine) affine_transpose_at(c.m, c.minv, c.aff_r, c.fill_mask != 0, s, a, grad, v);
    else grad(a, v);
    for (int ch = 0; ch < 3; ch++) ak[ch * ss + a] = v[ch];
}

// gR = gray_pre^T(hflip(gA)).
__global__ void k_stage1_t(int s, const CutDev* cuts, const float* gA, float* gR) {
    int k = blockIdx.y;
    const CutDev& c = cuts[k];
    int e = blockIdx.x * blockDim.x + threadIdx.x;
    size_t ss = (size_t) s * s;
    if (e >= (int) ss) return;
    int i = e / s, j = e % s, sj = c.hflip ? s - 1 - j : j;
    const float* ak = gA + (size_t) k * 3 * ss;
    float v[3];
    for (int ch = 0; ch < 3; ch++) v[ch] = ak[ch * ss + (size_t) i * s + sj];
    if (c.gray_pre) gray3_t(v);
    for (int ch = 0; ch < 3; ch++) gR[(size_t) k * 3 * ss + ch * ss + e] = v[ch];
}

// tmp = transpose of k_resize2 (a gather over the transposed tap table of the second pass's axis).
__global__ void k_resize2_t(int s, const CutDev* cuts, const int* trow, const int* tout, const float* tw,
                            const float* g, float* tmp) {
    int k = blockIdx.y;
    const CutDev& c = cuts[k];
    long long e = (long long) blockIdx.x * blockDim.x + threadIdx.x;
    const float* gk = g + (size_t) k * 3 * s * s;
    float acc = 0.0f;
    if (c.h_first) {
        // tmp [3][s][cw]: element (ch, o, x) collects g[ch][o][q] over the outputs q whose x-taps read column cx0 + x
        int cw = c.cx1 - c.cx0;
        if (e >= 3LL * s * cw) return;
        int x = (int) (e % cw), o = (int) ((e / cw) % s), ch = (int) (e / ((long long) cw * s));
        int r = c.cx0 + x - c.axt_base;
        if (r >= 0 && r < c.axt_len) acc = gather_taps(trow + c.axt_off, tout, tw, r, gk + ((size_t) ch * s + o) * s, 1);
    } else {
        // tmp [3][chh][s]: element (ch, y, q) collects g[ch][o][q] over the outputs o whose y-taps read row cy0 + y
        int chh = c.cy1 - c.cy0;
        if (e >= 3LL * chh * s) return;
        int q = (int) (e % s), y = (int) ((e / s) % chh), ch = (int) (e / ((long long) s * chh));
        int r = c.cy0 + y - c.ayt_base;
        if (r >= 0 && r < c.ayt_len) acc = gather_taps(trow + c.ayt_off, tout, tw, r, gk + (size_t) ch * s * s + q, s);
    }
    tmp[c.tmp_off + e] = acc;
}

// gimg = transpose of k_resize1, one writer per image pixel: the cuts of its image that cover it, in order, each
// a gather over the transposed tap table of the first pass's axis.
__global__ void k_resize1_t(int n, int h, int w, int s, int k, const CutDev* cuts, const int* trow, const int* tout,
                            const float* tw, const float* tmp, float* gimg) {
    long long e = (long long) blockIdx.x * blockDim.x + threadIdx.x;
    if (e >= (long long) n * 3 * h * w) return;
    int X = (int) (e % w), Y = (int) ((e / w) % h), ch = (int) ((e / ((long long) w * h)) % 3);
    int img = (int) (e / (3LL * h * w));
    float acc = 0.0f;
    for (int ci = 0; ci < k; ci++) {
        const CutDev& c = cuts[ci];
        if (c.img != img) continue;
        if (c.h_first) {
            // tmp [3][s][cw]: row Y of the image fed outputs o of the y pass
            if (X < c.cx0 || X >= c.cx1) continue;
            int r = Y - c.ayt_base;
            if (r < 0 || r >= c.ayt_len) continue;
            int cw = c.cx1 - c.cx0;
            acc += gather_taps(trow + c.ayt_off, tout, tw, r, tmp + c.tmp_off + (size_t) ch * s * cw + (X - c.cx0), cw);
        } else {
            // tmp [3][chh][s]: column X of row Y fed outputs q of the x pass
            if (Y < c.cy0 || Y >= c.cy1) continue;
            int r = X - c.axt_base;
            if (r < 0 || r >= c.axt_len) continue;
            int chh = c.cy1 - c.cy0;
            acc += gather_taps(trow + c.axt_off, tout, tw, r, tmp + c.tmp_off + ((size_t) ch * chh + (Y - c.cy0)) * s, 1);
        }
    }
    gimg[e] = acc;
}

// out[i] = keyed normal i, i < count.
__global__ void k_noise(uint64_t key, uint64_t start, long long count, float* out) {
    for (long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x; i < count; i += (long long) gridDim.x * blockDim.x)
        out[i] = disco_noise::gaussian(key, start, (uint64_t) i);
}

// Device buffers of one call, freed in stream order.
struct Work {
    cudaStream_t st;
    std::vector<void*> bufs;
    cudaError_t err = cudaSuccess;
    explicit Work(cudaStream_t s) : st(s) {}
    template <class T>
    T* alloc(size_t n) {
        void* p = nullptr;
        if (err == cudaSuccess) err = cudaMallocAsync(&p, std::max<size_t>(n, 1) * sizeof(T), st);
        if (p) bufs.push_back(p);
        return (T*) p;
    }
    ~Work() {
        for (void* p : bufs) cudaFreeAsync(p, st);
    }
};

struct Uploaded {
    CutDev* cuts = nullptr;
    int* idx = nullptr;
    float* w = nullptr;
    int* trow = nullptr;
    int* tout = nullptr;
    float* tw = nullptr;
};

// One pinned host buffer per device for the plan, reused from call to call: before it is overwritten, the
// previous call's copy out of it (an event recorded on that call's stream) must have finished — a wait on a copy
// of a few hundred KB issued a whole call earlier, not on the kernels.
struct Staging {
    std::mutex mu;
    void* host = nullptr;
    size_t cap = 0;
    cudaEvent_t done = nullptr;
    bool pending = false;
};
constexpr int kMaxDevices = 64;
Staging g_staging[kMaxDevices];

size_t align16(size_t n) { return (n + 15) & ~(size_t) 15; }

// Copies the plan (with the transposed tables when `transposed`) into one device buffer of the call through the
// device's pinned staging buffer, on the call's stream.
Uploaded upload_plan(Work& wk, const DevPlan& p, bool transposed) {
    Uploaded u;
    struct Part {
        const void* src;
        size_t bytes;
    };
    std::vector<Part> parts = {{p.cuts.data(), p.cuts.size() * sizeof(CutDev)},
                               {p.idx.data(), p.idx.size() * sizeof(int)},
                               {p.w.data(), p.w.size() * sizeof(float)}};
    if (transposed) {
        parts.push_back({p.trow.data(), p.trow.size() * sizeof(int)});
        parts.push_back({p.tout.data(), p.tout.size() * sizeof(int)});
        parts.push_back({p.tw.data(), p.tw.size() * sizeof(float)});
    }
    size_t total = 0;
    for (const Part& q : parts) total += align16(q.bytes);
    char* dev = wk.alloc<char>(total);
    int device = 0;
    if (wk.err == cudaSuccess) wk.err = cudaGetDevice(&device);
    if (wk.err != cudaSuccess) return u;
    if (device < 0 || device >= kMaxDevices) {
        wk.err = cudaErrorInvalidDevice;
        return u;
    }
    Staging& sg = g_staging[device];
    std::lock_guard<std::mutex> lock(sg.mu);
    if (sg.pending) {
        wk.err = cudaEventSynchronize(sg.done);
        sg.pending = false;
        if (wk.err != cudaSuccess) return u;
    }
    if (!sg.done && (wk.err = cudaEventCreateWithFlags(&sg.done, cudaEventDisableTiming)) != cudaSuccess) return u;
    if (sg.cap < total) {
        if (sg.host) cudaFreeHost(sg.host);
        sg.host = nullptr;
        sg.cap = 0;
        if ((wk.err = cudaMallocHost(&sg.host, std::max<size_t>(total, 1 << 20))) != cudaSuccess) return u;
        sg.cap = std::max<size_t>(total, 1 << 20);
    }
    size_t off = 0;
    std::vector<size_t> offs;
    for (const Part& q : parts) {
        std::memcpy((char*) sg.host + off, q.src, q.bytes);
        offs.push_back(off);
        off += align16(q.bytes);
    }
    if ((wk.err = cudaMemcpyAsync(dev, sg.host, total, cudaMemcpyHostToDevice, wk.st)) != cudaSuccess) return u;
    if ((wk.err = cudaEventRecord(sg.done, wk.st)) != cudaSuccess) return u;
    sg.pending = true;
    u.cuts = (CutDev*) (dev + offs[0]);
    u.idx = (int*) (dev + offs[1]);
    u.w = (float*) (dev + offs[2]);
    if (transposed) {
        u.trow = (int*) (dev + offs[3]);
        u.tout = (int*) (dev + offs[4]);
        u.tw = (float*) (dev + offs[5]);
    }
    return u;
}

// The forward up to the jitter input, into out.
void pre_jitter_device(Work& wk, const DevPlan& p, const Uploaded& u, const float* image, int h, int w, int k, int s,
                       const NoiseDev& noise, float* out) {
    size_t n3 = (size_t) 3 * s * s, ss = (size_t) s * s;
    float* tmp = wk.alloc<float>((size_t) p.tmp_total);
    float* R = wk.alloc<float>(k * n3);
    float* A = wk.alloc<float>(k * n3);
    if (wk.err != cudaSuccess) return;
    dim3 g1((unsigned) ((p.max_tmp + TPB - 1) / TPB), k), g2((unsigned) ((n3 + TPB - 1) / TPB), k),
        gp((unsigned) ((ss + TPB - 1) / TPB), k);
    k_resize1<<<g1, TPB, 0, wk.st>>>(image, h, w, s, u.cuts, u.idx, u.w, tmp);
    k_resize2<<<g2, TPB, 0, wk.st>>>(s, u.cuts, u.idx, u.w, tmp, R);
    k_stage1<<<gp, TPB, 0, wk.st>>>(s, u.cuts, R, noise, A);
    k_stage2<<<gp, TPB, 0, wk.st>>>(s, u.cuts, A, noise, out);
}

// The jitter ops in place on out (its jitter input); when saved != NULL (size max_nj * K * 3 * S * S) keeps each
// jitter step's input.
void jitter_device(Work& wk, const DevPlan& p, const Uploaded& u, int k, int s, float* out, float* saved) {
    size_t n3 = (size_t) 3 * s * s, ss = (size_t) s * s;
    float* sums = wk.alloc<float>(k);
    if (wk.err != cudaSuccess) return;
    dim3 gp((unsigned) ((ss + TPB - 1) / TPB), k);
    for (int j = 0; j < p.max_nj; j++) {
        k_cut_sum<<<k, TPB, 0, wk.st>>>(s, u.cuts, j, 0, out, nullptr, sums);
        k_jitter_fwd<<<gp, TPB, 0, wk.st>>>(s, u.cuts, j, out, saved ? saved + (size_t) j * k * n3 : nullptr, sums);
    }
}

int check(Work& wk, const char* fn) {
    cudaError_t e = wk.err != cudaSuccess ? wk.err : cudaGetLastError();
    if (e == cudaSuccess && disco_cuda::debug_sync()) e = cudaDeviceSynchronize();
    if (e != cudaSuccess) return disco_fail(DISCO_ECUDA, "%s: %s", fn, cudaGetErrorString(e));
    return DISCO_OK;
}

NoiseDev noise_dev(const CutNoise& nz) {
    NoiseDev d;
    d.given = nz.given;
    d.keyed = nz.keyed ? 1 : 0;
    d.key = nz.key;
    d.start = nz.start;
    return d;
}

}  // namespace

int cutouts_forward_cuda(const float* image, int n, int h, int w, const float* cuts, int k, int s,
                         const CutNoise& noise, float* out, float* state, void* stream) {
    (void) n;
    const char* fn = "disco_cutouts_forward";
    if (k > 65535) return disco_fail(DISCO_EINVAL, "%s: at most 65535 cuts per call on CUDA, got %d", fn, k);
    DISCO_TRY(require_device(fn, "image", image));
    DISCO_TRY(require_device(fn, "noise", noise.given));
    DISCO_TRY(require_device(fn, "out", out));
    DISCO_TRY(require_device(fn, "state", state));
    DevPlan p = build_plan(cuts, k, h, w, s);
    Work wk((cudaStream_t) stream);
    Uploaded u = upload_plan(wk, p, false);
    if (wk.err == cudaSuccess) pre_jitter_device(wk, p, u, image, h, w, k, s, noise_dev(noise), out);
    // the state ([max_nj, K, 3, S, S]) receives each jitter step's input
    if (wk.err == cudaSuccess) jitter_device(wk, p, u, k, s, out, state);
    return check(wk, fn);
}

int cutouts_backward_cuda(const float* image, int n, int h, int w, const float* cuts, int k, int s,
                          const CutNoise& noise, const float* state, const float* grad_out, float* grad_image,
                          void* stream) {
    const char* fn = "disco_cutouts_backward";
    if (k > 65535) return disco_fail(DISCO_EINVAL, "%s: at most 65535 cuts per call on CUDA, got %d", fn, k);
    DISCO_TRY(require_device(fn, "image", image));
    DISCO_TRY(require_device(fn, "noise", noise.given));
    DISCO_TRY(require_device(fn, "state", state));
    DISCO_TRY(require_device(fn, "grad_out", grad_out));
    DISCO_TRY(require_device(fn, "grad_image", grad_image));
    DevPlan p = build_plan(cuts, k, h, w, s);
    size_t n3 = (size_t) 3 * s * s, ss = (size_t) s * s;
    Work wk((cudaStream_t) stream);
    Uploaded u = upload_plan(wk, p, true);
    float* g = wk.alloc<float>(k * n3);
    float* gA = wk.alloc<float>(k * n3);
    float* tmp = wk.alloc<float>((size_t) p.tmp_total);
    float* sums = wk.alloc<float>(k);
    float* gsums = wk.alloc<float>(k);
    // the jitter ops are differentiated at their inputs: the forward's state, or recomputed into saved
    const bool recompute = p.max_nj > 0 && !state;
    float* fwd = recompute ? wk.alloc<float>(k * n3) : nullptr;
    float* saved_buf = recompute ? wk.alloc<float>((size_t) p.max_nj * k * n3) : nullptr;
    const float* saved = recompute ? saved_buf : state;
    if (wk.err == cudaSuccess) {
        dim3 g1((unsigned) ((p.max_tmp + TPB - 1) / TPB), k), gp((unsigned) ((ss + TPB - 1) / TPB), k);
        if (recompute) {
            pre_jitter_device(wk, p, u, image, h, w, k, s, noise_dev(noise), fwd);
            if (wk.err == cudaSuccess) jitter_device(wk, p, u, k, s, fwd, saved_buf);
        }
        if (wk.err == cudaSuccess)
            wk.err = cudaMemcpyAsync(g, grad_out, k * n3 * sizeof(float), cudaMemcpyDeviceToDevice, wk.st);
        for (int j = p.max_nj - 1; j >= 0 && wk.err == cudaSuccess; j--) {
            const float* sv = saved + (size_t) j * k * n3;
            k_cut_sum<<<k, TPB, 0, wk.st>>>(s, u.cuts, j, 0, sv, nullptr, sums);
            k_jitter_bwd1<<<gp, TPB, 0, wk.st>>>(s, u.cuts, j, sv, sums, g);
            k_cut_sum<<<k, TPB, 0, wk.st>>>(s, u.cuts, j, 1, nullptr, g, gsums);
            k_jitter_bwd2<<<gp, TPB, 0, wk.st>>>(s, u.cuts, j, gsums, g);
        }
        if (wk.err == cudaSuccess) {
            // every element of gA, tmp and grad_image has one writer: nothing to zero first
            const long long nimg = (long long) n * 3 * h * w;
            k_stage2_t<<<gp, TPB, 0, wk.st>>>(s, u.cuts, g, gA);
            k_stage1_t<<<gp, TPB, 0, wk.st>>>(s, u.cuts, gA, g);
            k_resize2_t<<<g1, TPB, 0, wk.st>>>(s, u.cuts, u.trow, u.tout, u.tw, g, tmp);
            k_resize1_t<<<(unsigned) ((nimg + TPB - 1) / TPB), TPB, 0, wk.st>>>(n, h, w, s, k, u.cuts, u.trow, u.tout,
                                                                             u.tw, tmp, grad_image);
        }
    }
    return check(wk, fn);
}

int cutouts_noise_cuda(uint64_t key, uint64_t start, int64_t count, float* out, void* stream) {
    const char* fn = "disco_cutouts_noise";
    DISCO_TRY(require_device(fn, "out", out));
    const unsigned blocks = (unsigned) std::min<int64_t>((count + TPB - 1) / TPB, 65535);
    k_noise<<<blocks, TPB, 0, (cudaStream_t) stream>>>(key, start, (long long) count, out);
    cudaError_t e = cudaGetLastError();
    if (e == cudaSuccess && disco_cuda::debug_sync()) e = cudaDeviceSynchronize();
    if (e != cudaSuccess) return disco_fail(DISCO_ECUDA, "%s: k_noise: %s", fn, cudaGetErrorString(e));
    return DISCO_OK;
}
