// test_spherical_dist: DD's spherical_dist_loss (double reference following the torch expression), its VJP for
// x and y vs finite differences, random sizes and scales; CUDA vs CPU twin when possible.
#include "testing.h"

static std::vector<double> reference(const std::vector<double>& x, const std::vector<double>& y, int64_t a, int64_t b,
                                     int64_t d) {
    auto normalize = [d](const double* p, std::vector<double>& out) {
        double s = 0;
        for (int64_t k = 0; k < d; k++) s += p[k] * p[k];
        const double n = std::max(std::sqrt(s), 1e-12);
        out.resize(d);
        for (int64_t k = 0; k < d; k++) out[k] = p[k] / n;
    };
    std::vector<double> out(a * b), u, v;
    for (int64_t i = 0; i < a; i++)
        for (int64_t j = 0; j < b; j++) {
            normalize(x.data() + i * d, u);
            normalize(y.data() + j * d, v);
            double s = 0;
            for (int64_t k = 0; k < d; k++) s += (u[k] - v[k]) * (u[k] - v[k]);
            const double as = std::asin(std::sqrt(s) / 2);
            out[i * b + j] = 2 * as * as;
        }
    return out;
}

int main(int argc, char** argv) {
    dt::init(argc, argv);
    dt::Rng rng(31);
    for (int trial = 0; trial < 10; trial++) {
        const int64_t a = rng.range(1, 9), b = rng.range(1, 5), d = rng.range(1, 70);
        const float sx = trial % 3 == 0 ? 0.01f : 3.f;
        const std::string tag = "a" + std::to_string(a) + " b" + std::to_string(b) + " d" + std::to_string(d);
        const std::vector<float> x = rng.normals(a * d, sx), y = rng.normals(b * d);
        std::vector<float> out(a * b);
        dt::expect_ok(disco_spherical_dist(x.data(), y.data(), a, b, d, out.data(), 0, nullptr), "sph forward " + tag);
        const auto ref = reference(dt::to_double(x), dt::to_double(y), a, b, d);
        dt::expect_le(dt::max_rel_err(out, ref), 1e-5, "sph forward " + tag);

        const std::vector<float> go = rng.normals(a * b);
        std::vector<float> gx(a * d), gy(b * d);
        dt::expect_ok(disco_spherical_dist_backward(x.data(), y.data(), go.data(), a, b, d, gx.data(), gy.data(), 0, 0, nullptr),
                      "sph backward " + tag);
        const auto yd = dt::to_double(y), xd = dt::to_double(x);
        auto fx = [&](const std::vector<double>& xv) {
            auto o = reference(xv, yd, a, b, d);
            double s = 0;
            for (int64_t i = 0; i < a * b; i++) s += go[i] * o[i];
            return s;
        };
        auto fy = [&](const std::vector<double>& yv) {
            auto o = reference(xd, yv, a, b, d);
            double s = 0;
            for (int64_t i = 0; i < a * b; i++) s += go[i] * o[i];
            return s;
        };
        auto [ix, nx] = dt::fd_probes(xd, fx, rng, 30, 1e-5 * sx);
        dt::expect_le(dt::max_rel_err(dt::at(gx, ix), nx, 1e-6), 1e-3, "sph backward x vs finite differences " + tag);
        auto [iy, ny] = dt::fd_probes(yd, fy, rng, 30, 1e-5);
        dt::expect_le(dt::max_rel_err(dt::at(gy, iy), ny, 1e-6), 1e-3, "sph backward y vs finite differences " + tag);
        // grad_x alone equals the grad_x of the joint call
        std::vector<float> gx_only(a * d);
        disco_spherical_dist_backward(x.data(), y.data(), go.data(), a, b, d, gx_only.data(), nullptr, 0, 0, nullptr);
        dt::expect_le(dt::max_rel_err(gx_only, gx), 0, "sph backward grad_x alone " + tag);
#ifdef DISCO_WITH_CUDA
        if (dt::cuda_ready()) {
            dt::Dev dx(x), dy(y), dout(a * b), dgo(go), dgx(a * d), dgy(b * d);
            dt::expect_ok(disco_spherical_dist(dx.p, dy.p, a, b, d, dout.p, 1, nullptr), "sph cuda forward " + tag);
            dt::expect_le(dt::max_rel_err(dout.host(), out), 1e-5, "sph cuda vs cpu forward " + tag);
            dt::expect_ok(disco_spherical_dist_backward(dx.p, dy.p, dgo.p, a, b, d, dgx.p, dgy.p, 0, 1, nullptr),
                          "sph cuda backward " + tag);
            dt::expect_le(dt::max_rel_err(dgx.host(), gx), 1e-4, "sph cuda vs cpu backward x " + tag);
            dt::expect_le(dt::max_rel_err(dgy.host(), gy), 1e-4, "sph cuda vs cpu backward y " + tag);
            {  // determinism: forward and backward again, bitwise equal
                dt::Dev dout2(a * b), dgx2(a * d), dgy2(b * d);
                disco_spherical_dist(dx.p, dy.p, a, b, d, dout2.p, 1, nullptr);
                disco_spherical_dist_backward(dx.p, dy.p, dgo.p, a, b, d, dgx2.p, dgy2.p, 0, 1, nullptr);
                dt::expect(dout2.host() == dout.host() && dgx2.host() == dgx.host() && dgy2.host() == dgy.host(),
                           "sph cuda repeat bitwise " + tag);
            }
            dt::expect_rc(disco_spherical_dist(dx.p, y.data(), a, b, d, dout.p, 1, nullptr), DISCO_EINVAL, "sph cuda refuses a host y " + tag);
        }
#endif
    }
    // identical directions: distance 0, gradient 0 (torch's norm backward at 0), no NaN
    std::vector<float> x = {1.f, 2.f, 3.f}, y = {2.f, 4.f, 6.f}, out(1), go = {1.f}, gx(3);
    disco_spherical_dist(x.data(), y.data(), 1, 1, 3, out.data(), 0, nullptr);
    disco_spherical_dist_backward(x.data(), y.data(), go.data(), 1, 1, 3, gx.data(), nullptr, 0, 0, nullptr);
    dt::expect(std::fabs(out[0]) < 1e-6f && gx[0] == 0.f && gx[1] == 0.f && gx[2] == 0.f, "sph at distance 0");
    float v = 0;
    dt::expect_rc(disco_spherical_dist(&v, &v, 1, 1, 0, &v, 0, nullptr), DISCO_EINVAL, "sph d = 0");
    return dt::finish("test_spherical_dist");
}
