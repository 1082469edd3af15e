// test_sat_loss: CPU twin vs DD's formula (double), backward vs finite differences away from the kinks, torch's
// conventions at the kinks (gradient 0 at |x| <= 1); CUDA vs CPU twin when possible.
#include "testing.h"

static double reference(const std::vector<double>& x) {
    double s = 0;
    for (double v : x) s += std::fabs(v - std::min(1.0, std::max(-1.0, v)));
    return s / double(x.size());
}

int main(int argc, char** argv) {
    dt::init(argc, argv);
    dt::Rng rng(5);
    for (int trial = 0; trial < 10; trial++) {
        const int64_t count = rng.range(1, 5000);
        const std::string tag = "count " + std::to_string(count);
        std::vector<float> x = rng.normals(count, 1.5f);
        for (auto& v : x)
            if (std::fabs(std::fabs(v) - 1.f) < 1e-2f) v += 0.05f;
        float loss = 0;
        dt::expect_ok(disco_sat_loss(x.data(), count, &loss, 0, nullptr), "sat forward " + tag);
        dt::expect_le(std::fabs(loss - reference(dt::to_double(x))) / std::max(1e-6, reference(dt::to_double(x))), 1e-6, "sat forward " + tag);
        const float gl = rng.normal();
        std::vector<float> gx(count);
        dt::expect_ok(disco_sat_loss_backward(x.data(), &gl, count, gx.data(), 0, 0, nullptr), "sat backward " + tag);
        auto f = [&](const std::vector<double>& xv) { return gl * reference(xv); };
        auto [idx, num] = dt::fd_probes(dt::to_double(x), f, rng, 40, 1e-4);
        dt::expect_le(dt::max_rel_err(dt::at(gx, idx), num, 1e-6), 1e-3, "sat backward vs finite differences " + tag);
#ifdef DISCO_WITH_CUDA
        if (dt::cuda_ready()) {
            dt::Dev dx(x), dl(1), dgl(std::vector<float>{gl}), dg(count);
            dt::expect_ok(disco_sat_loss(dx.p, count, dl.p, 1, nullptr), "sat cuda forward " + tag);
            dt::expect_le(dt::max_rel_err(dl.host(), std::vector<float>{loss}), 1e-5, "sat cuda vs cpu forward " + tag);
            dt::expect_ok(disco_sat_loss_backward(dx.p, dgl.p, count, dg.p, 0, 1, nullptr), "sat cuda backward " + tag);
            dt::expect_le(dt::max_rel_err(dg.host(), gx), 1e-6, "sat cuda vs cpu backward " + tag);
            {  // determinism: forward and backward again, bitwise equal
                dt::Dev dl2(1), dg2(count);
                disco_sat_loss(dx.p, count, dl2.p, 1, nullptr);
                disco_sat_loss_backward(dx.p, dgl.p, count, dg2.p, 0, 1, nullptr);
                dt::expect(dl2.host() == dl.host() && dg2.host() == dg.host(), "sat cuda repeat bitwise " + tag);
            }
        }
#endif
    }
    // torch's conventions at the kinks: |x| <= 1 (bounds included) has gradient 0
    std::vector<float> x = {1.f, -1.f, 0.5f, 1.5f, -2.f}, g(5);
    const float one = 1.f;
    disco_sat_loss_backward(x.data(), &one, 5, g.data(), 0, 0, nullptr);
    dt::expect(g[0] == 0.f && g[1] == 0.f && g[2] == 0.f && g[3] == 0.2f && g[4] == -0.2f, "sat gradient at the kinks");
    float v = 0;
    dt::expect_rc(disco_sat_loss(&v, 0, &v, 0, nullptr), DISCO_EINVAL, "sat count = 0");
    return dt::finish("test_sat_loss");
}
