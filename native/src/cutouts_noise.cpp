// The CPU twin of the cutout noise (cutouts_noise.h): the fill loop vectorises (SSE2 baseline; AVX2 and AVX-512
// clones are picked at load time where the CPU has them). Every clone evaluates the same IEEE double operations in the same
// order (no FMA contraction: CMakeLists.txt compiles this file with -ffp-contract=off), so the values do not
// depend on the CPU.
#include "cutouts_noise.h"

#include "cutouts.h"

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(DISCO_NO_CLONES)
#define DISCO_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define DISCO_CLONES
#endif

// Elements first .. first + count - 1: a leading odd element alone, then whole pairs, then a trailing even one.
DISCO_CLONES void cutouts_noise_fill(uint64_t key, uint64_t start, uint64_t first, size_t count, float* out) {
    size_t i = 0;
    if (count > 0 && (first & 1)) out[i++] = disco_noise::gaussian(key, start, first);
    const uint64_t p0 = (first + i) >> 1;
    const size_t pairs = (count - i) / 2;
    float* o = out + i;
    for (size_t p = 0; p < pairs; p++) disco_noise::gaussian_pair(key, start, p0 + p, o[2 * p], o[2 * p + 1]);
    i += 2 * pairs;
    if (i < count) out[i] = disco_noise::gaussian(key, start, first + i);
}
