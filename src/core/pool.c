/* pool.c -- persistent pthread workers; the caller runs share 0.
 *
 * A training step runs dozens of short parallel loops back to back; waking
 * a sleeping thread through a condition variable costs tens of
 * microseconds (more in a VM), as much as a small loop itself. So workers
 * and the caller first spin (bounded, with a pause hint) on an atomic
 * generation / pending count, and only then sleep on the condition
 * variables. Between steps the workers spin briefly and go to sleep. */
#include "core/pool.h"

#include "core/fpenv.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CPU_RELAX() _mm_pause()
#else
#define CPU_RELAX() ((void)0)
#endif

/* spins before sleeping: ~0.1 ms */
#define SPINS 4096

struct sc_pool {
    int threads;
    pthread_t *tid;
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    atomic_ulong generation; /* bumped for every job */
    atomic_int pending;      /* workers still busy on the current job */
    atomic_int quit;
    sc_pool_fn fn;
    void *ctx;
    size_t n;
};

typedef struct worker_arg {
    sc_pool *p;
    int index;
} worker_arg;

static void share(size_t n, int threads, int t, size_t *b, size_t *e)
{
    *b = n * (size_t)t / (size_t)threads;
    *e = n * (size_t)(t + 1) / (size_t)threads;
}

/* Waits until the generation moves past seen (or quit); returns it. */
static unsigned long wait_job(sc_pool *p, unsigned long seen)
{
    for (int i = 0; i < SPINS; i++) {
        unsigned long g = atomic_load(&p->generation);
        if (g != seen || atomic_load(&p->quit))
            return g;
        CPU_RELAX();
    }
    pthread_mutex_lock(&p->mu);
    while (!atomic_load(&p->quit) && atomic_load(&p->generation) == seen)
        pthread_cond_wait(&p->go, &p->mu);
    pthread_mutex_unlock(&p->mu);
    return atomic_load(&p->generation);
}

static void *worker(void *arg)
{
    worker_arg *wa = arg;
    sc_pool *p = wa->p;
    int index = wa->index;
    free(wa);
    sc_fpenv_enter(); /* the pool's threads always flush denormals */
    unsigned long seen = 0;
    for (;;) {
        seen = wait_job(p, seen);
        if (atomic_load(&p->quit))
            break;
        /* fn, ctx and n were written before the generation was bumped */
        size_t b, e;
        share(p->n, p->threads, index, &b, &e);
        if (b < e)
            p->fn(p->ctx, b, e, index);
        if (atomic_fetch_sub(&p->pending, 1) == 1) {
            pthread_mutex_lock(&p->mu); /* the caller may be asleep */
            pthread_cond_signal(&p->done);
            pthread_mutex_unlock(&p->mu);
        }
    }
    return NULL;
}

sc_pool *sc_pool_create(int threads)
{
    if (threads < 1)
        return NULL;
    sc_pool *p = calloc(1, sizeof *p);
    if (p == NULL)
        return NULL;
    p->threads = threads;
    atomic_init(&p->generation, 0);
    atomic_init(&p->pending, 0);
    atomic_init(&p->quit, 0);
    if (threads == 1)
        return p;
    p->tid = calloc((size_t)threads - 1, sizeof *p->tid);
    if (p->tid == NULL) {
        free(p);
        return NULL;
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->go, NULL);
    pthread_cond_init(&p->done, NULL);
    for (int i = 1; i < threads; i++) {
        worker_arg *wa = malloc(sizeof *wa);
        if (wa != NULL) {
            wa->p = p;
            wa->index = i;
        }
        if (wa == NULL || pthread_create(&p->tid[i - 1], NULL, worker, wa) != 0) {
            free(wa);
            p->threads = i; /* keep the ones that started */
            sc_pool_free(p);
            return NULL;
        }
    }
    return p;
}

void sc_pool_free(sc_pool *p)
{
    if (p == NULL)
        return;
    if (p->threads > 1) {
        pthread_mutex_lock(&p->mu);
        atomic_store(&p->quit, 1);
        pthread_cond_broadcast(&p->go);
        pthread_mutex_unlock(&p->mu);
        for (int i = 1; i < p->threads; i++)
            pthread_join(p->tid[i - 1], NULL);
        pthread_mutex_destroy(&p->mu);
        pthread_cond_destroy(&p->go);
        pthread_cond_destroy(&p->done);
    }
    free(p->tid);
    free(p);
}

int sc_pool_threads(const sc_pool *p) { return p ? p->threads : 1; }

void sc_pool_run(sc_pool *p, size_t n, sc_pool_fn fn, void *ctx)
{
    if (n == 0)
        return;
    if (p == NULL || p->threads == 1 || n == 1) {
        fn(ctx, 0, n, 0);
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->ctx = ctx;
    p->n = n;
    atomic_store(&p->pending, p->threads - 1);
    atomic_fetch_add(&p->generation, 1); /* publishes fn, ctx, n */
    pthread_cond_broadcast(&p->go);
    pthread_mutex_unlock(&p->mu);
    size_t b, e;
    share(n, p->threads, 0, &b, &e);
    if (b < e)
        fn(ctx, b, e, 0);
    for (int i = 0; i < SPINS && atomic_load(&p->pending) > 0; i++)
        CPU_RELAX();
    if (atomic_load(&p->pending) > 0) {
        pthread_mutex_lock(&p->mu);
        while (atomic_load(&p->pending) > 0)
            pthread_cond_wait(&p->done, &p->mu);
        pthread_mutex_unlock(&p->mu);
    }
}

void sc_pool_map(sc_pool *p, size_t n, size_t grain, sc_pool_fn fn, void *ctx)
{
    if (n < grain * (size_t)sc_pool_threads(p)) {
        if (n > 0)
            fn(ctx, 0, n, 0);
        return;
    }
    sc_pool_run(p, n, fn, ctx);
}
