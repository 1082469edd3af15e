// test_cutouts: the cutout stage's CPU twin against straightforward references (ResizeRight in double, gray, hflip,
// a 90-degree affine), the adjoint identity of its linear part, each colour-jitter op's backward against central
// differences of a double-precision torchvision reference (factors far from 1, tight tolerance), a whole random
// pipeline against finite differences, bad input, the CUDA backward's gathers (transposed tap tables, the affine
// window) run on the CPU against the scatters they replace; with --cuda, CUDA vs the CPU twin and bitwise
// repeatability.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "cutouts_common.h"
#include "testing.h"

namespace {

typedef std::vector<float> Cut;

dt::Rng rng(1234);
double uni(double a, double b) { return std::uniform_real_distribution<double>(a, b)(rng.g); }
int irand(int a, int b) { return (int) rng.range(a, b); }

std::vector<float> rand_vec(size_t n, double a, double b) {
    std::vector<float> v(n);
    for (auto& x : v) x = (float) uni(a, b);
    return v;
}
Cut blank_cut(int img, int y0, int x0, int bh, int bw) {
    Cut c(DISCO_CUT_FIELDS, 0.0f);
    c[DISCO_CUT_IMAGE] = (float) img;
    c[DISCO_CUT_Y0] = (float) y0; c[DISCO_CUT_X0] = (float) x0;
    c[DISCO_CUT_H] = (float) bh; c[DISCO_CUT_W] = (float) bw;
    c[DISCO_CUT_BRIGHTNESS] = c[DISCO_CUT_CONTRAST] = c[DISCO_CUT_SATURATION] = 1.0f;
    return c;
}

// A random box: inside the image (inner crop) or the padded square around it (overview).
Cut random_cut(int n, int h, int w, bool linear_only) {
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
        std::shuffle(perm, perm + 4, rng.g);
        c[DISCO_CUT_N_JITTER] = (float) irand(1, 4);
        for (int j = 0; j < 4; j++) c[DISCO_CUT_JITTER_OP0 + j] = (float) perm[j];
        c[DISCO_CUT_BRIGHTNESS] = (float) uni(0.9, 1.1);
        c[DISCO_CUT_CONTRAST] = (float) uni(0.9, 1.1);
        c[DISCO_CUT_SATURATION] = (float) uni(0.9, 1.1);
        c[DISCO_CUT_HUE] = (float) uni(-0.1, 0.1);
    }
    return c;
}

std::vector<float> flat(const std::vector<Cut>& cuts) {
    std::vector<float> f;
    for (auto& c : cuts) f.insert(f.end(), c.begin(), c.end());
    return f;
}

std::vector<float> fwd(const std::vector<float>& img, int n, int h, int w, const std::vector<Cut>& cuts, int s,
                              const float* noise) {
    std::vector<float> out(cuts.size() * 3 * s * s);
    std::vector<float> t = flat(cuts);
    dt::expect_ok(disco_cutouts_forward(img.data(), n, h, w, t.data(), (int64_t) cuts.size(), s, noise, out.data(), 0,
                                        nullptr), "forward");
    return out;
}

std::vector<float> bwd(const std::vector<float>& img, int n, int h, int w, const std::vector<Cut>& cuts, int s,
                              const float* noise, const std::vector<float>& g) {
    std::vector<float> gi((size_t) n * 3 * h * w, 123.0f);
    std::vector<float> t = flat(cuts);
    dt::expect_ok(disco_cutouts_backward(img.data(), n, h, w, t.data(), (int64_t) cuts.size(), s, noise, g.data(),
                                         gi.data(), 0, nullptr), "backward");
    return gi;
}

// Straightforward ResizeRight: for each output pixel, a 2D sum over the box with weights from the formulas in the
// paper (projected grid, stretched cubic, normalised per dim), in double; taps outside the box or image read 0.
double cubic(double x) {
    double a = std::fabs(x);
    if (a <= 1) return 1.5 * a * a * a - 2.5 * a * a + 1;
    if (a <= 2) return -0.5 * a * a * a + 2.5 * a * a - 4 * a + 2;
    return 0;
}
std::vector<double> weights1d(int in, int out, int o, std::vector<long>& pos) {
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
void test_reference_resize() {
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
        dt::expect_le(maxd / std::max(1.0, maxr), 1e-5, "resize vs reference h" + std::to_string(h) + " w" + std::to_string(w) +
                      " s" + std::to_string(s) + " box " + std::to_string(bh) + "x" + std::to_string(bw));
    }
}

