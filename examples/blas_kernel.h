/* blas_kernel.h -- make a program run OpenBLAS's best kernel for this CPU.
 *
 * OpenBLAS picks its kernel once, when it loads, and Debian 12's build does
 * not know recent CPUs (it can pick SSE3 "Prescott" code on an AVX-512
 * machine); an OPENBLAS_CORETYPE left in the environment can also name a
 * kernel below the CPU. Call sc_use_best_blas_kernel(argv) first thing in
 * main(): when the running kernel is below what the CPU supports (cpuid
 * decides, see sc_blas_best_coretype()), it sets OPENBLAS_CORETYPE to the
 * best one and re-executes the program once, which then loads OpenBLAS with
 * that kernel. SC_BLAS_KEEP=1 in the environment keeps the kernel as it is. */
#ifndef SC_EXAMPLES_BLAS_KERNEL_H
#define SC_EXAMPLES_BLAS_KERNEL_H

/* needs _POSIX_C_SOURCE >= 200112L defined before any system header */
#include <stdlib.h>
#include <unistd.h>

#include <selfcompress.h>

static inline void sc_use_best_blas_kernel(char **argv)
{
    const char *best = sc_blas_best_coretype();
    if (best == NULL || getenv("SC_BLAS_KEEP") != NULL ||
        getenv("SC_BLAS_REEXEC") != NULL || !sc_blas_kernel_suboptimal())
        return;
    /* the marker makes sure a kernel OpenBLAS refuses cannot loop us */
    if (setenv("OPENBLAS_CORETYPE", best, 1) != 0 ||
        setenv("SC_BLAS_REEXEC", "1", 1) != 0)
        return;
    execv("/proc/self/exe", argv); /* returns only on failure: go on as is */
}

#endif
