/* gemm.h -- row-major sgemm through OpenBLAS, split over the net's pool. */
#ifndef SC_CORE_GEMM_H
#define SC_CORE_GEMM_H

#include "core/pool.h"

/* C[m,n] = alpha * op(A)[m,k] op(B)[k,n] + beta * C, row-major; ta/tb
 * non-zero transpose A/B. Rows of C are shared among the pool's threads. */
void sc_gemm(sc_pool *pool, int ta, int tb, int m, int n, int k, float alpha,
             const float *a, int lda, const float *b, int ldb, float beta,
             float *c, int ldc);

/* The same with the columns of C shared among the threads: each reads all
 * of op(A) and only its columns of op(B). */
void sc_gemm_by_cols(sc_pool *pool, int ta, int tb, int m, int n, int k,
                     float alpha, const float *a, int lda, const float *b,
                     int ldb, float beta, float *c, int ldc);

/* Makes OpenBLAS single-threaded (the pool runs the threads), unless it
 * already is: in a forked child, whose OpenBLAS threads did not survive the
 * fork, openblas_set_num_threads() starts a server thread again, which spins
 * on sched_yield() for a while before it sleeps, taking a core from us. */
void sc_blas_single_thread(void);

/* Single-threaded, for use inside a pool task. */
void sc_gemm1(int ta, int tb, int m, int n, int k, float alpha, const float *a,
              int lda, const float *b, int ldb, float beta, float *c, int ldc);

#endif
