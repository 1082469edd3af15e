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

DISCO_CLONES void cutouts_noise_fill(uint64_t key, uint64_t start, uint64_t first, size_t count, float* out) {
    for (size_t i = 0; i < count; i++) out[i] = disco_noise::gaussian(key, start, first + i);
}
