/* blas_info.c -- which BLAS kernel runs, and whether the CPU could do better.
 *
 * Debian 12's OpenBLAS (0.3.21, DYNAMIC_ARCH) picks its kernel from the CPU
 * model and does not know recent CPUs: it can run SSE3 "Prescott" or AVX2
 * "Haswell" code on an AVX-512 machine, 2-4x below what sgemm could do. The
 * kernel is chosen once, when OpenBLAS loads, from OPENBLAS_CORETYPE. */
#include <cblas.h>
#include <string.h>
#include <strings.h>

#include "selfcompress.h"

/* 3: AVX-512 kernels, 2: AVX2+FMA, 1: AVX, 0: older or unknown */
static int kernel_tier(const char *name)
{
    static const char *const tiers[][6] = {
        {"SkylakeX", "Cooperlake", "SapphireRapids", NULL},
        {"Haswell", "Zen", NULL},
        {"Sandybridge", "Bulldozer", "Piledriver", "Steamroller", "Excavator",
         NULL},
    };
    for (int t = 0; t < 3; t++)
        for (int i = 0; tiers[t][i]; i++)
            if (strcasecmp(name, tiers[t][i]) == 0)
                return 3 - t;
    return 0;
}

static int cpu_tier(void)
{
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512cd"))
        return 3;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return 2;
    if (__builtin_cpu_supports("avx"))
        return 1;
#endif
    return 0;
}

SC_API const char *sc_blas_info(void) { return openblas_get_config(); }

SC_API const char *sc_blas_kernel(void) { return openblas_get_corename(); }

SC_API const char *sc_blas_best_coretype(void)
{
    static const char *const names[] = {NULL, "Sandybridge", "Haswell",
                                        "SkylakeX"};
    return names[cpu_tier()];
}

SC_API int sc_blas_kernel_suboptimal(void)
{
    return cpu_tier() > kernel_tier(openblas_get_corename());
}
