/*
 * train.c - the stepwise training API: a trainer owns the order of the
 * examples, the epoch's running loss and the workspaces, and runs
 * mini-batches either whole-batch on threads (train_batched.c) or one
 * example at a time (the seed's algorithm, reference.c).
 */
#define _POSIX_C_SOURCE 199309L
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "trainer.h"

void hdrnn_train_options_default(hdrnn_train_options *options) {
  memset(options, 0, sizeof *options);
  options->batch_size = 10;
  options->learning_rate = 3.0f;
  options->shuffle = 1;
  options->seed = 0;
  options->threads = 0;
  options->algorithm = HDRNN_ALGORITHM_BATCHED;
  options->kernels = NULL;
  options->interrupt = NULL;
}

/* Every workspace the trainer will allocate, summed and checked against the
 * network's working-memory cap before any of it is. */
static hdrnn_code check_working(const hdrnn_trainer *t, unsigned threads, hdrnn_status *status) {
  const hdrnn_network *net = t->net;
  const uint64_t rows = t->options.batch_size, outputs = net->sizes[net->layer_count - 1];
  uint64_t bytes = 0;
  int ok = hdrnn_add_bytes(&bytes, t->data.count, sizeof(uint32_t)); /* the order */
  if (t->options.algorithm == HDRNN_ALGORITHM_REFERENCE) {
    ok = ok && hdrnn_add_bytes(&bytes, net->parameter_count, sizeof(float));
    for (size_t l = 0; ok && l < net->layer_count; l++)
      ok = hdrnn_add_bytes(&bytes, 2 * (uint64_t)net->sizes[l], sizeof(float));
  } else {
    /* Two sets (double-buffered batches) of activations and deltas, the
     * per-thread copies of a small output layer and of small batches'
     * inputs (train_batched.c). */
    for (size_t l = 0; ok && l < net->layer_count; l++)
      ok = hdrnn_add_bytes(&bytes, 2 * rows, (uint64_t)net->sizes[l] * sizeof(float) * (l == 0 ? 1 : 2));
    if (ok && hdrnn_batched_replicated_top(net))
      ok = hdrnn_add_bytes(&bytes, 2 * (uint64_t)threads * rows, outputs * sizeof(float));
    if (ok && hdrnn_batched_private_inputs(net, (size_t)rows, threads))
      ok = hdrnn_add_bytes(&bytes, 2 * (uint64_t)threads * rows, (uint64_t)net->sizes[0] * sizeof(float));
  }
  if (!ok) return hdrnn_fail(status, HDRNN_ERR_LIMIT, "batch size %zu is too large", t->options.batch_size);
  return hdrnn_network_check_working(net, bytes, "training", status);
}

