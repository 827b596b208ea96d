/*
 * pool.c - see pool.h. Shared counters use the GCC/Clang __atomic builtins
 * (C99 has no atomics of its own); sleeping uses POSIX threads.
 */
#define _POSIX_C_SOURCE 200112L
#include <pthread.h>
#include <stdlib.h>

#include "internal.h"
#include "pool.h"

/*
 * Waiting threads spin a while before sleeping, and the while adapts: it
 * grows when spinning pays off (the awaited thread arrived during the spin,
 * as on dedicated cores) and shrinks when it does not (as when cores are
 * shared with other work, or are virtual CPUs time-sharing a physical one:
 * there a spinning thread only steals time from the thread it waits for).
 */
/*
 * The floor matters most: a budget that falls below the usual wait (a few
 * microseconds between two vCPUs) makes every wait fail, so it never grows
 * back, and each barrier then costs a futex sleep and wake-up (~20 us on a
 * VM). Measured on the 2-vCPU development VM, 784-32-10 at batch 10 on two
 * threads (two barriers a mini-batch), 5 epochs: floor 16 pauses 1.02 s,
 * 512 pauses 0.54 s, 1024 0.57 s, pure spinning (4096 fixed) 0.58 s; one
 * thread 0.89 s. 512 pauses are ~10-30 us depending on the CPU's pause. Where
 * spinning still loses (cores shared with other work), automatic thread
 * counts time one thread against more and keep the faster.
 */
#define SPIN_MIN 512
#define SPIN_START 2048
#define SPIN_MAX 16384

struct hdrnn_pool {
  unsigned threads; /* including the caller */
  unsigned active;  /* threads taking part in the current job */
  int background;   /* workers lower their priority as they start */
  pthread_t *workers;
  unsigned started; /* workers actually created */
  pthread_mutex_t mutex;
  pthread_cond_t wake; /* workers: a job or stop */
  pthread_cond_t idle; /* caller: all workers finished */
  hdrnn_pool_fn fn;
  void *ctx;
  unsigned job;      /* generation of the current job (atomic) */
  unsigned running;  /* workers still in the current job (atomic) */
  int stop;
  unsigned spin_limit; /* current spin budget (atomic, a heuristic only) */
  unsigned arrived;  /* threads at the barrier (atomic) */
  unsigned phase;    /* barrier generation (atomic) */
  pthread_cond_t barrier_cv;
};

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __asm__ volatile("pause");
#elif defined(__aarch64__) || (defined(__arm__) && defined(__ARM_ARCH) && __ARM_ARCH >= 7)
  __asm__ volatile("yield");
#endif
}

/* Waits until *word differs from seen: spin, then sleep on cv. */
static void wait_change(hdrnn_pool *pool, unsigned *word, unsigned seen, pthread_cond_t *cv) {
  const unsigned limit = __atomic_load_n(&pool->spin_limit, __ATOMIC_RELAXED);
  for (unsigned i = 0; i < limit; i++) {
    if (__atomic_load_n(word, __ATOMIC_ACQUIRE) != seen) {
      if (limit < SPIN_MAX) __atomic_store_n(&pool->spin_limit, limit + limit / 8 + 1, __ATOMIC_RELAXED);
      return;
    }
    cpu_relax();
  }
  if (limit > SPIN_MIN) __atomic_store_n(&pool->spin_limit, limit / 2, __ATOMIC_RELAXED);
  pthread_mutex_lock(&pool->mutex);
  while (__atomic_load_n(word, __ATOMIC_ACQUIRE) == seen) pthread_cond_wait(cv, &pool->mutex);
  pthread_mutex_unlock(&pool->mutex);
}

/* Advances *word and wakes whoever sleeps on cv. */
static void publish_change(hdrnn_pool *pool, unsigned *word, pthread_cond_t *cv) {
  pthread_mutex_lock(&pool->mutex);
  __atomic_add_fetch(word, 1, __ATOMIC_RELEASE);
  pthread_cond_broadcast(cv);
  pthread_mutex_unlock(&pool->mutex);
}

typedef struct worker_arg {
  hdrnn_pool *pool;
  unsigned tid;
} worker_arg;

static void *worker_main(void *arg) {
  hdrnn_pool *pool = ((worker_arg *)arg)->pool;
  const unsigned tid = ((worker_arg *)arg)->tid;
  free(arg);
  if (pool->background) hdrnn_thread_background(NULL); /* best effort */
  unsigned seen = 0;
  for (;;) {
    wait_change(pool, &pool->job, seen, &pool->wake);
    seen = __atomic_load_n(&pool->job, __ATOMIC_ACQUIRE);
    if (__atomic_load_n(&pool->stop, __ATOMIC_ACQUIRE)) return NULL;
    if (tid < pool->active) pool->fn(pool->ctx, tid, pool->active);
    if (__atomic_sub_fetch(&pool->running, 1, __ATOMIC_ACQ_REL) == 0) {
      pthread_mutex_lock(&pool->mutex);
      pthread_cond_signal(&pool->idle);
      pthread_mutex_unlock(&pool->mutex);
    }
  }
}

