/*
 * pool.h - a fork-join pool of threads with a barrier, owned by whoever
 * creates it (a trainer or one evaluation), never global.
 *
 * hdrnn_pool_run(pool, fn, ctx) runs fn(ctx, tid, threads) on every thread
 * of the pool, the calling thread being tid 0, and returns when all are done.
 * Inside fn, hdrnn_pool_barrier() waits until every thread has reached it.
 * Waiting threads spin briefly (a mini-batch step is microseconds) and then
 * sleep on a condition variable, so an idle or oversubscribed pool does not
 * burn the host service's CPU.
 */
#ifndef HDRNN_POOL_H
#define HDRNN_POOL_H

#include "hdrnn.h"

typedef struct hdrnn_pool hdrnn_pool;
typedef void (*hdrnn_pool_fn)(void *ctx, unsigned tid, unsigned threads);

hdrnn_code hdrnn_pool_create(hdrnn_pool **out, unsigned threads, hdrnn_status *status);
/* The same; with background nonzero every worker first lowers its own
 * priority (hdrnn_thread_background). */
hdrnn_code hdrnn_pool_create_priority(hdrnn_pool **out, unsigned threads, int background,
                                      hdrnn_status *status);
void hdrnn_pool_free(hdrnn_pool *pool);
unsigned hdrnn_pool_threads(const hdrnn_pool *pool);
void hdrnn_pool_run(hdrnn_pool *pool, hdrnn_pool_fn fn, void *ctx);
/* The same with only the first `active` threads (1..threads); the others
 * stay idle and barriers wait for the active ones only. */
void hdrnn_pool_run_active(hdrnn_pool *pool, hdrnn_pool_fn fn, void *ctx, unsigned active);
void hdrnn_pool_barrier(hdrnn_pool *pool);

/* The part [*begin, *end) of n items that thread tid of threads takes, cut at
 * multiples of align where possible. */
void hdrnn_partition(size_t n, unsigned tid, unsigned threads, size_t align, size_t *begin,
                     size_t *end);

#endif /* HDRNN_POOL_H */
