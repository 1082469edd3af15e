// ctest for the cutout stage: CPU twin vs a straightforward reference, adjoint dot-product tests for the linear
// part, finite differences for the colour jitter (clamps, hue), bad input, and CUDA vs the CPU twin when built with
// CUDA and a GPU is present.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "disco_kernels.h"
#ifdef DISCO_WITH_CUDA
#include <cuda_runtime.h>
#endif

static int failures = 0;
#define CHECK(cond, ...)                                   \
    do {                                                   \
        if (!(cond)) {                                     \
            std::fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
            std::fprintf(stderr, __VA_ARGS__);             \
            std::fprintf(stderr, "\n");                    \
            failures++;                                    \
        }                                                  \
    } while (0)

typedef std::vector<float> Cut;

static std::mt19937_64 rng(1234);
static double uni(double a, double b) { return std::uniform_real_distribution<double>(a, b)(rng); }
static int irand(int a, int b) { return std::uniform_int_distribution<int>(a, b)(rng); }

static std::vector<float> rand_vec(size_t n, double a, double b) {
    std::vector<float> v(n);
    for (auto& x : v) x = (float) uni(a, b);
    return v;
}

static Cut blank_cut(int img, int y0, int x0, int bh, int bw) {
    Cut c(DISCO_CUT_FIELDS, 0.0f);
    c[DISCO_CUT_IMAGE] = (float) img;
    c[DISCO_CUT_Y0] = (float) y0; c[DISCO_CUT_X0] = (float) x0;
    c[DISCO_CUT_H] = (float) bh; c[DISCO_CUT_W] = (float) bw;
    c[DISCO_CUT_BRIGHTNESS] = c[DISCO_CUT_CONTRAST] = c[DISCO_CUT_SATURATION] = 1.0f;
    return c;
}

// A random box: inside the image (inner crop) or the padded square around it (overview).
static Cut random_cut(int n, int h, int w, bool linear_only) {
    Cut c;
    if (irand(0, 1)) {
        int m = std::min(h, w), size = irand(1, m);
        c = blank_cut(irand(0, n - 1), irand(0, h - size), irand(0, w - size), size, size);
    } else {
        int m = std::min(h, w), ph = (w - m) / 2, pw = (h - m) / 2;
        c = blank_cut(irand(0, n - 1), -ph, -pw, h + 2 * ph, w + 2 * pw);
    }
    c[DISCO_CUT_GRAY_PRE] = (float) irand(0, 1);
    c[DISCO_CUT_HFLIP] = (float) irand(0, 1);
    c[DISCO_CUT_AFFINE] = (float) irand(0, 1);
    c[DISCO_CUT_ANGLE] = (float) uni(-10, 10);
    c[DISCO_CUT_TX] = (float) irand(-3, 3);
    c[DISCO_CUT_TY] = (float) irand(-3, 3);
    c[DISCO_CUT_FILL_MASK] = (float) irand(0, 1);
    c[DISCO_CUT_GRAY_AUG] = (float) irand(0, 1);
    if (!linear_only) {
        c[DISCO_CUT_NOISE1] = c[DISCO_CUT_NOISE2] = c[DISCO_CUT_NOISE3] = 0.01f;
        int perm[4] = {0, 1, 2, 3};
        std::shuffle(perm, perm + 4, rng);
        c[DISCO_CUT_N_JITTER] = (float) irand(1, 4);
        for (int j = 0; j < 4; j++) c[DISCO_CUT_JITTER_OP0 + j] = (float) perm[j];
        c[DISCO_CUT_BRIGHTNESS] = (float) uni(0.9, 1.1);
        c[DISCO_CUT_CONTRAST] = (float) uni(0.9, 1.1);
        c[DISCO_CUT_SATURATION] = (float) uni(0.9, 1.1);
        c[DISCO_CUT_HUE] = (float) uni(-0.1, 0.1);
    }
    return c;
}

static std::vector<float> flat(const std::vector<Cut>& cuts) {
    std::vector<float> f;
    for (auto& c : cuts) f.insert(f.end(), c.begin(), c.end());
    return f;
}

static std::vector<float> fwd(const std::vector<float>& img, int n, int h, int w, const std::vector<Cut>& cuts, int s,
                              const float* noise) {
    std::vector<float> out(cuts.size() * 3 * s * s);
    std::vector<float> t = flat(cuts);
    int rc = disco_cutouts_forward(img.data(), n, h, w, t.data(), (int) cuts.size(), s, noise, out.data(), 0, nullptr);
    CHECK(rc == 0, "forward rc=%d: %s", rc, disco_last_error());
    return out;
}

