// test_rms_clamp: DD's clamp against a direct formula, both branches (rms above / below clamp_max), backward vs
// finite differences; CUDA vs CPU twin when possible.
#include "testing.h"

static std::vector<double> reference(const std::vector<double>& g, double M) {
    double s = 0;
    for (double v : g) s += v * v;
    const double r = std::sqrt(s / double(g.size())), f = r > 0 ? std::min(r, M) / r : 1.0;
    std::vector<double> out(g.size());
    for (size_t i = 0; i < g.size(); i++) out[i] = g[i] * f;
    return out;
}

int main(int argc, char** argv) {
    dt::init(argc, argv);
    dt::Rng rng(77);
    for (int trial = 0; trial < 12; trial++) {
        const int64_t count = rng.range(1, 3000);
        const float scale = trial % 2 ? 0.01f : 1.f;  // rms ~ scale: below / above clamp_max
        const float M = 0.05f;
        const std::string tag = "count " + std::to_string(count) + (trial % 2 ? " (not clamped)" : " (clamped)");
        const std::vector<float> g = rng.normals(count, scale);
        std::vector<float> out(count);
        float rms = 0;
        dt::expect_ok(disco_rms_clamp(g.data(), count, M, out.data(), &rms, 0, nullptr), "clamp " + tag);
        dt::expect_le(dt::max_rel_err(out, reference(dt::to_double(g), M)), 1e-6, "clamp " + tag);
        // in place
        std::vector<float> inplace = g;
        disco_rms_clamp(inplace.data(), count, M, inplace.data(), nullptr, 0, nullptr);
        dt::expect_le(dt::max_rel_err(inplace, out), 0, "clamp in place " + tag);

        const std::vector<float> go = rng.normals(count);
        std::vector<float> gg(count);
        dt::expect_ok(disco_rms_clamp_backward(g.data(), go.data(), count, M, nullptr, gg.data(), 0, 0, nullptr),
                      "clamp backward " + tag);
        // with the forward's rms handed back: the same VJP without a second reduction of g^2
        std::vector<float> gr(count);
        dt::expect_ok(disco_rms_clamp_backward(g.data(), go.data(), count, M, &rms, gr.data(), 0, 0, nullptr),
                      "clamp backward with the forward's rms " + tag);
        dt::expect_le(dt::max_rel_err(gr, gg), 1e-5, "clamp backward with the forward's rms vs without " + tag);
        auto f = [&](const std::vector<double>& gv) {
            auto o = reference(gv, M);
            double s = 0;
            for (size_t i = 0; i < o.size(); i++) s += go[i] * o[i];
            return s;
        };
        auto [idx, num] = dt::fd_probes(dt::to_double(g), f, rng, 30, 1e-4 * scale);
        dt::expect_le(dt::max_rel_err(dt::at(gg, idx), num, 1e-6), 1e-4, "clamp backward vs finite differences " + tag);
#ifdef DISCO_WITH_CUDA
        if (dt::cuda_ready()) {
            dt::Dev dg(g), dout(count), drms(1), dgo(go), dgg(count);
            dt::expect_ok(disco_rms_clamp(dg.p, count, M, dout.p, drms.p, 1, nullptr), "clamp cuda " + tag);
            dt::expect_le(dt::max_rel_err(dout.host(), out), 1e-5, "clamp cuda vs cpu " + tag);
            dt::expect_le(dt::max_rel_err(drms.host(), std::vector<float>{rms}), 1e-5, "clamp cuda rms vs cpu " + tag);
            dt::expect_ok(disco_rms_clamp_backward(dg.p, dgo.p, count, M, nullptr, dgg.p, 0, 1, nullptr), "clamp cuda backward " + tag);
            dt::expect_le(dt::max_rel_err(dgg.host(), gg), 1e-4, "clamp cuda vs cpu backward " + tag);
            dt::Dev dgg2(count), dgr(count), dout2(count), drms2(1);
            dt::expect_ok(disco_rms_clamp_backward(dg.p, dgo.p, count, M, drms.p, dgr.p, 0, 1, nullptr),
                          "clamp cuda backward with the forward's rms " + tag);
            dt::expect_le(dt::max_rel_err(dgr.host(), gr), 1e-4, "clamp cuda vs cpu backward with the forward's rms " + tag);
            // determinism: forward and backward twice, bitwise equal
            disco_rms_clamp(dg.p, count, M, dout2.p, drms2.p, 1, nullptr);
            disco_rms_clamp_backward(dg.p, dgo.p, count, M, nullptr, dgg2.p, 0, 1, nullptr);
            dt::expect(dout2.host() == dout.host() && drms2.host() == drms.host() && dgg2.host() == dgg.host(),
                       "clamp cuda repeat bitwise " + tag);
            dt::expect_rc(disco_rms_clamp(g.data(), count, M, dout.p, nullptr, 1, nullptr), DISCO_EINVAL, "clamp cuda refuses a host g " + tag);
        }
#endif
    }
    std::vector<float> z(10, 0.f), o(10, 1.f);
    disco_rms_clamp(z.data(), 10, 0.05f, o.data(), nullptr, 0, nullptr);
    dt::expect(o[0] == 0.f && o[9] == 0.f, "clamp of a zero gradient stays zero");
    float v = 0;
    dt::expect_rc(disco_rms_clamp(&v, 1, 0.f, &v, nullptr, 0, nullptr), DISCO_EINVAL, "clamp_max = 0");
    return dt::finish("test_rms_clamp");
}