// gray, hflip and the affine against direct formulas on a cut whose box is the whole (square) image at S.
void test_reference_pointwise() {
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
    dt::expect_le(err, 1e-6, "gray + hflip vs reference");
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
    dt::expect_le(err, 1e-5, "affine 90 degrees vs reference");
}

void test_adjoint() {
    for (int trial = 0; trial < 30; trial++) {
        int n = irand(1, 3), h = irand(2, 50), w = irand(2, 50), s = irand(2, 20), k = irand(1, 5);
        std::vector<Cut> cuts;
        for (int i = 0; i < k; i++) cuts.push_back(random_cut(n, h, w, true));
        std::vector<float> x = rand_vec((size_t) n * 3 * h * w, -1, 1), y = rand_vec((size_t) k * 3 * s * s, -1, 1);
        double ax_y = dt::dot(fwd(x, n, h, w, cuts, s, nullptr), y);
        double x_aty = dt::dot(x, bwd(x, n, h, w, cuts, s, nullptr, y));
        dt::expect_le(std::fabs(ax_y - x_aty) / (std::fabs(ax_y) + 1), 1e-4,
                      "adjoint <Ax, y> = <x, A^T y> trial " + std::to_string(trial));
    }
}

// torchvision's colour-jitter ops on one [3, S, S] image in double: _blend(img, other, f) = clamp(f img +
// (1 - f) other, 0, 1) with other = the image's grayscale mean (contrast) or its grayscale (saturation);
// adjust_hue through _rgb2hsv, (h + f) % 1, _hsv2rgb.
double clamp01d(double v) { return v < 0 ? 0 : (v > 1 ? 1 : v); }

void hue_reference(const double in[3], double f, double out[3]) {
    const double r = in[0], g = in[1], b = in[2];
    const double mx = std::max(r, std::max(g, b)), mn = std::min(r, std::min(g, b));
    const bool eqc = mx == mn;
    const double cr = mx - mn, sat = cr / (eqc ? 1.0 : mx), crd = eqc ? 1.0 : cr;
    const double rc = (mx - r) / crd, gc = (mx - g) / crd, bc = (mx - b) / crd;
    double h = mx == r ? bc - gc : (mx == g ? 2.0 + rc - bc : 4.0 + gc - rc);
    h = std::fmod(h / 6.0 + 1.0, 1.0);
    h += f;
    h -= std::floor(h);
    const double i6 = std::floor(h * 6.0), fr = h * 6.0 - i6;
    const int i = ((int) i6) % 6;
    const double v = mx, p = clamp01d(v * (1 - sat)), q = clamp01d(v * (1 - sat * fr)),
                 t = clamp01d(v * (1 - sat * (1 - fr)));
    const double rgb[6][3] = {{v, t, p}, {q, v, p}, {p, v, t}, {p, q, v}, {t, p, v}, {v, p, q}};
    for (int c = 0; c < 3; c++) out[c] = rgb[i][c];
}

std::vector<double> jitter_reference(int op, double f, const std::vector<double>& x, int s) {
    const size_t ss = (size_t) s * s;
    std::vector<double> out(3 * ss);
    auto gray = [&](size_t i) { return 0.2989 * x[i] + 0.587 * x[ss + i] + 0.114 * x[2 * ss + i]; };
    if (op == 0) {
        for (size_t i = 0; i < 3 * ss; i++) out[i] = clamp01d(f * x[i]);
    } else if (op == 1) {
        double mean = 0;
        for (size_t i = 0; i < ss; i++) mean += gray(i);
        mean /= double(ss);
        for (size_t i = 0; i < 3 * ss; i++) out[i] = clamp01d(f * x[i] + (1 - f) * mean);
    } else if (op == 2) {
        for (size_t i = 0; i < ss; i++) {
            const double l = gray(i);
            for (int c = 0; c < 3; c++) out[c * ss + i] = clamp01d(f * x[c * ss + i] + (1 - f) * l);
        }
    } else {
        for (size_t i = 0; i < ss; i++) {
            const double in[3] = {x[i], x[ss + i], x[2 * ss + i]};
            double o[3];
            hue_reference(in, f, o);
            for (int c = 0; c < 3; c++) out[c * ss + i] = o[c];
        }
    }
    return out;
}

