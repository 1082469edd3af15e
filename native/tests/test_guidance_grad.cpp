// test_guidance_grad: the gradient stage against its definition built from the separately tested pieces
// (masked sum of model gradients, tv and sat VJPs, the extra term), loss values, the NaN guard and its per-model
// report; CUDA vs CPU twin when possible, with the flags on the device and a second call bitwise equal to the first.
#include "testing.h"

int main(int argc, char** argv) {
    dt::init(argc, argv);
    dt::Rng rng(2024);
    for (int trial = 0; trial < 8; trial++) {
        const int64_t m = rng.range(0, 3), n = rng.range(1, 2), c = 3, h = rng.range(2, 16), w = rng.range(2, 16);
        const int64_t total = n * c * h * w;
        const std::string tag = "m" + std::to_string(m) + " n" + std::to_string(n) + " h" + std::to_string(h) + " w" + std::to_string(w);
        const std::vector<float> x = rng.normals(total, 1.2f), pred = rng.normals(total, 1.5f);
        std::vector<float> mg = rng.normals(std::max<int64_t>(m, 1) * total, 1e-3f);
        const std::vector<float> extra = rng.normals(total, 1e-2f);
        const bool with_extra = trial % 2 == 1;
        const float* ex = with_extra ? extra.data() : nullptr;
        std::vector<int32_t> mask(std::max<int64_t>(m, 1));
        for (auto& k : mask) k = int32_t(rng.range(0, 1));
        const float clip = 2500.f, tv = 100.f, sat = 50.f;
        std::vector<float> grad(total), losses(2 * n + 1);
        std::vector<int32_t> flags(m + 1, 7);
        dt::expect_ok(disco_guidance_grad(x.data(), pred.data(), mg.data(), mask.data(), m, ex, n, c, h, w, clip, tv,
                                          sat, grad.data(), losses.data(), flags.data(), 0, nullptr), "stage " + tag);
        // expected, from the pieces
        std::vector<double> want(total, 0.0);
        for (int64_t k = 0; k < m; k++)
            if (mask[k])
                for (int64_t e = 0; e < total; e++) want[e] += double(clip) * mg[k * total + e];
        std::vector<float> tvw(n, tv), part(total);
        disco_tv_loss_backward(x.data(), tvw.data(), n, c, h, w, part.data(), 0, 0, nullptr);
        for (int64_t e = 0; e < total; e++) want[e] += part[e];
        disco_sat_loss_backward(x.data(), &sat, total, part.data(), 0, 0, nullptr);
        for (int64_t e = 0; e < total; e++) want[e] += part[e];
        if (with_extra)
            for (int64_t e = 0; e < total; e++) want[e] += extra[e];
        dt::expect_le(dt::max_rel_err(grad, want), 1e-6, "stage gradient " + tag);
        std::vector<float> tvl(n), rl(n);
        float sl = 0;
        disco_tv_loss(x.data(), n, c, h, w, tvl.data(), 0, nullptr);
        disco_range_loss(pred.data(), n, c, h, w, rl.data(), 0, nullptr);
        disco_sat_loss(x.data(), total, &sl, 0, nullptr);
        std::vector<float> wl(tvl);
        wl.insert(wl.end(), rl.begin(), rl.end());
        wl.push_back(sl);
        dt::expect_le(dt::max_rel_err(losses, wl), 0, "stage loss values " + tag);
        bool clean = true;
        for (auto f : flags) clean = clean && f == 0;
        dt::expect(clean, "stage: no NaN flags on finite input " + tag);

        if (m > 0) {
            // NaN in a masked-in model: flagged, whole gradient zero; in a masked-out model: ignored
            const int64_t k = rng.range(0, m - 1);
            std::vector<float> bad = mg;
            bad[k * total + rng.range(0, total - 1)] = NAN;
            std::vector<int32_t> f2(m + 1);
            disco_guidance_grad(x.data(), pred.data(), bad.data(), mask.data(), m, ex, n, c, h, w, clip, tv, sat,
                                grad.data(), losses.data(), f2.data(), 0, nullptr);
            bool zero = true;
            for (float g : grad) zero = zero && g == 0.f;
            if (mask[k]) {
                dt::expect(f2[k] == 1 && f2[m] == 1 && zero, "stage: NaN in model " + std::to_string(k) + " zeroes the gradient " + tag);
            } else {
                dt::expect(f2[k] == 0 && f2[m] == 0 && !zero, "stage: NaN in a masked-out model is ignored " + tag);
            }
        }
        {
            // a NaN in the extra term: the sum's flag, no model's; the gradient zero
            std::vector<float> bad_extra = extra;
            bad_extra[rng.range(0, total - 1)] = NAN;
            std::vector<int32_t> f3(m + 1, 7);
            disco_guidance_grad(x.data(), pred.data(), mg.data(), mask.data(), m, bad_extra.data(), n, c, h, w, clip, tv,
                                sat, grad.data(), losses.data(), f3.data(), 0, nullptr);
            bool zero = true, models_clean = true;
            for (float g : grad) zero = zero && g == 0.f;
            for (int64_t k = 0; k < m; k++) models_clean = models_clean && f3[k] == 0;
            dt::expect(f3[m] == 1 && models_clean && zero, "stage: NaN in the extra term zeroes the gradient " + tag);
        }
#ifdef DISCO_WITH_CUDA
        if (dt::cuda_ready()) {
            dt::Dev dx(x), dp(pred), dmg(mg), dex(extra), dgrad(total), dgrad2(total), dl(2 * n + 1), dl2(2 * n + 1);
            const float* dexp = with_extra ? dex.p : nullptr;
            int32_t* df = nullptr;  // the flags live on the device
            cudaMalloc(&df, sizeof(int32_t) * (m + 1));
            cudaMemset(df, 0x7f, sizeof(int32_t) * (m + 1));
            auto flags_host = [&] {
                std::vector<int32_t> f(m + 1);
                cudaDeviceSynchronize();
                cudaMemcpy(f.data(), df, sizeof(int32_t) * (m + 1), cudaMemcpyDeviceToHost);
                return f;
            };
            dt::expect_ok(disco_guidance_grad(dx.p, dp.p, dmg.p, mask.data(), m, dexp, n, c, h, w, clip, tv, sat, dgrad.p,
                                              dl.p, df, 1, nullptr), "stage cuda " + tag);
            const std::vector<int32_t> cf = flags_host();
            std::vector<float> cpu_grad(total), cpu_l(2 * n + 1);
            std::vector<int32_t> cpu_f(m + 1);
            disco_guidance_grad(x.data(), pred.data(), mg.data(), mask.data(), m, ex, n, c, h, w, clip, tv, sat,
                                cpu_grad.data(), cpu_l.data(), cpu_f.data(), 0, nullptr);
            dt::expect_le(dt::max_rel_err(dgrad.host(), cpu_grad), 1e-5, "stage cuda vs cpu gradient " + tag);
            dt::expect_le(dt::max_rel_err(dl.host(), cpu_l), 1e-5, "stage cuda vs cpu losses " + tag);
            dt::expect(cf == cpu_f, "stage cuda vs cpu flags " + tag);
            // determinism: the same inputs twice give bitwise-equal outputs (fixed-order reductions, no atomics)
            dt::expect_ok(disco_guidance_grad(dx.p, dp.p, dmg.p, mask.data(), m, dexp, n, c, h, w, clip, tv, sat,
                                              dgrad2.p, dl2.p, df, 1, nullptr), "stage cuda again " + tag);
            dt::expect(dgrad.host() == dgrad2.host() && dl.host() == dl2.host() && flags_host() == cf,
                       "stage cuda repeat bitwise " + tag);
            if (m > 0) {
                // the guard on the device: a NaN in a masked-in model zeroes the CUDA gradient too
                const int64_t k = rng.range(0, m - 1);
                std::vector<float> bad = mg;
                bad[k * total + rng.range(0, total - 1)] = NAN;
                dt::Dev dbad(bad);
                disco_guidance_grad(dx.p, dp.p, dbad.p, mask.data(), m, dexp, n, c, h, w, clip, tv, sat, dgrad2.p,
                                    dl2.p, df, 1, nullptr);
                std::vector<int32_t> want_f(m + 1);
                disco_guidance_grad(x.data(), pred.data(), bad.data(), mask.data(), m, ex, n, c, h, w, clip, tv, sat,
                                    cpu_grad.data(), cpu_l.data(), want_f.data(), 0, nullptr);
                dt::expect(flags_host() == want_f && dgrad2.host() == cpu_grad, "stage cuda vs cpu NaN guard " + tag);
            }
            dt::expect_rc(disco_guidance_grad(dx.p, dp.p, dmg.p, mask.data(), m, dexp, n, c, h, w, clip, tv, sat,
                                              cpu_grad.data(), dl.p, df, 1, nullptr),
                          DISCO_EINVAL, "stage cuda refuses a host x_in_grad " + tag);
            dt::expect_rc(disco_guidance_grad(dx.p, dp.p, dmg.p, mask.data(), m, dexp, n, c, h, w, clip, tv, sat, dgrad.p,
                                              dl.p, cpu_f.data(), 1, nullptr),
                          DISCO_EINVAL, "stage cuda refuses host nan_flags " + tag);
            cudaFree(df);
        }
#endif
    }
    float v = 0;
    int32_t fl[2];
    dt::expect_rc(disco_guidance_grad(&v, &v, nullptr, nullptr, 1, nullptr, 1, 1, 1, 1, 1, 1, 1, &v, &v, fl, 0, nullptr),
                  DISCO_EINVAL, "stage: m = 1 without model_grads");
    dt::expect(std::string(disco_last_error()).find("model_grads") != std::string::npos, "message names model_grads");
    return dt::finish("test_guidance_grad");
}
