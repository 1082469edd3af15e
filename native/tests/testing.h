// testing.h — a small harness for the native ctest executables: random data, tolerances, finite differences,
// and (when built with CUDA) device buffers for CUDA-vs-CPU-twin comparisons.
#pragma once
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "disco_kernels.h"

#ifdef DISCO_WITH_CUDA
#include <cuda_runtime.h>
#endif

namespace dt {

inline int& failures() {
    static int f = 0;
    return f;
}

struct Rng {
    std::mt19937_64 g;
    explicit Rng(uint64_t seed) : g(seed) {}
    float uniform(float lo, float hi) { return std::uniform_real_distribution<float>(lo, hi)(g); }
    float normal() { return std::normal_distribution<float>(0.f, 1.f)(g); }
    int64_t range(int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(g); }
    std::vector<float> normals(size_t n, float scale = 1.f) {
        std::vector<float> v(n);
        for (auto& e : v) e = scale * normal();
        return v;
    }
};

// max|a-b| / max(max|b|, floor)
inline double max_rel_err(const std::vector<float>& a, const std::vector<double>& b, double floor = 1e-30) {
    double md = 0, mb = floor;
    for (size_t i = 0; i < a.size(); i++) {
        const double d = std::fabs(double(a[i]) - b[i]);
        if (std::isnan(d)) return NAN;
        md = std::max(md, d);
        mb = std::max(mb, std::fabs(b[i]));
    }
    return md / mb;
}
inline double max_rel_err(const std::vector<float>& a, const std::vector<float>& b, double floor = 1e-30) {
    return max_rel_err(a, std::vector<double>(b.begin(), b.end()), floor);
}

inline void expect(bool ok, const std::string& what) {
    if (!ok) {
        std::fprintf(stderr, "FAIL: %s\n", what.c_str());
        failures()++;
    }
}

inline void expect_le(double err, double tol, const std::string& what) {
    const bool ok = err <= tol;  // NaN fails
    std::fprintf(stderr, "%s %-60s err %.3e tol %.1e\n", ok ? "ok  " : "FAIL", what.c_str(), err, tol);
    if (!ok) failures()++;
}

inline void expect_rc(int rc, int want, const std::string& what) {
    if (rc != want) {
        std::fprintf(stderr, "FAIL: %s: rc %d, want %d (%s)\n", what.c_str(), rc, want, disco_last_error());
        failures()++;
    }
}

inline void expect_ok(int rc, const std::string& what) { expect_rc(rc, DISCO_OK, what); }

// Central differences of a scalar function f at x (double), one coordinate at a time, for `probes` random
// coordinates; returns {indices, numeric gradients}.
inline std::pair<std::vector<size_t>, std::vector<double>> fd_probes(
    std::vector<double> x, const std::function<double(const std::vector<double>&)>& f, Rng& rng, int probes,
    double eps) {
    std::vector<size_t> idx;
    std::vector<double> g;
    for (int p = 0; p < probes; p++) {
        const size_t i = size_t(rng.range(0, int64_t(x.size()) - 1));
        const double v = x[i];
        x[i] = v + eps;
        const double fp = f(x);
        x[i] = v - eps;
        const double fm = f(x);
        x[i] = v;
        idx.push_back(i);
        g.push_back((fp - fm) / (2 * eps));
    }
    return {idx, g};
}

inline std::vector<double> to_double(const std::vector<float>& v) { return {v.begin(), v.end()}; }

// v at the given indices (an analytic gradient at fd_probes' coordinates).
inline std::vector<float> at(const std::vector<float>& v, const std::vector<size_t>& idx) {
    std::vector<float> out;
    for (size_t i : idx) out.push_back(v[i]);
    return out;
}

inline double dot(const std::vector<float>& a, const std::vector<float>& b) {
    double s = 0;
    for (size_t i = 0; i < a.size(); i++) s += double(a[i]) * b[i];
    return s;
}

inline int finish(const char* name) {
    if (failures()) {
        std::fprintf(stderr, "%s: %d failure(s)\n", name, failures());
        return 1;
    }
    std::fprintf(stderr, "%s: all passed\n", name);
    return 0;
}

#ifdef DISCO_WITH_CUDA
// A device copy of a host vector (and back).
struct Dev {
    float* p = nullptr;
    size_t n = 0;
    explicit Dev(const std::vector<float>& h) : n(h.size()) {
        cudaMalloc(&p, sizeof(float) * (n ? n : 1));
        if (n) cudaMemcpy(p, h.data(), sizeof(float) * n, cudaMemcpyHostToDevice);
    }
    explicit Dev(size_t count) : n(count) {
        cudaMalloc(&p, sizeof(float) * (n ? n : 1));
        cudaMemset(p, 0, sizeof(float) * (n ? n : 1));
    }
    ~Dev() { cudaFree(p); }
    Dev(const Dev&) = delete;
    Dev& operator=(const Dev&) = delete;
    std::vector<float> host() const {
        std::vector<float> h(n);
        cudaDeviceSynchronize();
        if (n) cudaMemcpy(h.data(), p, sizeof(float) * n, cudaMemcpyDeviceToHost);
        return h;
    }
};
#endif

// Why the CUDA-vs-CPU-twin checks cannot run here, or "" when they can.
inline std::string cuda_unavailable() {
    if (!disco_built_with_cuda()) return "library built without CUDA";
    if (!disco_has_cuda()) return "no usable CUDA device";
    return "";
}

// The mode of a test executable. Without arguments it runs its CPU checks; with --cuda (ctest registers
// <test>_cuda for it) it runs them again with the CUDA-vs-CPU-twin comparisons, and exits 77 — ctest's
// SKIP_RETURN_CODE, shown as "Skipped" — when those cannot run. Call first in main.
inline bool& cuda_mode() {
    static bool m = false;
    return m;
}

inline void init(int argc, char** argv) {
    for (int i = 1; i < argc; i++) {
        if (std::string(argv[i]) == "--cuda") {
            cuda_mode() = true;
        } else {
            std::fprintf(stderr, "%s: unknown argument %s (expected --cuda or nothing)\n", argv[0], argv[i]);
            std::exit(2);
        }
    }
    if (cuda_mode()) {
        const std::string why = cuda_unavailable();
        if (!why.empty()) {
            std::fprintf(stderr, "skip: CUDA vs CPU twin (%s)\n", why.c_str());
            std::exit(77);
        }
    }
}

// True when this run compares CUDA with the CPU twin (--cuda, and CUDA available: init exits 77 otherwise).
inline bool cuda_ready() { return cuda_mode(); }

}  // namespace dt