// Each jitter op alone, with factors far from 1 (hue far from 0) so that every term of its backward (the direct
// one, and the one through the grayscale or its mean) carries weight: the kernel's forward against the reference,
// its VJP against central differences of the reference at every coordinate. The cotangent is one-signed, so the
// terms through the mean add up instead of cancelling. A term of the backward off by half fails by orders of
// magnitude more than the tolerance.
void test_jitter_ops() {
    const int s = 8;
    const size_t n3 = (size_t) 3 * s * s;
    struct Case {
        int op;
        double f;
        const char* name;
    };
    const Case cases[] = {{0, 0.35, "brightness 0.35"}, {0, 1.9, "brightness 1.9"}, {1, 0.3, "contrast 0.3"},
                          {1, 2.2, "contrast 2.2"},     {2, 0.2, "saturation 0.2"}, {2, 2.5, "saturation 2.5"},
                          {3, 0.35, "hue 0.35"},        {3, -0.4, "hue -0.4"}};
    const int field[] = {DISCO_CUT_BRIGHTNESS, DISCO_CUT_CONTRAST, DISCO_CUT_SATURATION, DISCO_CUT_HUE};
    for (const Case& k : cases) {
        const std::vector<float> x = rand_vec(n3, 0.05, 0.95), g = rand_vec(n3, 0.2, 1.0);
        Cut c = blank_cut(0, 0, 0, s, s);  // the whole image at its own size: the resize is the identity
        c[DISCO_CUT_N_JITTER] = 1;
        c[DISCO_CUT_JITTER_OP0] = (float) k.op;
        c[field[k.op]] = (float) k.f;
        const std::vector<double> xd = dt::to_double(x);
        const std::vector<float> out = fwd(x, 1, s, s, {c}, s, nullptr);
        dt::expect_le(dt::max_rel_err(out, jitter_reference(k.op, k.f, xd, s)), 1e-5, std::string(k.name) + " forward");
        const std::vector<float> gi = bwd(x, 1, s, s, {c}, s, nullptr, g);
        std::vector<double> num(n3), xp = xd;
        const double eps = 1e-6;
        auto F = [&](const std::vector<double>& v) {
            const std::vector<double> o = jitter_reference(k.op, k.f, v, s);
            double sum = 0;
            for (size_t i = 0; i < n3; i++) sum += g[i] * o[i];
            return sum;
        };
        for (size_t i = 0; i < n3; i++) {
            xp[i] = xd[i] + eps;
            const double fp = F(xp);
            xp[i] = xd[i] - eps;
            const double fm = F(xp);
            xp[i] = xd[i];
            num[i] = (fp - fm) / (2 * eps);
        }
        dt::expect_le(dt::max_rel_err(gi, num, 1e-3), 1e-5, std::string(k.name) + " backward vs finite differences");
    }
}

// The whole pipeline (random boxes, flips, affine, noise, 1-4 jitter ops near 1) against finite differences of
// the float32 forward along a random direction.
void test_finite_differences() {
    for (int trial = 0; trial < 30; trial++) {
        int n = 1, h = irand(4, 24), w = irand(4, 24), s = irand(3, 12), k = irand(1, 3);
        std::vector<Cut> cuts;
        for (int i = 0; i < k; i++) cuts.push_back(random_cut(n, h, w, false));
        std::vector<float> x = rand_vec((size_t) n * 3 * h * w, 0.05, 0.95);
        std::vector<float> noise = rand_vec((size_t) k * 9 * s * s, -1, 1);
        std::vector<float> y = rand_vec((size_t) k * 3 * s * s, -1, 1), v = rand_vec(x.size(), -1, 1);
        double eps = 2e-4;
        std::vector<float> xp(x), xm(x);
        for (size_t i = 0; i < x.size(); i++) {
            xp[i] += (float) (eps * v[i]);
            xm[i] -= (float) (eps * v[i]);
        }
        double fd = (dt::dot(fwd(xp, n, h, w, cuts, s, noise.data()), y) -
                     dt::dot(fwd(xm, n, h, w, cuts, s, noise.data()), y)) / (2 * eps);
        double an = dt::dot(v, bwd(x, n, h, w, cuts, s, noise.data(), y));
        dt::expect_le(std::fabs(fd - an) / (std::fabs(an) + std::fabs(fd) + 0.05), 2e-2,
                      "whole pipeline vs finite differences trial " + std::to_string(trial));
    }
}

