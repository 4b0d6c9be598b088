/* pool.c -- persistent pthread workers; the caller runs share 0. */
#include "core/pool.h"

#include "core/fpenv.h"

#include <pthread.h>
#include <stdlib.h>

struct sc_pool {
    int threads;
    pthread_t *tid;
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    unsigned long generation; /* bumped for every job */
    int pending;              /* workers still busy on the current job */
    int quit;
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

static void *worker(void *arg)
{
    worker_arg *wa = arg;
    sc_pool *p = wa->p;
    int index = wa->index;
    free(wa);
    sc_fpenv_enter(); /* the pool's threads always flush denormals */
    unsigned long seen = 0;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->quit && p->generation == seen)
            pthread_cond_wait(&p->go, &p->mu);
        if (p->quit)
            break;
        seen = p->generation;
        sc_pool_fn fn = p->fn;
        void *ctx = p->ctx;
        size_t n = p->n;
        pthread_mutex_unlock(&p->mu);
        size_t b, e;
        share(n, p->threads, index, &b, &e);
        if (b < e)
            fn(ctx, b, e, index);
        pthread_mutex_lock(&p->mu);
        if (--p->pending == 0)
            pthread_cond_signal(&p->done);
    }
    pthread_mutex_unlock(&p->mu);
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
        p->quit = 1;
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
    p->pending = p->threads - 1;
    p->generation++;
    pthread_cond_broadcast(&p->go);
    pthread_mutex_unlock(&p->mu);
    size_t b, e;
    share(n, p->threads, 0, &b, &e);
    if (b < e)
        fn(ctx, b, e, 0);
    pthread_mutex_lock(&p->mu);
    while (p->pending > 0)
        pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}