static std::vector<float> bwd(const std::vector<float>& img, int n, int h, int w, const std::vector<Cut>& cuts, int s,
                              const float* noise, const std::vector<float>& g) {
    std::vector<float> gi((size_t) n * 3 * h * w, 123.0f);
    std::vector<float> t = flat(cuts);
    int rc = disco_cutouts_backward(img.data(), n, h, w, t.data(), (int) cuts.size(), s, noise, g.data(), gi.data(), 0,
                                    nullptr);
    CHECK(rc == 0, "backward rc=%d: %s", rc, disco_last_error());
    return gi;
}

static double dot(const std::vector<float>& a, const std::vector<float>& b) {
    double s = 0;
    for (size_t i = 0; i < a.size(); i++) s += (double) a[i] * b[i];
    return s;
}

// Straightforward ResizeRight: for each output pixel, a 2D sum over the box with weights from the formulas in the
// paper (projected grid, stretched cubic, normalised per dim), in double; taps outside the box or image read 0.
static double cubic(double x) {
    double a = std::fabs(x);
    if (a <= 1) return 1.5 * a * a * a - 2.5 * a * a + 1;
    if (a <= 2) return -0.5 * a * a * a + 2.5 * a * a - 4 * a + 2;
    return 0;
}
static std::vector<double> weights1d(int in, int out, int o, std::vector<long>& pos) {
    double sc = (double) out / in, sup = sc < 1 ? 4 / sc : 4;
    double g = o / sc + (in - 1) / 2.0 - (out - 1) / (2 * sc);
    std::vector<double> ws;
    pos.clear();
    double sum = 0;
    for (long j = (long) std::floor(g - sup / 2) - 1; j <= (long) std::ceil(g + sup / 2) + 1; j++) {
        double v = sc < 1 ? sc * cubic(sc * (g - j)) : cubic(g - j);
        if (v == 0) continue;
        ws.push_back(v); pos.push_back(j); sum += v;
    }
    for (auto& v : ws) v /= sum;
    return ws;
}
static void test_reference_resize() {
    for (int trial = 0; trial < 20; trial++) {
        int h = irand(3, 40), w = irand(3, 40), s = irand(2, 24), n = 2;
        std::vector<float> img = rand_vec((size_t) n * 3 * h * w, -1, 1);
        Cut c = random_cut(n, h, w, true);
        c[DISCO_CUT_GRAY_PRE] = c[DISCO_CUT_HFLIP] = c[DISCO_CUT_AFFINE] = c[DISCO_CUT_GRAY_AUG] = 0;
        std::vector<float> out = fwd(img, n, h, w, {c}, s, nullptr);
        int y0 = (int) c[DISCO_CUT_Y0], x0 = (int) c[DISCO_CUT_X0], bh = (int) c[DISCO_CUT_H], bw = (int) c[DISCO_CUT_W];
        const float* im = img.data() + (size_t) c[DISCO_CUT_IMAGE] * 3 * h * w;
        double maxd = 0, maxr = 0;
        for (int ch = 0; ch < 3; ch++)
            for (int o = 0; o < s; o++)
                for (int q = 0; q < s; q++) {
                    std::vector<long> py, px;
                    std::vector<double> wy = bh == s ? std::vector<double>{1.0} : weights1d(bh, s, o, py);
                    std::vector<double> wx = bw == s ? std::vector<double>{1.0} : weights1d(bw, s, q, px);
                    if (bh == s) py = {o};
                    if (bw == s) px = {q};
                    double acc = 0;
                    for (size_t a = 0; a < wy.size(); a++)
                        for (size_t b = 0; b < wx.size(); b++) {
                            long yy = py[a], xx = px[b];
                            if (yy < 0 || yy >= bh || xx < 0 || xx >= bw) continue;
                            long ry = y0 + yy, rx = x0 + xx;
                            if (ry < 0 || ry >= h || rx < 0 || rx >= w) continue;
                            acc += wy[a] * wx[b] * im[(size_t) ch * h * w + ry * w + rx];
                        }
                    maxd = std::max(maxd, std::fabs(acc - out[((size_t) ch * s + o) * s + q]));
                    maxr = std::max(maxr, std::fabs(acc));
                }
        CHECK(maxd <= 1e-5 * std::max(1.0, maxr), "resize vs reference: h=%d w=%d s=%d box %dx%d err %g", h, w, s, bh, bw, maxd);
    }
}

