/* pool.h -- a fixed thread pool running static-partitioned loops. */
#ifndef SC_CORE_POOL_H
#define SC_CORE_POOL_H

#include <stddef.h>

typedef struct sc_pool sc_pool;

/* fn(ctx, begin, end, thread) handles tasks [begin, end) on thread `thread` */
typedef void (*sc_pool_fn)(void *ctx, size_t begin, size_t end, int thread);

/* A pool of `threads` workers in all (the caller counts as one). NULL on
 * failure. threads == 1 creates no thread. */
sc_pool *sc_pool_create(int threads);
void sc_pool_free(sc_pool *p);
int sc_pool_threads(const sc_pool *p);
/* Runs fn over [0, n): thread t gets a fixed contiguous share, so the
 * split depends only on n and the thread count. Returns when all are done. */
void sc_pool_run(sc_pool *p, size_t n, sc_pool_fn fn, void *ctx);
/* sc_pool_run for cheap items: only when each thread gets at least `grain`
 * of the n items is the loop split; otherwise the caller runs it all. */
void sc_pool_map(sc_pool *p, size_t n, size_t grain, sc_pool_fn fn, void *ctx);

#endif