void test_bad_input() {
    std::vector<float> img(3 * 8 * 8, 0.5f), out(3 * 4 * 4);
    Cut c = blank_cut(0, 10, 0, 4, 4);  // box below the image
    dt::expect_rc(disco_cutouts_forward(img.data(), 1, 8, 8, c.data(), 1, 4, nullptr, out.data(), 0, nullptr),
                  DISCO_EINVAL, "box outside the image");
    dt::expect(std::string(disco_last_error()).find("outside") != std::string::npos, "message says outside");
    c = blank_cut(1, 0, 0, 4, 4);  // image index out of range
    dt::expect_rc(disco_cutouts_forward(img.data(), 1, 8, 8, c.data(), 1, 4, nullptr, out.data(), 0, nullptr),
                  DISCO_EINVAL, "image index");
    c = blank_cut(0, 0, 0, 4, 4);
    c[DISCO_CUT_NOISE2] = 0.01f;  // noise without a noise buffer
    dt::expect_rc(disco_cutouts_forward(img.data(), 1, 8, 8, c.data(), 1, 4, nullptr, out.data(), 0, nullptr),
                  DISCO_EINVAL, "noise NULL");
    c = blank_cut(0, 0, 0, 4, 4);
    dt::expect_rc(disco_cutouts_forward(img.data(), 1, 8, 8, c.data(), 1, 4, nullptr, out.data(), 7, nullptr),
                  DISCO_EINVAL, "device 7");
    dt::expect_rc(disco_cutouts_backward(img.data(), 1, 8, 8, c.data(), 1, 4, nullptr, nullptr, img.data(), 0, nullptr),
                  DISCO_EINVAL, "backward without grad_out");
    dt::expect_rc(disco_cutouts_forward(img.data(), (int64_t) 1 << 31, 8, 8, c.data(), 1, 4, nullptr, out.data(), 0,
                                        nullptr), DISCO_EINVAL, "n beyond the kernels' int range");
    dt::expect(std::string(disco_last_error()).find("n = 2147483648") != std::string::npos, "message names n");
    dt::expect_rc(disco_cutouts_forward(img.data(), 1, 8, 8, c.data(), -((int64_t) 1 << 32) + 1, 4, nullptr, out.data(), 0,
                                        nullptr), DISCO_EINVAL, "a negative k that narrows to 1");
    if (!disco_built_with_cuda())
        dt::expect_rc(disco_cutouts_forward(img.data(), 1, 8, 8, c.data(), 1, 4, nullptr, out.data(), 1, nullptr),
                      DISCO_ENOCUDA, "device 1 without CUDA");
}