// gray, hflip and the affine against direct formulas on a cut whose box is the whole (square) image at S.
static void test_reference_pointwise() {
    int s = 9;
    std::vector<float> img = rand_vec(3 * s * s, 0, 1);
    Cut c = blank_cut(0, 0, 0, s, s);
    c[DISCO_CUT_GRAY_PRE] = 1; c[DISCO_CUT_HFLIP] = 1;
    std::vector<float> out = fwd(img, 1, s, s, {c}, s, nullptr);
    double err = 0;
    for (int y = 0; y < s; y++)
        for (int x = 0; x < s; x++) {
            int sx = s - 1 - x;
            double l = 0.2989 * img[y * s + sx] + 0.587 * img[s * s + y * s + sx] + 0.114 * img[2 * s * s + y * s + sx];
            for (int ch = 0; ch < 3; ch++) err = std::max(err, std::fabs(l - out[ch * s * s + y * s + x]));
        }
    CHECK(err < 1e-6, "gray+hflip vs reference err %g", err);
    // affine: rotation by 90 degrees about the centre maps pixels exactly (odd size), no translation.
    Cut a = blank_cut(0, 0, 0, s, s);
    a[DISCO_CUT_AFFINE] = 1; a[DISCO_CUT_ANGLE] = 90; a[DISCO_CUT_FILL_MASK] = 1;
    out = fwd(img, 1, s, s, {a}, s, nullptr);
    err = 0;
    for (int y = 0; y < s; y++)
        for (int x = 0; x < s; x++) {
            // torchvision's inverse map for +90 degrees: source column = y, source row = s-1-x
            int sx = y, sy = s - 1 - x;
            for (int ch = 0; ch < 3; ch++)
                err = std::max(err, (double) std::fabs(img[ch * s * s + sy * s + sx] - out[ch * s * s + y * s + x]));
        }
    CHECK(err < 1e-5, "affine 90 degrees vs reference err %g", err);
}

static void test_adjoint() {
    for (int trial = 0; trial < 30; trial++) {
        int n = irand(1, 3), h = irand(2, 50), w = irand(2, 50), s = irand(2, 20), k = irand(1, 5);
        std::vector<Cut> cuts;
        for (int i = 0; i < k; i++) cuts.push_back(random_cut(n, h, w, true));
        std::vector<float> x = rand_vec((size_t) n * 3 * h * w, -1, 1), y = rand_vec((size_t) k * 3 * s * s, -1, 1);
        double ax_y = dot(fwd(x, n, h, w, cuts, s, nullptr), y);
        double x_aty = dot(x, bwd(x, n, h, w, cuts, s, nullptr, y));
        CHECK(std::fabs(ax_y - x_aty) <= 1e-4 * (std::fabs(ax_y) + 1), "adjoint n=%d h=%d w=%d s=%d k=%d: %.8g vs %.8g",
              n, h, w, s, k, ax_y, x_aty);
    }
}

static void test_finite_differences() {
    for (int trial = 0; trial < 30; trial++) {
        int n = 1, h = irand(4, 24), w = irand(4, 24), s = irand(3, 12), k = irand(1, 3);
        std::vector<Cut> cuts;
        for (int i = 0; i < k; i++) cuts.push_back(random_cut(n, h, w, false));
        std::vector<float> x = rand_vec((size_t) n * 3 * h * w, 0.05, 0.95);
        std::vector<float> noise = rand_vec((size_t) k * 9 * s * s, -1, 1);
        std::vector<float> y = rand_vec((size_t) k * 3 * s * s, -1, 1), v = rand_vec(x.size(), -1, 1);
        double eps = 2e-4;
        std::vector<float> xp(x), xm(x);
        for (size_t i = 0; i < x.size(); i++) { xp[i] += (float) (eps * v[i]); xm[i] -= (float) (eps * v[i]); }
        double fd = (dot(fwd(xp, n, h, w, cuts, s, noise.data()), y) - dot(fwd(xm, n, h, w, cuts, s, noise.data()), y)) / (2 * eps);
        double an = dot(v, bwd(x, n, h, w, cuts, s, noise.data(), y));
        CHECK(std::fabs(fd - an) <= 2e-2 * (std::fabs(an) + std::fabs(fd)) + 1e-3, "finite differences trial %d: fd %.6g vs vjp %.6g", trial, fd, an);
    }
}

static void test_bad_input() {
    std::vector<float> img(3 * 8 * 8, 0.5f), out(3 * 4 * 4);
    Cut c = blank_cut(0, 10, 0, 4, 4);  // box below the image
    int rc = disco_cutouts_forward(img.data(), 1, 8, 8, c.data(), 1, 4, nullptr, out.data(), 0, nullptr);
    CHECK(rc == DISCO_EINVAL, "box outside the image: rc=%d", rc);
    c = blank_cut(1, 0, 0, 4, 4);  // image index out of range
    rc = disco_cutouts_forward(img.data(), 1, 8, 8, c.data(), 1, 4, nullptr, out.data(), 0, nullptr);
    CHECK(rc == DISCO_EINVAL, "image index: rc=%d", rc);
    c = blank_cut(0, 0, 0, 4, 4);
    c[DISCO_CUT_NOISE2] = 0.01f;  // noise without a noise buffer
    rc = disco_cutouts_forward(img.data(), 1, 8, 8, c.data(), 1, 4, nullptr, out.data(), 0, nullptr);
    CHECK(rc == DISCO_EINVAL, "noise NULL: rc=%d", rc);
    c = blank_cut(0, 0, 0, 4, 4);
    rc = disco_cutouts_forward(img.data(), 1, 8, 8, c.data(), 1, 4, nullptr, out.data(), 7, nullptr);
    CHECK(rc == DISCO_EINVAL, "device 7: rc=%d", rc);
#ifndef DISCO_WITH_CUDA
    rc = disco_cutouts_forward(img.data(), 1, 8, 8, c.data(), 1, 4, nullptr, out.data(), 1, nullptr);
    CHECK(rc == DISCO_ENOCUDA, "device 1 without CUDA: rc=%d", rc);
#endif
}

