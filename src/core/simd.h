/* simd.h -- element-wise loops compiled for the CPU they run on.
 *
 * The library is built for the baseline of its target (SSE2 on x86-64), so
 * vectorised loops run 4 floats wide. SC_SIMD_CLONES on a function makes
 * GCC compile it three times, for x86-64-v4 (AVX-512), x86-64-v3 (AVX2) and
 * the baseline, and pick one at load time (an ifunc). Batch norm, for one,
 * runs 2-3x faster as AVX-512 code. Results are the same in every clone:
 * ISO C mode contracts no a*b+c into an FMA, and no reduction is reordered
 * (the loops spell out their lane-wise partial sums). Elsewhere (other
 * compilers or targets) the macro is empty, and so it is under
 * ThreadSanitizer: the clones' ifunc resolvers run while the program is
 * relocated, before the TSan runtime is initialised, and crash it. */
#ifndef SC_CORE_SIMD_H
#define SC_CORE_SIMD_H

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) &&        \
    __GNUC__ >= 11 && defined(__ELF__) && !defined(__SANITIZE_THREAD__)
#define SC_SIMD_CLONES                                                        \
    __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3",          \
                                 "default")))
#else
#define SC_SIMD_CLONES
#endif

/* A loop body a cloned function must compile as its own (inlined into each
 * clone), however big. */
#if defined(__GNUC__)
#define SC_CLONE_INLINE inline __attribute__((always_inline))
#else
#define SC_CLONE_INLINE inline
#endif

#endif
