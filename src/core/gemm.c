/* gemm.c -- C = alpha op(A) op(B) + beta C via cblas_sgemm, rows or columns
 * in parallel. */
#include "core/gemm.h"

#include <cblas.h>

void sc_blas_single_thread(void)
{
    if (openblas_get_num_threads() != 1)
        openblas_set_num_threads(1);
}

typedef struct gemm_job {
    int ta, tb, m, n, k, lda, ldb, ldc;
    float alpha, beta;
    const float *a, *b;
    float *c;
} gemm_job;

void sc_gemm1(int ta, int tb, int m, int n, int k, float alpha, const float *a,
              int lda, const float *b, int ldb, float beta, float *c, int ldc)
{
    if (m <= 0 || n <= 0)
        return;
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans,
                tb ? CblasTrans : CblasNoTrans, m, n, k, alpha, a, lda, b, ldb,
                beta, c, ldc);
}

static void gemm_rows(void *ctx, size_t begin, size_t end, int thread)
{
    (void)thread;
    const gemm_job *j = ctx;
    /* row r of op(A) starts at a + r*lda (no transpose) or a + r (transpose) */
    const float *a = j->a + (j->ta ? begin : begin * (size_t)j->lda);
    sc_gemm1(j->ta, j->tb, (int)(end - begin), j->n, j->k, j->alpha, a, j->lda,
             j->b, j->ldb, j->beta, j->c + begin * (size_t)j->ldc, j->ldc);
}

/* columns [begin, end) of C: row r of op(B) starts at b + r*ldb when B is
 * transposed, column c at b + c otherwise */
static void gemm_cols(void *ctx, size_t begin, size_t end, int thread)
{
    (void)thread;
    const gemm_job *j = ctx;
    const float *b = j->b + (j->tb ? begin * (size_t)j->ldb : begin);
    sc_gemm1(j->ta, j->tb, j->m, (int)(end - begin), j->k, j->alpha, j->a,
             j->lda, b, j->ldb, j->beta, j->c + begin, j->ldc);
}

/* each thread's share keeps a useful amount of work */
static int worth_splitting(int threads, int m, int n, int k)
{
    return threads > 1 && (double)m * n * k >= 2e5;
}

void sc_gemm(sc_pool *pool, int ta, int tb, int m, int n, int k, float alpha,
             const float *a, int lda, const float *b, int ldb, float beta,
             float *c, int ldc)
{
    gemm_job j = {ta, tb, m, n, k, lda, ldb, ldc, alpha, beta, a, b, c};
    int threads = sc_pool_threads(pool);
    if (!worth_splitting(threads, m, n, k) || m < 2 * threads)
        gemm_rows(&j, 0, (size_t)m, 0);
    else
        sc_pool_run(pool, (size_t)m, gemm_rows, &j);
}

void sc_gemm_by_cols(sc_pool *pool, int ta, int tb, int m, int n, int k,
                     float alpha, const float *a, int lda, const float *b,
                     int ldb, float beta, float *c, int ldc)
{
    int threads = sc_pool_threads(pool);
    if (n < 16 * threads) { /* too narrow to split well */
        sc_gemm(pool, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        return;
    }
    gemm_job j = {ta, tb, m, n, k, lda, ldb, ldc, alpha, beta, a, b, c};
    if (!worth_splitting(threads, m, n, k))
        gemm_cols(&j, 0, (size_t)n, 0);
    else
        sc_pool_run(pool, (size_t)n, gemm_cols, &j);
}
