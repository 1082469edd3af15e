// disco_bench: times the native kernels on DD's real case — a 1 x 3 x H x W image (default 768 x 1280) into DD's
// 16 cutouts (4 overview + 12 inner crops, augmentations as DD's T.Compose draws them once per batch) of size
// 224 and 336, forward and adjoint; and the guidance-gradient stage (2 models) + the RMS clamp — on the CPU and,
// when built with CUDA and a device is present, on the GPU. Prints median ms and effective GB/s (bytes that must
// be touched: image + cutouts, or the stage's inputs + output, over the time). Before every timed rep the caches
// are flushed (a buffer larger than the CPU's last-level cache, or twice the GPU's L2, is written), so a rep reads
// its inputs from memory as a real step does, not from the cache the previous rep warmed.
//   disco_bench [--reps N] [--height H] [--width W] [--device cpu|cuda|all]
// The LibTorch comparison (DD's path with torch ops) is `disco bench kernels` (JVM) or bench/dd_torch_path.py.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include <unistd.h>

#include "disco_kernels.h"

#ifdef DISCO_WITH_CUDA
#include <cuda_runtime.h>
#endif

namespace {

struct Options {
    int reps = 5;
    int64_t h = 768, w = 1280;
    std::string device = "all";
};

// DD's cut table: 4 overview cuts of the image padded to a square (plain, gray, hflip, gray+hflip), 12 inner crops
// (cut_ic_pow 1, cut_icgray_p 0.2), then one batch-wide augmentation draw (flip, noise 0.01 x3, affine, gray,
// colour jitter 0.1 in a random order).
std::vector<float> dd_cuts(int64_t H, int64_t W, int64_t S, std::mt19937& g) {
    std::uniform_real_distribution<float> u(0.f, 1.f);
    std::vector<float> rows;
    auto row = [&]() -> float* {
        rows.resize(rows.size() + DISCO_CUT_FIELDS, 0.f);
        return rows.data() + rows.size() - DISCO_CUT_FIELDS;
    };
    const int64_t side = std::max(H, W);
    for (int k = 0; k < 4; k++) {
        float* r = row();
        r[DISCO_CUT_Y0] = float(-(side - H) / 2);
        r[DISCO_CUT_X0] = float(-(side - W) / 2);
        r[DISCO_CUT_H] = float(side);
        r[DISCO_CUT_W] = float(side);
        r[DISCO_CUT_GRAY_PRE] = (k == 1 || k == 3) ? 1.f : 0.f;
        r[DISCO_CUT_HFLIP] = (k >= 2) ? 1.f : 0.f;
    }
    const int64_t max_size = std::min(H, W), min_size = std::min({H, W, S});
    for (int i = 0; i < 12; i++) {
        const int64_t size = int64_t(u(g) * float(max_size - min_size) + float(min_size));
        float* r = row();
        r[DISCO_CUT_X0] = float(std::uniform_int_distribution<int64_t>(0, W - size)(g));
        r[DISCO_CUT_Y0] = float(std::uniform_int_distribution<int64_t>(0, H - size)(g));
        r[DISCO_CUT_H] = r[DISCO_CUT_W] = float(size);
        r[DISCO_CUT_GRAY_PRE] = i <= int(0.2 * 12) ? 1.f : 0.f;
    }
    const bool flip = u(g) < 0.5f, gray = u(g) < 0.1f;
    const float angle = (u(g) * 2 - 1) * 10, tx = (u(g) * 2 - 1) * 0.05f * S, ty = (u(g) * 2 - 1) * 0.05f * S;
    int order[4] = {0, 1, 2, 3};
    std::shuffle(order, order + 4, g);
    const float b = 0.9f + 0.2f * u(g), c = 0.9f + 0.2f * u(g), s = 0.9f + 0.2f * u(g), hue = (u(g) * 2 - 1) * 0.1f;
    for (size_t off = 0; off < rows.size(); off += DISCO_CUT_FIELDS) {
        float* r = rows.data() + off;
        if (flip) r[DISCO_CUT_HFLIP] = 1.f - r[DISCO_CUT_HFLIP];
        r[DISCO_CUT_NOISE1] = r[DISCO_CUT_NOISE2] = r[DISCO_CUT_NOISE3] = 0.01f;
        r[DISCO_CUT_AFFINE] = 1.f;
        r[DISCO_CUT_ANGLE] = angle;
        r[DISCO_CUT_TX] = std::round(tx);
        r[DISCO_CUT_TY] = std::round(ty);
        r[DISCO_CUT_FILL_MASK] = 1.f;
        r[DISCO_CUT_GRAY_AUG] = gray ? 1.f : 0.f;
        r[DISCO_CUT_N_JITTER] = 4;
        for (int j = 0; j < 4; j++) r[DISCO_CUT_JITTER_OP0 + j] = float(order[j]);
        r[DISCO_CUT_BRIGHTNESS] = b;
        r[DISCO_CUT_CONTRAST] = c;
        r[DISCO_CUT_SATURATION] = s;
        r[DISCO_CUT_HUE] = hue;
    }
    return rows;
}

std::vector<float> randn(size_t n, float scale, std::mt19937& g) {
    std::normal_distribution<float> d(0.f, scale);
    std::vector<float> v(n);
    for (auto& e : v) e = d(g);
    return v;
}

// Buffers on the benchmark's device.
struct Buf {
    float* p = nullptr;
    bool cuda = false;
    Buf(const std::vector<float>& h, bool on_cuda) : cuda(on_cuda) {
#ifdef DISCO_WITH_CUDA
        if (cuda) {
            cudaMalloc(&p, h.size() * sizeof(float));
            cudaMemcpy(p, h.data(), h.size() * sizeof(float), cudaMemcpyHostToDevice);
            return;
        }
#endif
        p = new float[h.size()];
        std::memcpy(p, h.data(), h.size() * sizeof(float));
    }
    ~Buf() {
#ifdef DISCO_WITH_CUDA
        if (cuda) {
            cudaFree(p);
            return;
        }
#endif
        delete[] p;
    }
    Buf(const Buf&) = delete;
    Buf& operator=(const Buf&) = delete;
};

void sync(bool cuda) {
#ifdef DISCO_WITH_CUDA
    if (cuda) cudaDeviceSynchronize();
#else
    (void)cuda;
#endif
}

// Evicts the caches between timed reps by writing a buffer larger than them: on the CPU twice the last-level
// cache sysconf reports (at least 64 MiB), on CUDA twice the device's L2.
class CacheFlush {
  public:
    explicit CacheFlush(bool cuda) : cuda_(cuda) {
        if (!cuda_) {
            long llc = 0;
#ifdef _SC_LEVEL3_CACHE_SIZE
            llc = sysconf(_SC_LEVEL3_CACHE_SIZE);
#endif
            host_.assign(std::max<size_t>(size_t(64) << 20, 2 * size_t(std::max(0L, llc))), 0);
            return;
        }
#ifdef DISCO_WITH_CUDA
        int d = 0, l2 = 0;
        cudaGetDevice(&d);
        cudaDeviceGetAttribute(&l2, cudaDevAttrL2CacheSize, d);
        bytes_ = std::max<size_t>(size_t(8) << 20, 2 * size_t(l2));
        if (cudaMalloc(&dev_, bytes_) != cudaSuccess) dev_ = nullptr;
#endif
    }
    ~CacheFlush() {
#ifdef DISCO_WITH_CUDA
        if (dev_) cudaFree(dev_);
#endif
    }
    CacheFlush(const CacheFlush&) = delete;
    CacheFlush& operator=(const CacheFlush&) = delete;

