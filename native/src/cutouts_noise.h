// The cutout noise generator, shared by the CPU twin (cutouts_noise.cpp) and the CUDA kernels (cutouts.cu): the
// engine's counter-based stream (disco.util.RandomStream: raw value at position i = splitmix64's finaliser of
// key + (i + 1) * golden gamma) and its Box-Muller normals (disco.kernels.CutDraws.parallelGaussians: pair p
// uses positions start + 2p and start + 2p + 1, u1 = 1 - top53(a) 2^-53, u2 = top53(b) 2^-53; normal 2p is
// sqrt(-2 log u1) cos(2 pi u2), normal 2p + 1 the same with sin, in double, rounded to float: both outputs of
// the transform, one logarithm and one range reduction per two normals).
//
// log, cos and sin are fdlibm's algorithms (the ones Java's StrictMath uses; error below 1 ulp of double) written
// without branches or table lookups, so that the CPU loop vectorises and CUDA evaluates exactly the same IEEE
// double operations: the CPU twin and CUDA give bitwise-equal noise (both are compiled without FMA contraction,
// see CMakeLists.txt), and both differ from Java's Math.log/Math.cos/Math.sin (also within 1 ulp of double) only when the
// exact value lies within about 2^-52 (relative) of a float rounding boundary: then by 1 float ulp.
#ifndef DISCO_CUTOUTS_NOISE_H
#define DISCO_CUTOUTS_NOISE_H

#include <cstdint>
#include <cstring>

#ifdef __CUDACC__
#define DISCO_NZ __host__ __device__ __forceinline__
#else
#define DISCO_NZ inline
#endif