hdrnn_code hdrnn_trainer_create(hdrnn_trainer **out, hdrnn_network *net,
                                const hdrnn_dataset *data, const hdrnn_train_options *options,
                                hdrnn_status *status) {
  if (out == NULL || net == NULL || data == NULL || options == NULL)
    return hdrnn_fail(status, HDRNN_ERR_ARGUMENT, "trainer: missing argument");
  *out = NULL;
  if (options->batch_size == 0)
    return hdrnn_fail(status, HDRNN_ERR_ARGUMENT, "batch size must be at least 1");
  if (!isfinite(options->learning_rate) || options->learning_rate <= 0.0f)
    return hdrnn_fail(status, HDRNN_ERR_ARGUMENT,
                      "learning rate must be a finite number above 0, got %g",
                      (double)options->learning_rate);
  if (options->algorithm != HDRNN_ALGORITHM_BATCHED &&
      options->algorithm != HDRNN_ALGORITHM_REFERENCE)
    return hdrnn_fail(status, HDRNN_ERR_ARGUMENT, "unknown training algorithm %d",
                      (int)options->algorithm);
  if (options->threads > 1024)
    return hdrnn_fail(status, HDRNN_ERR_ARGUMENT, "%u threads is more than 1024",
                      options->threads);
  hdrnn_code code = hdrnn_dataset_check(data, net, 1, status);
  if (code != HDRNN_OK) return code;
  code = hdrnn_network_check_model(net, status);
  if (code != HDRNN_OK) return code;
  code = hdrnn_optimizer_check(options, status);
  if (code != HDRNN_OK) return code;
  if (options->algorithm == HDRNN_ALGORITHM_REFERENCE &&
      (!hdrnn_network_is_plain(net) || data->targets != NULL ||
       options->optimizer != HDRNN_OPTIMIZER_SGD || options->weight_decay != 0.0f ||
       options->schedule != HDRNN_SCHEDULE_CONSTANT))
    return hdrnn_fail(status, HDRNN_ERR_UNSUPPORTED,
                      "the reference algorithm is the seed's alone (sigmoid, quadratic cost, "
                      "labels, plain SGD); use the batched one for other model options");
  if (data->count == 0)
    return hdrnn_fail(status, HDRNN_ERR_ARGUMENT, "training data has no examples");
  if (data->count > UINT32_MAX)
    return hdrnn_fail(status, HDRNN_ERR_LIMIT, "more than 2^32-1 training examples");

  hdrnn_trainer *t = calloc(1, sizeof *t);
  if (t == NULL) return hdrnn_fail(status, HDRNN_ERR_NO_MEMORY, "out of memory");
  t->net = net;
  t->data = *data;
  t->options = *options;
  hdrnn_optimizer_defaults(&t->options);
  t->optimizer = hdrnn_optimizer_ops_of((hdrnn_optimizer)options->optimizer);
  t->fused_sgd = options->optimizer == HDRNN_OPTIMIZER_SGD && options->weight_decay == 0.0f;
  t->epoch_rate = options->learning_rate;
  /* A batch larger than the data is the whole data (full-batch gradient descent). */
  if (t->options.batch_size > data->count) t->options.batch_size = data->count;
  t->kernels = options->kernels != NULL ? options->kernels : hdrnn_kernels_best();
  t->batches_per_epoch = (data->count + t->options.batch_size - 1) / t->options.batch_size;
  hdrnn_rng_seed(&t->rng, options->seed);

  /* More threads than CPUs only add workspaces and context switches (1000
   * of them never finished an epoch): capped at the CPU count. */
  const unsigned cpus = hdrnn_cpu_count();
  unsigned threads = options->threads != 0 && options->threads < cpus ? options->threads : cpus;
  if (options->algorithm == HDRNN_ALGORITHM_REFERENCE) threads = 1;
  code = check_working(t, threads, status);
  if (code != HDRNN_OK) {
    free(t);
    return code;
  }
  t->options.threads = threads;
  t->active_threads = threads;
  if (options->threads == 0 && threads > 1)
    hdrnn_auto_init(&t->autothreads, threads, t->batches_per_epoch);

  t->order = hdrnn_aligned_alloc(data->count, sizeof *t->order);
  if (t->order == NULL) {
    hdrnn_trainer_free(t);
    return hdrnn_fail(status, HDRNN_ERR_NO_MEMORY, "out of memory");
  }
  for (size_t i = 0; i < data->count; i++) t->order[i] = (uint32_t)i;
  /* Optimizer state, sized once: the gradient scratch and the moments. */
  const size_t p = net->parameter_count;
  int ok = 1;
  if (!t->fused_sgd && (t->gradient = hdrnn_aligned_alloc(p, sizeof(float))) == NULL) ok = 0;
  if (ok && t->optimizer->moments >= 1 && (t->moment1 = hdrnn_aligned_alloc(p, sizeof(float))) == NULL) ok = 0;
  if (ok && t->optimizer->moments >= 2 && (t->moment2 = hdrnn_aligned_alloc(p, sizeof(float))) == NULL) ok = 0;
  if (!ok) {
    hdrnn_trainer_free(t);
    return hdrnn_fail(status, HDRNN_ERR_NO_MEMORY, "out of memory for the optimizer's state");
  }
  if (t->moment1 != NULL) memset(t->moment1, 0, p * sizeof(float));
  if (t->moment2 != NULL) memset(t->moment2, 0, p * sizeof(float));

  code = options->algorithm == HDRNN_ALGORITHM_REFERENCE
             ? hdrnn_reference_init(&t->reference, net, status)
             : hdrnn_batched_init(t, threads, status);
  if (code != HDRNN_OK) {
    hdrnn_trainer_free(t);
    return code;
  }
  *out = t;
  return hdrnn_ok(status);
}

void hdrnn_trainer_free(hdrnn_trainer *t) {
  if (t == NULL) return;
  if (t->options.algorithm == HDRNN_ALGORITHM_REFERENCE)
    hdrnn_reference_free(&t->reference);
  else
    hdrnn_batched_free(t);
  hdrnn_aligned_free(t->order);
  hdrnn_aligned_free(t->gradient);
  hdrnn_aligned_free(t->moment1);
  hdrnn_aligned_free(t->moment2);
  free(t);
}

