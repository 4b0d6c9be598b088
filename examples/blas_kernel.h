/* blas_kernel.h -- make a program run OpenBLAS's best kernel for this CPU.
 *
 * OpenBLAS picks its kernel once, when it loads, and Debian 12's build does
 * not know recent CPUs. Call sc_use_best_blas_kernel(argv) first thing in
 * main(): when the running kernel is below what the CPU supports and the
 * user has not chosen one, it sets OPENBLAS_CORETYPE and re-executes the
 * program, which then loads OpenBLAS with the right kernel. */
#ifndef SC_EXAMPLES_BLAS_KERNEL_H
#define SC_EXAMPLES_BLAS_KERNEL_H

/* needs _POSIX_C_SOURCE >= 200112L defined before any system header */
#include <stdlib.h>
#include <unistd.h>

#include <selfcompress.h>

static inline void sc_use_best_blas_kernel(char **argv)
{
    const char *best = sc_blas_best_coretype();
    if (best == NULL || getenv("OPENBLAS_CORETYPE") != NULL ||
        !sc_blas_kernel_suboptimal())
        return;
    if (setenv("OPENBLAS_CORETYPE", best, 1) != 0)
        return;
    execv("/proc/self/exe", argv); /* returns only on failure: go on as is */
    unsetenv("OPENBLAS_CORETYPE");
}

#endif