namespace disco_noise {

constexpr uint64_t GOLDEN = 0x9E3779B97F4A7C15ULL;

DISCO_NZ uint64_t mix(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

// RandomStream.at(i)
DISCO_NZ uint64_t at(uint64_t key, uint64_t i) { return mix(key + (i + 1) * GOLDEN); }

DISCO_NZ uint64_t bits_of(double d) {
#ifdef __CUDA_ARCH__
    return (uint64_t) __double_as_longlong(d);
#else
    uint64_t u;
    std::memcpy(&u, &d, sizeof u);
    return u;
#endif
}

DISCO_NZ double double_of(uint64_t u) {
#ifdef __CUDA_ARCH__
    return __longlong_as_double((long long) u);
#else
    double d;
    std::memcpy(&d, &u, sizeof d);
    return d;
#endif
}

// (double) (v >> 11) * 2^-53, exactly (the 53-bit integer converted without an int64 -> double instruction, which
// SIMD units below AVX-512DQ lack): low 52 bits through the 2^52 exponent trick, plus bit 52.
DISCO_NZ double top53(uint64_t v) {
    const uint64_t m = v >> 11;
    const double lo = double_of(0x4330000000000000ULL | (m & 0xFFFFFFFFFFFFFULL)) - 4503599627370496.0;
    const double hi = (double) (int) (m >> 52) * 4503599627370496.0;
    return (lo + hi) * 0x1.0p-53;
}

// fdlibm's __ieee754_log for x in [2^-1022, 1] (normal, positive): x = 2^k (1 + f), 1 + f in [sqrt(2)/2, sqrt(2)).
DISCO_NZ double log_unit(double x) {
    const double ln2_hi = 6.93147180369123816490e-01, ln2_lo = 1.90821492927058770002e-10;
    const double Lg1 = 6.666666666666735130e-01, Lg2 = 3.999999999940941908e-01, Lg3 = 2.857142874366239149e-01,
                 Lg4 = 2.222219843214978396e-01, Lg5 = 1.818357216161805012e-01, Lg6 = 1.531383769920937332e-01,
                 Lg7 = 1.479819860511658591e-01;
    const uint64_t b = bits_of(x);
    uint32_t hx = (uint32_t) (b >> 32);
    hx += 0x3ff00000u - 0x3fe6a09eu;
    const int k = (int) (hx >> 20) - 0x3ff;
    hx = (hx & 0x000fffffu) + 0x3fe6a09eu;
    const double xr = double_of(((uint64_t) hx << 32) | (b & 0xffffffffULL));
    const double f = xr - 1.0;
    const double hfsq = 0.5 * f * f;
    const double s = f / (2.0 + f);
    const double z = s * s, w = z * z;
    const double t1 = w * (Lg2 + w * (Lg4 + w * Lg6));
    const double t2 = z * (Lg1 + w * (Lg3 + w * (Lg5 + w * Lg7)));
    const double R = t2 + t1;
    const double dk = (double) k;
    return s * (hfsq + R) + dk * ln2_lo - hfsq + f + dk * ln2_hi;
}

// fdlibm's __kernel_cos / __kernel_sin (musl's form) on the reduced argument x + y, |x| <= pi/4.
DISCO_NZ double kcos(double x, double y) {
    const double C1 = 4.16666666666666019037e-02, C2 = -1.38888888888741095749e-03, C3 = 2.48015872894767294178e-05,
                 C4 = -2.75573143513906633035e-07, C5 = 2.08757232129817482790e-09, C6 = -1.13596475577881948265e-11;
    const double z = x * x, w = z * z;
    const double r = z * (C1 + z * (C2 + z * C3)) + w * w * (C4 + z * (C5 + z * C6));
    const double hz = 0.5 * z;
    const double v = 1.0 - hz;
    return v + (((1.0 - v) - hz) + (z * r - x * y));
}

DISCO_NZ double ksin(double x, double y) {
    const double S1 = -1.66666666666666324348e-01, S2 = 8.33333333332248946124e-03, S3 = -1.98412698298579493134e-04,
                 S4 = 2.75573137070700676789e-06, S5 = -2.50507602534068634195e-08, S6 = 1.58969099521155010221e-10;
    const double z = x * x, w = z * z;
    const double r = S2 + z * (S3 + z * S4) + z * w * (S5 + z * S6);
    const double v = z * x;
    return x - ((z * (0.5 * y - v * r) - y) - v * S1);
}

// cos(x) and sin(x) for x in [0, 8): fdlibm's medium-range reduction by n pi/2 (all three Cody-Waite steps, always,
// so no branch: with n <= 5 every product fn * pio2_* is exact), then the two kernels, routed by the quadrant.
DISCO_NZ void sincos_small(double x, double& co, double& si) {
    const double invpio2 = 6.36619772367581382433e-01;
    const double pio2_1 = 1.57079632673412561417e+00, pio2_2 = 6.07710050630396597660e-11,
                 pio2_2t = 2.02226624879595063154e-21, pio2_3 = 2.02226624871116645580e-21,
                 pio2_3t = 8.47842766036889956997e-32;
    const int n = (int) (x * invpio2 + 0.5);
    const double fn = (double) n;
    double r = x - fn * pio2_1;
    double w = fn * pio2_2;
    double t = r;
    r = t - w;
    w = fn * pio2_2t - ((t - r) - w);
    t = r;
    w = fn * pio2_3;
    r = t - w;
    w = fn * pio2_3t - ((t - r) - w);
    const double y0 = r - w;
    const double y1 = (r - y0) - w;
    const double c = kcos(y0, y1), s = ksin(y0, y1);
    // quadrant n & 3: cos = c, -s, -c, s; sin = s, c, -s, -c; selected and signed with bit operations (no branch)
    const uint64_t odd = 0 - (uint64_t) (n & 1);
    const uint64_t cflip = (uint64_t) ((n + 1) & 2) << 62, sflip = (uint64_t) (n & 2) << 62;
    co = double_of(((bits_of(c) & ~odd) | (bits_of(s) & odd)) ^ cflip);
    si = double_of(((bits_of(s) & ~odd) | (bits_of(c) & odd)) ^ sflip);
}

// Box-Muller pair p of the stream (key, start): positions start + 2p and start + 2p + 1 give u1, u2 and
// r = sqrt(-2 log u1), theta = 2 pi u2; normal 2p is r cos theta, normal 2p + 1 is r sin theta (each rounded to float).
DISCO_NZ void gaussian_pair(uint64_t key, uint64_t start, uint64_t p, float& g0, float& g1) {
    const uint64_t q = start + 2 * p;
    const double u1 = 1.0 - top53(at(key, q));
    const double u2 = top53(at(key, q + 1));
    const double two_pi = 2.0 * 3.141592653589793;
    const double r = __builtin_sqrt(-2.0 * log_unit(u1));
    double c, s;
    sincos_small(two_pi * u2, c, s);
    g0 = (float) (r * c);
    g1 = (float) (r * s);
}

// Normal e of the stream (key, start): CutDraws.parallelGaussians' value, as float.
DISCO_NZ float gaussian(uint64_t key, uint64_t start, uint64_t e) {
    float g0, g1;
    gaussian_pair(key, start, e >> 1, g0, g1);
    return (e & 1) ? g1 : g0;
}

}  // namespace disco_noise

#endif