void hdrnn_trainer_begin_epoch(hdrnn_trainer *t) {
  if (t == NULL) return;
  /* Shuffled in place from last epoch's order, as the seed's Python did. */
  if (t->options.shuffle) hdrnn_rng_shuffle(&t->rng, t->order, t->data.count);
  t->epoch_rate = hdrnn_schedule_rate(&t->options, t->epoch);
  t->epoch++;
  t->batches_done = 0;
  t->loss_sum = 0.0;
  t->loss_count = 0;
}

size_t hdrnn_trainer_batches_per_epoch(const hdrnn_trainer *t) { return t->batches_per_epoch; }
size_t hdrnn_trainer_batches_done(const hdrnn_trainer *t) { return t->batches_done; }
unsigned hdrnn_trainer_threads(const hdrnn_trainer *t) { return t->active_threads; }

double hdrnn_trainer_epoch_loss(const hdrnn_trainer *t) {
  return t->loss_count > 0 ? t->loss_sum / (double)t->loss_count : 0.0;
}

void hdrnn_trainer_batch_bounds(const hdrnn_trainer *t, size_t batch, size_t *first, size_t *rows) {
  *first = batch * t->options.batch_size;
  const size_t left = t->data.count - *first;
  *rows = left < t->options.batch_size ? left : t->options.batch_size;
}

int hdrnn_trainer_interrupted(const hdrnn_trainer *t) {
  return t->options.interrupt != NULL &&
         __atomic_load_n(t->options.interrupt, __ATOMIC_ACQUIRE) != 0;
}

/* One mini-batch of the seed's algorithm: example by example, then update. */
static void reference_batch(hdrnn_trainer *t, size_t batch) {
  size_t first, rows;
  hdrnn_trainer_batch_bounds(t, batch, &first, &rows);
  double loss = 0.0;
  for (size_t r = 0; r < rows; r++) {
    const size_t example = t->order[first + r];
    hdrnn_reference_load(&t->reference, &t->data, example);
    hdrnn_reference_forward(&t->reference, t->net);
    loss += hdrnn_reference_backprop(&t->reference, t->net, hdrnn_dataset_label(&t->data, example));
  }
  t->loss_sum += loss;
  hdrnn_reference_apply(&t->reference, t->net, t->options.learning_rate, rows);
}

static double seconds_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Runs `count` batches from batches_done, whole-batch on the pool, choosing
 * the thread count as it goes when it is automatic. */
static void run_batched(hdrnn_trainer *t, size_t count) {
  const size_t first = t->batches_done;
  size_t ran = 0;
  int stopped = 0;
  while (ran < count && !stopped) {
    unsigned active = t->options.threads;
    const size_t n = t->autothreads.enabled ? hdrnn_auto_plan(&t->autothreads, count - ran, &active)
                                            : count - ran;
    t->step_first = first + ran;
    t->step_count = n;
    t->step_done = 0;
    t->step_stop = 0;
    const double start = t->autothreads.enabled ? seconds_now() : 0.0;
    hdrnn_batched_step(t, active);
    if (t->autothreads.enabled) hdrnn_auto_record(&t->autothreads, t->step_done, seconds_now() - start);
    t->active_threads = active;
    ran += t->step_done;
    stopped = t->step_stop;
  }
  t->step_first = first;
  t->step_done = ran;
}

hdrnn_code hdrnn_trainer_step(hdrnn_trainer *t, size_t max_batches, size_t *done,
                              hdrnn_status *status) {
  if (t == NULL) return hdrnn_fail(status, HDRNN_ERR_ARGUMENT, "missing trainer");
  const size_t left = t->batches_per_epoch - t->batches_done;
  const size_t count = max_batches < left ? max_batches : left;
  t->step_first = t->batches_done;
  t->step_count = count;
  t->step_done = 0;
  t->step_stop = 0;
  if (count > 0) {
    if (t->options.algorithm == HDRNN_ALGORITHM_REFERENCE) {
      for (size_t i = 0; i < count; i++) {
        reference_batch(t, t->step_first + i);
        t->step_done = i + 1;
        if (hdrnn_trainer_interrupted(t)) break;
      }
    } else {
      run_batched(t, count);
    }
  }
  const size_t ran = t->step_done;
  size_t first, rows;
  for (size_t i = 0; i < ran; i++) {
    hdrnn_trainer_batch_bounds(t, t->step_first + i, &first, &rows);
    t->loss_count += rows;
  }
  t->batches_done += ran;
  if (done != NULL) *done = ran;
  return hdrnn_ok(status);
}