bool bitwise(const std::vector<float>& a, const std::vector<float>& b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// The reference generator written plainly (disco.util.RandomStream + CutDraws.parallelGaussians with libm's log and
// cos): the kernels' noise (fdlibm's algorithms, vectorised) equals it to within 1 float ulp, and in practice
// bitwise; the count of inexact values is printed.
void test_noise_reference() {
    const uint64_t G = 0x9E3779B97F4A7C15ULL;
    auto mix = [](uint64_t z) {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        return z ^ (z >> 31);
    };
    const uint64_t keys[] = {0, 1, 0x0123456789ABCDEFULL, 0xFFFFFFFFFFFFFFFFULL, 0x9E3779B97F4A7C15ULL};
    const int64_t starts[] = {0, 1, 12345, ((int64_t) 1 << 40) + 7};
    long inexact = 0, total = 0;
    for (uint64_t key : keys)
        for (int64_t start : starts) {
            const int64_t count = 100003;
            std::vector<float> out((size_t) count), ref((size_t) count);
            dt::expect_ok(disco_cutouts_noise(key, start, count, out.data(), 0, nullptr), "noise");
            for (int64_t e = 0; e < count; e++) {  // Box-Muller pair e / 2: cos for even e, sin for odd
                const uint64_t p = (uint64_t) start + 2 * (uint64_t) (e / 2);
                const double u1 = 1.0 - (double) (mix(key + (p + 1) * G) >> 11) * 0x1.0p-53;
                const double u2 = (double) (mix(key + (p + 2) * G) >> 11) * 0x1.0p-53;
                const double th = 2.0 * 3.141592653589793 * u2;
                ref[(size_t) e] = (float) (std::sqrt(-2.0 * std::log(u1)) * (e % 2 ? std::sin(th) : std::cos(th)));
            }
            long bad = 0;
            for (int64_t e = 0; e < count; e++) {
                const float a = out[(size_t) e], r = ref[(size_t) e];
                if (a == r) continue;
                inexact++;
                if (std::nextafter(r, a) != a) bad++;
            }
            total += count;
            dt::expect(bad == 0, "noise within 1 float ulp of the reference, key " + std::to_string(key) + " start " +
                                     std::to_string(start));
            // a position offset is a shift of the same stream: element e of start + 2m is element e + 2m of start
            std::vector<float> shifted(1000);
            dt::expect_ok(disco_cutouts_noise(key, start + 2 * 500, 1000, shifted.data(), 0, nullptr), "noise shifted");
            dt::expect(std::memcmp(shifted.data(), out.data() + 1000, 1000 * sizeof(float)) == 0, "noise offset = shift");
        }
    std::printf("     noise vs libm reference: %ld of %ld values differ (by 1 ulp)\n", inexact, total);
    dt::expect(inexact * 10000 <= total, "noise bitwise equal to the reference but for rare 1-ulp cases");
    float one;
    dt::expect_rc(disco_cutouts_noise(1, -2, 1, &one, 0, nullptr), DISCO_EINVAL, "negative noise start");
    dt::expect_rc(disco_cutouts_noise(1, 0, 0, &one, 0, nullptr), DISCO_EINVAL, "zero noise count");
}

// The keyed kernels' state: [J, K, 3, S, S], J = the largest n_jitter of the cuts.
size_t state_slots(const std::vector<float>& t, int k) {
    size_t j = 0;
    for (int c = 0; c < k; c++) j = std::max(j, (size_t) t[(size_t) c * DISCO_CUT_FIELDS + DISCO_CUT_N_JITTER]);
    return j;
}

// The CPU twin (threads, compact tap tables, gathers) against the first kernel it replaced (cutouts_baseline.cpp):
// bitwise equal forward and backward, for 1 and 3 threads; the keyed forms equal the given forms fed the keyed
// noise, and the backward given the forward's state equals the recomputing one.
void test_twin_vs_baseline() {
    for (int trial = 0; trial < 16; trial++) {
        int n = irand(1, 2), h = irand(4, 90), w = irand(4, 90), s = irand(3, 40), k = irand(1, 8);
        std::vector<Cut> cuts;
        for (int i = 0; i < k; i++) cuts.push_back(random_cut(n, h, w, trial % 4 == 0));
        if (k > 2) cuts[1] = cuts[0], cuts[1][DISCO_CUT_HFLIP] = 1.0f - cuts[0][DISCO_CUT_HFLIP];  // a shared box
        std::vector<float> t = flat(cuts), x = rand_vec((size_t) n * 3 * h * w, 0, 1);
        std::vector<float> g = rand_vec((size_t) k * 3 * s * s, -1, 1);
        const uint64_t key = 0x1234ULL * (uint64_t) (trial + 1);
        const int64_t start = 2 * trial + 1;
        std::vector<float> noise((size_t) k * 9 * s * s);
        dt::expect_ok(disco_cutouts_noise(key, start, (int64_t) noise.size(), noise.data(), 0, nullptr), "noise");
        const size_t no = (size_t) k * 3 * s * s, ni = x.size();
        std::vector<float> out0(no), gi0(ni);
        dt::expect_ok(disco_cutouts_baseline_forward(x.data(), n, h, w, t.data(), k, s, noise.data(), out0.data()), "baseline fwd");
        dt::expect_ok(disco_cutouts_baseline_backward(x.data(), n, h, w, t.data(), k, s, noise.data(), g.data(), gi0.data()),
                      "baseline bwd");
        const std::string tag = " trial " + std::to_string(trial);
        for (const char* threads : {"1", "3"}) {
            setenv("DISCO_KERNEL_THREADS", threads, 1);
            const std::string tt = tag + " threads " + threads;
            std::vector<float> out = fwd(x, n, h, w, cuts, s, noise.data());
            std::vector<float> gi = bwd(x, n, h, w, cuts, s, noise.data(), g);
            dt::expect(bitwise(out, out0), "twin forward == baseline" + tt);
            dt::expect(bitwise(gi, gi0), "twin backward == baseline" + tt);
            std::vector<float> outk(no), state(state_slots(t, k) * no), gik(ni), gis(ni);
            dt::expect_ok(disco_cutouts_forward_keyed(x.data(), n, h, w, t.data(), k, s, key, start, outk.data(),
                                                      state.data(), 0, nullptr), "keyed forward");
            dt::expect_ok(disco_cutouts_backward_keyed(x.data(), n, h, w, t.data(), k, s, key, start, nullptr, g.data(),
                                                       gik.data(), 0, nullptr), "keyed backward");
            dt::expect_ok(disco_cutouts_backward_keyed(x.data(), n, h, w, t.data(), k, s, key, start, state.data(),
                                                       g.data(), gis.data(), 0, nullptr), "keyed backward from state");
            dt::expect(bitwise(outk, out0), "keyed forward == given forward" + tt);
            dt::expect(bitwise(gik, gi0), "keyed backward == given backward" + tt);
            dt::expect(bitwise(gis, gi0), "keyed backward from the state == recomputing" + tt);
        }
        unsetenv("DISCO_KERNEL_THREADS");
    }
}

#ifdef DISCO_WITH_CUDA
void test_cuda_vs_cpu() {
    for (int trial = 0; trial < 20; trial++) {
        int n = irand(1, 2), h = irand(4, 80), w = irand(4, 80), s = irand(3, 40), k = irand(1, 6);
        std::vector<Cut> cuts;
        for (int i = 0; i < k; i++) cuts.push_back(random_cut(n, h, w, trial % 2 == 0));
        std::vector<float> x = rand_vec((size_t) n * 3 * h * w, 0, 1), noise = rand_vec((size_t) k * 9 * s * s, -1, 1);
        std::vector<float> g = rand_vec((size_t) k * 3 * s * s, -1, 1), t = flat(cuts);
        std::vector<float> out_cpu = fwd(x, n, h, w, cuts, s, noise.data());
        std::vector<float> gi_cpu = bwd(x, n, h, w, cuts, s, noise.data(), g);
        dt::Dev dx(x), dn(noise), dg(g), dout(out_cpu.size()), dgi(gi_cpu.size());
        const std::string tag = " trial " + std::to_string(trial);
        dt::expect_ok(disco_cutouts_forward(dx.p, n, h, w, t.data(), k, s, dn.p, dout.p, 1, nullptr), "cuda forward" + tag);
        dt::expect_ok(disco_cutouts_backward(dx.p, n, h, w, t.data(), k, s, dn.p, dg.p, dgi.p, 1, nullptr),
                      "cuda backward" + tag);
        dt::expect_le(dt::max_rel_err(dout.host(), out_cpu), 1e-5, "cuda vs cpu forward" + tag);
        dt::expect_le(dt::max_rel_err(dgi.host(), gi_cpu), 1e-4, "cuda vs cpu backward" + tag);
        // deterministic: no atomics, so a second backward is bitwise the first
        dt::Dev dgi2(gi_cpu.size());
        dt::expect_ok(disco_cutouts_backward(dx.p, n, h, w, t.data(), k, s, dn.p, dg.p, dgi2.p, 1, nullptr),
                      "cuda backward again" + tag);
        const std::vector<float> b1 = dgi.host(), b2 = dgi2.host();
        dt::expect(std::memcmp(b1.data(), b2.data(), b1.size() * sizeof(float)) == 0, "cuda backward bitwise repeatable" + tag);
    }
    // keyed noise: CUDA's generator is the CPU twin's, bitwise (the same double operations, no FMA contraction)
    for (int64_t start : {(int64_t) 0, (int64_t) 77, ((int64_t) 1 << 36) + 3}) {
        const int64_t count = 9 * 16 * 224 * 224 / 16;
        std::vector<float> cpu((size_t) count);
        dt::expect_ok(disco_cutouts_noise(0xC0FFEEULL + (uint64_t) start, start, count, cpu.data(), 0, nullptr), "cpu noise");
        dt::Dev dn((size_t) count);
        dt::expect_ok(disco_cutouts_noise(0xC0FFEEULL + (uint64_t) start, start, count, dn.p, 1, nullptr), "cuda noise");
        const std::vector<float> gpu = dn.host();
        long differ = 0;
        for (size_t i = 0; i < cpu.size(); i++) differ += std::memcmp(&gpu[i], &cpu[i], sizeof(float)) != 0;
        dt::expect_le((double) differ, 0.0, "cuda vs cpu noise bitwise, start " + std::to_string(start));
    }
    // keyed forward/backward (with and without the state) against the CPU twin
    for (int trial = 0; trial < 8; trial++) {
        int n = irand(1, 2), h = irand(4, 80), w = irand(4, 80), s = irand(3, 40), k = irand(1, 6);
        std::vector<Cut> cuts;
        for (int i = 0; i < k; i++) cuts.push_back(random_cut(n, h, w, false));
        std::vector<float> x = rand_vec((size_t) n * 3 * h * w, 0, 1), g = rand_vec((size_t) k * 3 * s * s, -1, 1);
        std::vector<float> t = flat(cuts);
        const size_t no = (size_t) k * 3 * s * s;
        std::vector<float> out_cpu(no), gi_cpu(x.size());
        dt::expect_ok(disco_cutouts_forward_keyed(x.data(), n, h, w, t.data(), k, s, 99, 5, out_cpu.data(), nullptr, 0, nullptr), "cpu keyed");
        dt::expect_ok(disco_cutouts_backward_keyed(x.data(), n, h, w, t.data(), k, s, 99, 5, nullptr, g.data(), gi_cpu.data(), 0, nullptr), "cpu keyed bwd");
        dt::Dev dx(x), dg(g), dout(no), dstate(std::max<size_t>(1, state_slots(t, k)) * no), dgi(x.size()), dgs(x.size());
        const std::string tag = " keyed trial " + std::to_string(trial);
        dt::expect_ok(disco_cutouts_forward_keyed(dx.p, n, h, w, t.data(), k, s, 99, 5, dout.p, dstate.p, 1, nullptr), "cuda keyed forward" + tag);
        dt::expect_ok(disco_cutouts_backward_keyed(dx.p, n, h, w, t.data(), k, s, 99, 5, nullptr, dg.p, dgi.p, 1, nullptr), "cuda keyed backward" + tag);
        dt::expect_ok(disco_cutouts_backward_keyed(dx.p, n, h, w, t.data(), k, s, 99, 5, dstate.p, dg.p, dgs.p, 1, nullptr), "cuda keyed backward from state" + tag);
        dt::expect_le(dt::max_rel_err(dout.host(), out_cpu), 1e-5, "cuda vs cpu keyed forward" + tag);
        dt::expect_le(dt::max_rel_err(dgi.host(), gi_cpu), 1e-4, "cuda vs cpu keyed backward" + tag);
        dt::expect(bitwise(dgs.host(), dgi.host()), "cuda keyed backward from the state == recomputing" + tag);
    }
    // a host pointer on the CUDA path is refused (no fault)
    std::vector<float> img(3 * 8 * 8, 0.5f), out(3 * 4 * 4);
    Cut c = blank_cut(0, 0, 0, 8, 8);
    dt::expect_rc(disco_cutouts_forward(img.data(), 1, 8, 8, c.data(), 1, 4, nullptr, out.data(), 1, nullptr),
                  DISCO_EINVAL, "host pointers with device 1");
}
#endif

// The gathers the CUDA backward uses instead of atomic scatters, evaluated on the CPU with the same inline
// functions: each equals the scatter (the transpose it replaces) summed in double.
struct HostGrad {
    const float* g;
    size_t ss;
    void operator()(int e, float* v) const { v[0] = g[e]; v[1] = g[ss + e]; v[2] = g[2 * ss + e]; }
};

void test_transposes_as_gathers() {
    for (int trial = 0; trial < 40; trial++) {
        const int in_sz = irand(3, 300), out_sz = irand(2, 64), limit = irand(in_sz / 2 + 1, in_sz + 40);
        const int origin = irand(-in_sz / 3, limit - 1);
        disco_cut::Axis a = disco_cut::make_axis(in_sz, out_sz, origin, limit);
        disco_cut::AxisT t = disco_cut::transpose_axis(a, out_sz);
        std::vector<float> g = rand_vec((size_t) out_sz, -1, 1);
        std::vector<double> scatter((size_t) limit, 0.0);
        for (int o = 0; o < out_sz; o++)
            for (int k = 0; k < a.taps; k++) {
                const size_t q = (size_t) o * a.taps + k;
                if (a.w[q] != 0.0f) scatter[(size_t) a.idx[q]] += (double) a.w[q] * g[(size_t) o];
            }
        std::vector<float> gather((size_t) limit, 0.0f);
        for (int x = 0; x < limit; x++) {
            const int r = x - t.base;
            if (r >= 0 && r < t.len) gather[(size_t) x] = disco_cut::gather_taps(t.row.data(), t.out.data(), t.w.data(), r, g.data(), 1);
        }
        dt::expect_le(dt::max_rel_err(gather, scatter, 1e-3), 1e-5, "resize transpose as a gather, trial " + std::to_string(trial));
    }
    for (int trial = 0; trial < 24; trial++) {
        const int s = irand(5, 40);
        const size_t ss = (size_t) s * s;
        const double angle = trial < 4 ? 90.0 * trial : uni(-45, 45);
        float m[6], minv[4];
        disco_cut::affine_matrix(angle, uni(-0.2, 0.2) * s, uni(-0.2, 0.2) * s, m);
        const int r = disco_cut::affine_inverse(m, minv);
        const bool fill_mask = trial % 2 == 1;
        std::vector<float> g = rand_vec(3 * ss, -1, 1);
        std::vector<double> scatter(3 * ss, 0.0);
        for (int i = 0; i < s; i++)
            for (int j = 0; j < s; j++) {
                int idx[4];
                float wt[4];
                const float mask = disco_cut::affine_taps(m, s, i, j, idx, wt);
                const float mul = fill_mask ? mask : 1.0f;
                for (int ch = 0; ch < 3; ch++)
                    for (int q = 0; q < 4; q++)
                        if (wt[q] != 0.0f) scatter[ch * ss + (size_t) idx[q]] += (double) wt[q] * g[ch * ss + (size_t) (i * s + j)] * mul;
            }
        std::vector<float> gather(3 * ss);
        const HostGrad hg{g.data(), ss};
        for (int a = 0; a < (int) ss; a++) {
            float acc[3];
            disco_cut::affine_transpose_at(m, minv, r, fill_mask, s, a, hg, acc);
            for (int ch = 0; ch < 3; ch++) gather[ch * ss + (size_t) a] = acc[ch];
        }
        dt::expect_le(dt::max_rel_err(gather, scatter, 1e-3), 1e-5,
                      "affine transpose as a gather, angle " + std::to_string(angle) + ", s " + std::to_string(s));
    }
}

}  // namespace

int main(int argc, char** argv) {
    dt::init(argc, argv);
    test_reference_resize();
    test_reference_pointwise();
    test_adjoint();
    test_jitter_ops();
    test_finite_differences();
    test_bad_input();
    test_transposes_as_gathers();
    test_noise_reference();
    test_twin_vs_baseline();
#ifdef DISCO_WITH_CUDA
    if (dt::cuda_ready()) test_cuda_vs_cpu();
#endif
    return dt::finish("test_cutouts");
}
