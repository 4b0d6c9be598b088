/* blas_kernel.c -- which OpenBLAS kernel runs here, and which the CPU supports.
 *
 *   blas_kernel            a human-readable report
 *   blas_kernel --coretype the OPENBLAS_CORETYPE to use (empty: leave as is)
 */
#include <stdio.h>
#include <string.h>

#include <selfcompress.h>

int main(int argc, char **argv)
{
    const char *best = sc_blas_best_coretype();
    if (argc > 1 && strcmp(argv[1], "--coretype") == 0) {
        if (best && sc_blas_kernel_suboptimal())
            puts(best);
        return 0;
    }
    printf("BLAS: %s\nkernel running: %s\nbest for this CPU: %s\n%s\n",
           sc_blas_info(), sc_blas_kernel(), best ? best : "unknown",
           sc_blas_kernel_suboptimal()
               ? "the running kernel is below the CPU: set OPENBLAS_CORETYPE"
               : "the running kernel is right for this CPU");
    return 0;
}
