// test_range_loss: CPU twin vs a DD-style reference (double), backward vs finite differences (probes away from
// the kinks at +-1), random sizes; CUDA vs CPU twin when possible.
#include "testing.h"

static std::vector<double> reference(const std::vector<double>& x, int64_t n, int64_t per) {
    std::vector<double> out(n);
    for (int64_t b = 0; b < n; b++) {
        double s = 0;
        for (int64_t e = 0; e < per; e++) {
            const double v = x[b * per + e], cl = std::min(1.0, std::max(-1.0, v));
            s += (v - cl) * (v - cl);
        }
        out[b] = s / double(per);
    }
    return out;
}

int main(int argc, char** argv) {
    dt::init(argc, argv);
    dt::Rng rng(99);
    for (int trial = 0; trial < 10; trial++) {
        const int64_t n = rng.range(1, 3), c = rng.range(1, 4), h = rng.range(1, 13), w = rng.range(1, 13);
        const int64_t per = c * h * w;
        const std::string tag = "n" + std::to_string(n) + " c" + std::to_string(c) + " h" + std::to_string(h) + " w" + std::to_string(w);
        std::vector<float> x = rng.normals(n * per, 1.5f);
        for (auto& v : x)  // keep finite-difference probes off the kinks
            if (std::fabs(std::fabs(v) - 1.f) < 1e-2f) v += 0.05f;
        std::vector<float> loss(n);
        dt::expect_ok(disco_range_loss(x.data(), n, c, h, w, loss.data(), 0, nullptr), "range forward " + tag);
        dt::expect_le(dt::max_rel_err(loss, reference(dt::to_double(x), n, per)), 1e-6, "range forward " + tag);
        const std::vector<float> gl = rng.normals(n);
        std::vector<float> gx(x.size());
        dt::expect_ok(disco_range_loss_backward(x.data(), gl.data(), n, c, h, w, gx.data(), 0, 0, nullptr), "range backward " + tag);
        auto f = [&](const std::vector<double>& xv) {
            auto l = reference(xv, n, per);
            double s = 0;
            for (int64_t b = 0; b < n; b++) s += gl[b] * l[b];
            return s;
        };
        auto [idx, num] = dt::fd_probes(dt::to_double(x), f, rng, 40, 1e-4);
        dt::expect_le(dt::max_rel_err(dt::at(gx, idx), num, 1e-3), 1e-4, "range backward vs finite differences " + tag);
#ifdef DISCO_WITH_CUDA
        if (dt::cuda_ready()) {
            dt::Dev dx(x), dl(n), dgl(gl), dg(x.size());
            dt::expect_ok(disco_range_loss(dx.p, n, c, h, w, dl.p, 1, nullptr), "range cuda forward " + tag);
            dt::expect_le(dt::max_rel_err(dl.host(), loss), 1e-5, "range cuda vs cpu forward " + tag);
            dt::expect_ok(disco_range_loss_backward(dx.p, dgl.p, n, c, h, w, dg.p, 0, 1, nullptr), "range cuda backward " + tag);
            dt::expect_le(dt::max_rel_err(dg.host(), gx), 1e-5, "range cuda vs cpu backward " + tag);
            {  // determinism: forward and backward again, bitwise equal
                dt::Dev dl2(n), dg2(x.size());
                disco_range_loss(dx.p, n, c, h, w, dl2.p, 1, nullptr);
                disco_range_loss_backward(dx.p, dgl.p, n, c, h, w, dg2.p, 0, 1, nullptr);
                dt::expect(dl2.host() == dl.host() && dg2.host() == dg.host(), "range cuda repeat bitwise " + tag);
            }
        }
#endif
    }
    float v = 0;
    dt::expect_rc(disco_range_loss(&v, -1, 1, 1, 1, &v, 0, nullptr), DISCO_EINVAL, "range n = -1");
    dt::expect_rc(disco_range_loss_backward(&v, nullptr, 1, 1, 1, 1, &v, 0, 0, nullptr), DISCO_EINVAL, "range null grad_loss");
    return dt::finish("test_range_loss");
}