    void operator()() {
        const int v = int(++round_ & 0x7f);
        if (!cuda_) {
            std::memset(host_.data(), v, host_.size());
            sink_ = sink_ + host_[size_t(round_) % host_.size()];  // the writes are observed: not elided
            return;
        }
#ifdef DISCO_WITH_CUDA
        if (dev_) cudaMemset(dev_, v, bytes_);
        cudaDeviceSynchronize();
#endif
    }

  private:
    bool cuda_;
    std::vector<char> host_;
    void* dev_ = nullptr;
    size_t bytes_ = 0;
    unsigned round_ = 0;
    volatile int sink_ = 0;
};

double median_ms(const std::function<int()>& op, int reps, bool cuda, bool& ok) {
    if (op() != DISCO_OK) {
        std::fprintf(stderr, "disco_bench: %s\n", disco_last_error());
        ok = false;
        return NAN;
    }
    sync(cuda);
    static CacheFlush flush_cpu(false);
#ifdef DISCO_WITH_CUDA
    static CacheFlush flush_cuda(true);
    CacheFlush& flush = cuda ? flush_cuda : flush_cpu;
#else
    CacheFlush& flush = flush_cpu;
#endif
    std::vector<double> ms;
    for (int r = 0; r < reps; r++) {
        flush();  // not timed
        const auto t0 = std::chrono::steady_clock::now();
        op();
        sync(cuda);
        ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    std::sort(ms.begin(), ms.end());
    return ms[ms.size() / 2];
}

void print_row(const char* dev, const std::string& stage, double fwd, double bwd, double bytes) {
    std::printf("%-6s %-34s %10.3f %10.3f %10.3f %9.2f\n", dev, stage.c_str(), fwd, bwd, fwd + bwd,
                bytes / ((fwd + bwd) * 1e6));
}

bool run_device(const Options& o, bool cuda) {
    const int dev = cuda ? DISCO_DEVICE_CUDA : DISCO_DEVICE_CPU;
    const char* name = cuda ? "cuda" : "cpu";
    std::mt19937 g(1234);
    bool ok = true;
    const std::vector<float> image_h = randn(3 * o.h * o.w, 1.f, g);
    Buf image(image_h, cuda), grad_image(std::vector<float>(image_h.size()), cuda);
    for (int64_t S : {224, 336}) {
        const std::vector<float> cuts = dd_cuts(o.h, o.w, S, g);
        const int64_t K = int64_t(cuts.size() / DISCO_CUT_FIELDS);
        Buf noise(randn(K * 9 * S * S, 1.f, g), cuda), out(std::vector<float>(K * 3 * S * S), cuda),
            grad_out(randn(K * 3 * S * S, 1.f, g), cuda);
        const double f = median_ms([&] { return disco_cutouts_forward(image.p, 1, o.h, o.w, cuts.data(), K, S, noise.p, out.p, dev, nullptr); },
                                   o.reps, cuda, ok);
        const double b = median_ms([&] {
            return disco_cutouts_backward(image.p, 1, o.h, o.w, cuts.data(), K, S, noise.p, grad_out.p, grad_image.p, dev, nullptr);
        }, o.reps, cuda, ok);
        print_row(name, "cutouts_" + std::to_string(K) + "x" + std::to_string(S), f, b,
                  2 * 4.0 * double(3 * o.h * o.w + K * 3 * S * S));
    }
    const int64_t total = 3 * o.h * o.w;
    Buf pred(randn(total, 1.2f, g), cuda), grads(randn(2 * total, 1e-4f, g), cuda), x_in_grad(std::vector<float>(total), cuda),
        losses(std::vector<float>(3), cuda), clamped(std::vector<float>(total), cuda);
    const int32_t mask[2] = {1, 1};
    Buf flags(std::vector<float>(3), cuda);  // int32_t [3] on the device (float-sized)
    const double st = median_ms([&] {
        return disco_guidance_grad(image.p, pred.p, grads.p, mask, 2, nullptr, 1, 3, o.h, o.w, 2500.f, 100.f, 50.f,
                                   x_in_grad.p, losses.p, reinterpret_cast<int32_t*>(flags.p), dev, nullptr);
    }, o.reps, cuda, ok);
    const double cl = median_ms([&] { return disco_rms_clamp(x_in_grad.p, total, 0.05f, clamped.p, nullptr, dev, nullptr); },
                                o.reps, cuda, ok);
    print_row(name, "grad_stage_2models+clamp", st, cl, 4.0 * double(total) * (5 + 2));
    return ok;
}

}  // namespace

int main(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; i++) {
        const std::string a = argv[i];
        auto next = [&]() -> const char* {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "disco_bench: %s needs a value\n", a.c_str());
                std::exit(2);
            }
            return argv[++i];
        };
        if (a == "--reps") o.reps = std::max(1, std::atoi(next()));
        else if (a == "--height") o.h = std::max(8, std::atoi(next()));
        else if (a == "--width") o.w = std::max(8, std::atoi(next()));
        else if (a == "--device") o.device = next();
        else {
            std::fprintf(stderr, "usage: disco_bench [--reps N] [--height H] [--width W] [--device cpu|cuda|all]\n");
            return 2;
        }
    }
    std::printf("# disco_bench %lldx%lld, median of %d (ms; GB/s = bytes that must be touched / time)\n",
                (long long)o.h, (long long)o.w, o.reps);
    std::printf("%-6s %-34s %10s %10s %10s %9s\n", "device", "case", "fwd_ms", "adj_ms", "total_ms", "GB/s");
    bool ok = true;
    if (o.device == "cpu" || o.device == "all") ok = run_device(o, false) && ok;
    if (o.device == "cuda" || o.device == "all") {
        if (disco_has_cuda()) {
            ok = run_device(o, true) && ok;
        } else if (o.device == "cuda") {
            std::fprintf(stderr, "disco_bench: no CUDA (built with CUDA: %d)\n", disco_built_with_cuda());
            return 1;
        }
    }
    return ok ? 0 : 1;
}
