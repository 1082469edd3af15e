// test_tv_loss: the CPU twin against a straightforward DD-style reference (explicit replicate padding, double),
// its backward against finite differences and an adjoint identity, random sizes; CUDA vs CPU twin when possible.
#include "testing.h"

namespace {

// DD: input = F.pad(input, (0,1,0,1), 'replicate'); x_diff = in[..., :-1, 1:] - in[..., :-1, :-1]; ...
std::vector<double> reference(const std::vector<double>& x, int64_t n, int64_t c, int64_t h, int64_t w) {
    std::vector<double> out(n, 0.0);
    const int64_t H = h + 1, W = w + 1;
    std::vector<double> pad(H * W);
    for (int64_t b = 0; b < n; b++) {
        double s = 0;
        for (int64_t ch = 0; ch < c; ch++) {
            const double* p = x.data() + (b * c + ch) * h * w;
            for (int64_t i = 0; i < H; i++)
                for (int64_t j = 0; j < W; j++) pad[i * W + j] = p[std::min(i, h - 1) * w + std::min(j, w - 1)];
            for (int64_t i = 0; i < h; i++)
                for (int64_t j = 0; j < w; j++) {
                    const double xd = pad[i * W + j + 1] - pad[i * W + j];
                    const double yd = pad[(i + 1) * W + j] - pad[i * W + j];
                    s += xd * xd + yd * yd;
                }
        }
        out[b] = s / double(c * h * w);
    }
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    dt::init(argc, argv);
    dt::Rng rng(1234);
    for (int trial = 0; trial < 12; trial++) {
        const int64_t n = rng.range(1, 3), c = rng.range(1, 4), h = rng.range(1, 17), w = rng.range(1, 19);
        const std::string tag = "n" + std::to_string(n) + " c" + std::to_string(c) + " h" + std::to_string(h) +
                                " w" + std::to_string(w);
        const std::vector<float> x = rng.normals(n * c * h * w);
        std::vector<float> loss(n);
        dt::expect_ok(disco_tv_loss(x.data(), n, c, h, w, loss.data(), 0, nullptr), "tv forward " + tag);
        dt::expect_le(dt::max_rel_err(loss, reference(dt::to_double(x), n, c, h, w)), 1e-6, "tv forward " + tag);

        // backward: gradient of sum_b gl[b] * loss[b] vs central differences of the double reference
        const std::vector<float> gl = rng.normals(n);
        std::vector<float> gx(x.size(), 0.f);
        dt::expect_ok(disco_tv_loss_backward(x.data(), gl.data(), n, c, h, w, gx.data(), 0, 0, nullptr),
                      "tv backward " + tag);
        auto f = [&](const std::vector<double>& xv) {
            auto l = reference(xv, n, c, h, w);
            double s = 0;
            for (int64_t b = 0; b < n; b++) s += gl[b] * l[b];
            return s;
        };
        auto [idx, num] = dt::fd_probes(dt::to_double(x), f, rng, 40, 1e-4);
        dt::expect_le(dt::max_rel_err(dt::at(gx, idx), num, 1e-3), 1e-4, "tv backward vs finite differences " + tag);

        // accumulate adds exactly once more
        std::vector<float> gx2 = gx;
        dt::expect_ok(disco_tv_loss_backward(x.data(), gl.data(), n, c, h, w, gx2.data(), 1, 0, nullptr),
                      "tv backward accumulate " + tag);
        std::vector<float> twice(gx.size());
        for (size_t i = 0; i < gx.size(); i++) twice[i] = 2 * gx[i];
        dt::expect_le(dt::max_rel_err(gx2, twice), 1e-6, "tv backward accumulate " + tag);

        // tv is a quadratic form: loss(x) = x^T Q x, so <grad(x) with gl=1, x> = 2 * sum loss (Euler)
        std::vector<float> ones(n, 1.f), g1(x.size());
        disco_tv_loss_backward(x.data(), ones.data(), n, c, h, w, g1.data(), 0, 0, nullptr);
        double sum_loss = 0;
        for (float l : loss) sum_loss += l;
        dt::expect_le(std::fabs(dt::dot(g1, x) - 2 * sum_loss) / std::max(1e-9, 2 * sum_loss), 1e-5,
                      "tv Euler identity <grad, x> = 2 loss " + tag);

#ifdef DISCO_WITH_CUDA
        if (dt::cuda_ready()) {
            dt::Dev dx(x), dl(n), dgl(gl), dg(x.size());
            dt::expect_ok(disco_tv_loss(dx.p, n, c, h, w, dl.p, 1, nullptr), "tv cuda forward " + tag);
            dt::expect_le(dt::max_rel_err(dl.host(), loss), 1e-5, "tv cuda vs cpu forward " + tag);
            dt::expect_ok(disco_tv_loss_backward(dx.p, dgl.p, n, c, h, w, dg.p, 0, 1, nullptr),
                          "tv cuda backward " + tag);
            dt::expect_le(dt::max_rel_err(dg.host(), gx), 1e-5, "tv cuda vs cpu backward " + tag);
            {  // determinism: forward and backward again, bitwise equal
                dt::Dev dl2(n), dg2(x.size());
                disco_tv_loss(dx.p, n, c, h, w, dl2.p, 1, nullptr);
                disco_tv_loss_backward(dx.p, dgl.p, n, c, h, w, dg2.p, 0, 1, nullptr);
                dt::expect(dl2.host() == dl.host() && dg2.host() == dg.host(), "tv cuda repeat bitwise " + tag);
            }
            dt::expect_rc(disco_tv_loss(x.data(), n, c, h, w, dl.p, 1, nullptr), DISCO_EINVAL, "tv cuda refuses a host x " + tag);
        }
#endif
    }
    // bad arguments: error codes and messages, never a crash
    float v = 0;
    dt::expect_rc(disco_tv_loss(nullptr, 1, 1, 1, 1, &v, 0, nullptr), DISCO_EINVAL, "tv null x");
    dt::expect(std::string(disco_last_error()).find("x is NULL") != std::string::npos, "message names x");
    dt::expect_rc(disco_tv_loss(&v, 1, 0, 1, 1, &v, 0, nullptr), DISCO_EINVAL, "tv c = 0");
    dt::expect_rc(disco_tv_loss(&v, 1, 1, 1, 1, &v, 7, nullptr), DISCO_EINVAL, "tv device 7");
    if (!disco_built_with_cuda())
        dt::expect_rc(disco_tv_loss(&v, 1, 1, 1, 1, &v, 1, nullptr), DISCO_ENOCUDA, "tv CUDA on a CPU build");
    return dt::finish("test_tv_loss");
}
