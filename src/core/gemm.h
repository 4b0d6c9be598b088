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

/* Single-threaded, for use inside a pool task. */
void sc_gemm1(int ta, int tb, int m, int n, int k, float alpha, const float *a,
              int lda, const float *b, int ldb, float beta, float *c, int ldc);

#endif