#ifdef DISCO_WITH_CUDA
static float* to_dev(const std::vector<float>& v) {
    float* d = nullptr;
    cudaMalloc(&d, v.size() * sizeof(float));
    cudaMemcpy(d, v.data(), v.size() * sizeof(float), cudaMemcpyHostToDevice);
    return d;
}
static std::vector<float> from_dev(const float* d, size_t n) {
    std::vector<float> v(n);
    cudaMemcpy(v.data(), d, n * sizeof(float), cudaMemcpyDeviceToHost);
    return v;
}
static double rel(const std::vector<float>& a, const std::vector<float>& b) {
    double md = 0, mr = 0;
    for (size_t i = 0; i < a.size(); i++) { md = std::max(md, (double) std::fabs(a[i] - b[i])); mr = std::max(mr, (double) std::fabs(b[i])); }
    return md / std::max(mr, 1e-30);
}
static void test_cuda_vs_cpu() {
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
        std::printf("SKIP CUDA vs CPU: no GPU\n");
        return;
    }
    for (int trial = 0; trial < 20; trial++) {
        int n = irand(1, 2), h = irand(4, 80), w = irand(4, 80), s = irand(3, 40), k = irand(1, 6);
        std::vector<Cut> cuts;
        for (int i = 0; i < k; i++) cuts.push_back(random_cut(n, h, w, trial % 2 == 0));
        std::vector<float> x = rand_vec((size_t) n * 3 * h * w, 0, 1), noise = rand_vec((size_t) k * 9 * s * s, -1, 1);
        std::vector<float> g = rand_vec((size_t) k * 3 * s * s, -1, 1), t = flat(cuts);
        std::vector<float> out_cpu = fwd(x, n, h, w, cuts, s, noise.data());
        std::vector<float> gi_cpu = bwd(x, n, h, w, cuts, s, noise.data(), g);
        float *dx = to_dev(x), *dn = to_dev(noise), *dg = to_dev(g), *dout = nullptr, *dgi = nullptr;
        cudaMalloc(&dout, out_cpu.size() * sizeof(float));
        cudaMalloc(&dgi, gi_cpu.size() * sizeof(float));
        int rc = disco_cutouts_forward(dx, n, h, w, t.data(), k, s, dn, dout, 1, nullptr);
        CHECK(rc == 0, "cuda forward rc=%d %s", rc, disco_last_error());
        rc = disco_cutouts_backward(dx, n, h, w, t.data(), k, s, dn, dg, dgi, 1, nullptr);
        CHECK(rc == 0, "cuda backward rc=%d %s", rc, disco_last_error());
        double ef = rel(from_dev(dout, out_cpu.size()), out_cpu), eb = rel(from_dev(dgi, gi_cpu.size()), gi_cpu);
        CHECK(ef < 1e-5, "cuda vs cpu forward trial %d err %g", trial, ef);
        CHECK(eb < 1e-4, "cuda vs cpu backward trial %d err %g", trial, eb);
        cudaFree(dx); cudaFree(dn); cudaFree(dg); cudaFree(dout); cudaFree(dgi);
    }
    // a host pointer on the CUDA path is refused (no fault)
    std::vector<float> img(3 * 8 * 8, 0.5f), out(3 * 4 * 4);
    Cut c = blank_cut(0, 0, 0, 8, 8);
    int rc = disco_cutouts_forward(img.data(), 1, 8, 8, c.data(), 1, 4, nullptr, out.data(), 1, nullptr);
    CHECK(rc == DISCO_EINVAL, "host pointers with device 1: rc=%d", rc);
}
#endif

int main() {
    test_reference_resize();
    test_reference_pointwise();
    test_adjoint();
    test_finite_differences();
    test_bad_input();
#ifdef DISCO_WITH_CUDA
    test_cuda_vs_cpu();
#endif
    if (failures) {
        std::fprintf(stderr, "%d failure(s)\n", failures);
        return 1;
    }
    std::printf("test_cutouts: all passed\n");
    return 0;
}