static void stop_workers(hdrnn_pool *pool) {
  __atomic_store_n(&pool->stop, 1, __ATOMIC_RELEASE);
  publish_change(pool, &pool->job, &pool->wake);
  for (unsigned i = 0; i < pool->started; i++) pthread_join(pool->workers[i], NULL);
  pool->started = 0;
}

hdrnn_code hdrnn_pool_create(hdrnn_pool **out, unsigned threads, hdrnn_status *status) {
  return hdrnn_pool_create_priority(out, threads, 0, status);
}

hdrnn_code hdrnn_pool_create_priority(hdrnn_pool **out, unsigned threads, int background,
                                      hdrnn_status *status) {
  if (out == NULL || threads == 0)
    return hdrnn_fail(status, HDRNN_ERR_ARGUMENT, "pool needs at least one thread");
  *out = NULL;
  hdrnn_pool *pool = calloc(1, sizeof *pool);
  if (pool == NULL) return hdrnn_fail(status, HDRNN_ERR_NO_MEMORY, "out of memory");
  pool->threads = threads;
  pool->active = threads;
  pool->background = background;
  pool->spin_limit = SPIN_START;
  if (threads > 1) {
    pool->workers = calloc(threads - 1, sizeof *pool->workers);
    if (pool->workers == NULL) {
      free(pool);
      return hdrnn_fail(status, HDRNN_ERR_NO_MEMORY, "out of memory");
    }
  }
  pthread_mutex_init(&pool->mutex, NULL);
  pthread_cond_init(&pool->wake, NULL);
  pthread_cond_init(&pool->idle, NULL);
  pthread_cond_init(&pool->barrier_cv, NULL);
  for (unsigned i = 1; i < threads; i++) {
    worker_arg *arg = malloc(sizeof *arg);
    int err = arg == NULL ? -1 : 0;
    if (arg != NULL) {
      arg->pool = pool;
      arg->tid = i;
      err = pthread_create(&pool->workers[i - 1], NULL, worker_main, arg);
      if (err != 0) free(arg);
    }
    if (err != 0) {
      stop_workers(pool);
      hdrnn_pool_free(pool);
      return hdrnn_fail(status, HDRNN_ERR_SYSTEM, "could not start worker thread %u of %u", i,
                        threads);
    }
    pool->started++;
  }
  *out = pool;
  return hdrnn_ok(status);
}

void hdrnn_pool_free(hdrnn_pool *pool) {
  if (pool == NULL) return;
  if (pool->started > 0) stop_workers(pool);
  pthread_mutex_destroy(&pool->mutex);
  pthread_cond_destroy(&pool->wake);
  pthread_cond_destroy(&pool->idle);
  pthread_cond_destroy(&pool->barrier_cv);
  free(pool->workers);
  free(pool);
}

unsigned hdrnn_pool_threads(const hdrnn_pool *pool) { return pool->threads; }

void hdrnn_pool_run(hdrnn_pool *pool, hdrnn_pool_fn fn, void *ctx) {
  hdrnn_pool_run_active(pool, fn, ctx, pool->threads);
}

void hdrnn_pool_run_active(hdrnn_pool *pool, hdrnn_pool_fn fn, void *ctx, unsigned active) {
  if (active == 0 || active > pool->threads) active = pool->threads;
  if (active == 1) {
    pool->active = 1;
    fn(ctx, 0, 1);
    return;
  }
  pool->fn = fn;
  pool->ctx = ctx;
  pool->active = active;
  __atomic_store_n(&pool->running, pool->threads - 1, __ATOMIC_RELEASE);
  publish_change(pool, &pool->job, &pool->wake);
  fn(ctx, 0, active);
  const unsigned limit = __atomic_load_n(&pool->spin_limit, __ATOMIC_RELAXED);
  for (unsigned i = 0; i < limit; i++) {
    if (__atomic_load_n(&pool->running, __ATOMIC_ACQUIRE) == 0) return;
    cpu_relax();
  }
  pthread_mutex_lock(&pool->mutex);
  while (__atomic_load_n(&pool->running, __ATOMIC_ACQUIRE) != 0)
    pthread_cond_wait(&pool->idle, &pool->mutex);
  pthread_mutex_unlock(&pool->mutex);
}

void hdrnn_pool_barrier(hdrnn_pool *pool) {
  if (pool->active <= 1) return;
  const unsigned phase = __atomic_load_n(&pool->phase, __ATOMIC_ACQUIRE);
  if (__atomic_add_fetch(&pool->arrived, 1, __ATOMIC_ACQ_REL) == pool->active) {
    __atomic_store_n(&pool->arrived, 0, __ATOMIC_RELAXED);
    publish_change(pool, &pool->phase, &pool->barrier_cv);
  } else {
    wait_change(pool, &pool->phase, phase, &pool->barrier_cv);
  }
}

void hdrnn_partition(size_t n, unsigned tid, unsigned threads, size_t align, size_t *begin,
                     size_t *end) {
  size_t chunk = (n + threads - 1) / threads;
  if (align > 1) chunk = (chunk + align - 1) / align * align;
  const size_t b = (size_t)tid * chunk;
  *begin = b < n ? b : n;
  *end = b + chunk < n ? b + chunk : n;
}
