/*
 * train.c - mini-batch SGD on a quadratic cost, a whole batch at a time.
 *
 * Each mini-batch goes through every layer as one matrix product (kernels.h)
 * and every stage is split between the pool's threads by output columns, so
 * that each number is computed by exactly one thread with the same kernel
 * call whatever the thread count: the weights after training do not depend
 * on how many threads ran it. Per batch, with L weight layers:
 *
 *   inputs   rows of the batch scaled into activations[0]        (split by rows)
 *   forward  a[l] = sigmoid(a[l-1] W[l]^T + b[l]), l = 1..L       (split by neurons of l)
 *            d[L] = (a[L] - y) * a[L] (1 - a[L])
 *   backward for l = L..1:                                        (split by neurons of l-1)
 *              d[l-1] = (d[l] W[l]) * a[l-1] (1 - a[l-1])         (l > 1)
 *              W[l][:, cols] += -(eta/B) * d[l]^T a[l-1][:, cols]
 *            then b[l] += -(eta/B) * sum of d[l] over the batch    (split by neurons of l)
 *
 * Splitting W[l]'s update by columns (the neurons of l-1) lets one thread
 * read column j of W[l] for d[l-1] and then update that same column with no
 * barrier in between: no other thread touches it. A barrier separates stages
 * that read what another thread wrote.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "pool.h"
#include "reference.h"
#include "rng.h"

/* Columns are split at multiples of this (one AVX2 vector) where possible. */
#define SPLIT_ALIGN 8

struct hdrnn_trainer {
  hdrnn_network *net;
  hdrnn_dataset data;
  hdrnn_train_options options;
  const hdrnn_kernels *kernels;
  hdrnn_pool *pool;
  hdrnn_rng rng;
  uint32_t *order;          /* this epoch's order of the examples */
  size_t batches_per_epoch; /* ceil(count / batch_size) */
  size_t batches_done;      /* this epoch */
  double loss_sum;          /* this epoch */
  size_t loss_count;
  /* batched path: batch_size rows per layer */
  float **activations; /* layer_count arrays of batch_size * sizes[l] */
  float **deltas;      /* layer_count arrays; [0] unused */
  /* the current step, shared with the pool's threads */
  size_t step_first, step_count; /* batches of this step */
  size_t step_done;              /* batches finished (set by thread 0) */
  int step_stop;                 /* thread 0 saw the interrupt flag */
  double step_loss;
  /* reference path */
  hdrnn_reference reference;
};

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

static void free_workspaces(hdrnn_trainer *t) {
  if (t->activations != NULL)
    for (size_t l = 0; l < t->net->layer_count; l++) hdrnn_aligned_free(t->activations[l]);
  if (t->deltas != NULL)
    for (size_t l = 0; l < t->net->layer_count; l++) hdrnn_aligned_free(t->deltas[l]);
  free(t->activations);
  free(t->deltas);
  t->activations = t->deltas = NULL;
}

static hdrnn_code alloc_workspaces(hdrnn_trainer *t, hdrnn_status *status) {
  const hdrnn_network *net = t->net;
  t->activations = calloc(net->layer_count, sizeof *t->activations);
  t->deltas = calloc(net->layer_count, sizeof *t->deltas);
  if (t->activations == NULL || t->deltas == NULL)
    return hdrnn_fail(status, HDRNN_ERR_NO_MEMORY, "out of memory for training workspace");
  for (size_t l = 0; l < net->layer_count; l++) {
    size_t n;
    if (!hdrnn_mul_size(t->options.batch_size, net->sizes[l], &n))
      return hdrnn_fail(status, HDRNN_ERR_LIMIT, "batch size %zu is too large for this network",
                        t->options.batch_size);
    t->activations[l] = hdrnn_aligned_alloc(n, sizeof(float));
    t->deltas[l] = l > 0 ? hdrnn_aligned_alloc(n, sizeof(float)) : NULL;
    if (t->activations[l] == NULL || (l > 0 && t->deltas[l] == NULL))
      return hdrnn_fail(status, HDRNN_ERR_NO_MEMORY,
                        "out of memory for a batch of %zu (layer %zu)", t->options.batch_size, l);
  }
  return hdrnn_ok(status);
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
  if (data->count == 0)
    return hdrnn_fail(status, HDRNN_ERR_ARGUMENT, "training data has no examples");
  if (data->count > UINT32_MAX)
    return hdrnn_fail(status, HDRNN_ERR_LIMIT, "more than 2^32-1 training examples");

  hdrnn_trainer *t = calloc(1, sizeof *t);
  if (t == NULL) return hdrnn_fail(status, HDRNN_ERR_NO_MEMORY, "out of memory");
  t->net = net;
  t->data = *data;
  t->options = *options;
  /* A batch larger than the data is the whole data (full-batch gradient descent). */
  if (t->options.batch_size > data->count) t->options.batch_size = data->count;
  t->kernels = options->kernels != NULL ? options->kernels : hdrnn_kernels_best();
  t->batches_per_epoch = (data->count + t->options.batch_size - 1) / t->options.batch_size;
  hdrnn_rng_seed(&t->rng, options->seed);

  unsigned threads = options->threads != 0 ? options->threads : hdrnn_cpu_count();
  if (options->algorithm == HDRNN_ALGORITHM_REFERENCE) threads = 1;
  t->options.threads = threads;

  t->order = hdrnn_aligned_alloc(data->count, sizeof *t->order);
  if (t->order == NULL) {
    hdrnn_trainer_free(t);
    return hdrnn_fail(status, HDRNN_ERR_NO_MEMORY, "out of memory");
  }
  for (size_t i = 0; i < data->count; i++) t->order[i] = (uint32_t)i;

  if (options->algorithm == HDRNN_ALGORITHM_REFERENCE)
    code = hdrnn_reference_init(&t->reference, net, status);
  else
    code = alloc_workspaces(t, status);
  if (code == HDRNN_OK && options->algorithm == HDRNN_ALGORITHM_BATCHED)
    code = hdrnn_pool_create(&t->pool, threads, status);
  if (code != HDRNN_OK) {
    hdrnn_trainer_free(t);
    return code;
  }
  *out = t;
  return hdrnn_ok(status);
}

void hdrnn_trainer_free(hdrnn_trainer *t) {
  if (t == NULL) return;
  hdrnn_pool_free(t->pool);
  free_workspaces(t);
  if (t->options.algorithm == HDRNN_ALGORITHM_REFERENCE) hdrnn_reference_free(&t->reference);
  hdrnn_aligned_free(t->order);
  free(t);
}

void hdrnn_trainer_begin_epoch(hdrnn_trainer *t) {
  if (t == NULL) return;
  /* Shuffled in place from last epoch's order, as the seed's Python did. */
  if (t->options.shuffle) hdrnn_rng_shuffle(&t->rng, t->order, t->data.count);
  t->batches_done = 0;
  t->loss_sum = 0.0;
  t->loss_count = 0;
}

size_t hdrnn_trainer_batches_per_epoch(const hdrnn_trainer *t) { return t->batches_per_epoch; }
size_t hdrnn_trainer_batches_done(const hdrnn_trainer *t) { return t->batches_done; }
unsigned hdrnn_trainer_threads(const hdrnn_trainer *t) { return t->options.threads; }

double hdrnn_trainer_epoch_loss(const hdrnn_trainer *t) {
  return t->loss_count > 0 ? t->loss_sum / (double)t->loss_count : 0.0;
}

/* Examples [first, first + rows) of the epoch's order make batch b. */
static void batch_bounds(const hdrnn_trainer *t, size_t batch, size_t *first, size_t *rows) {
  *first = batch * t->options.batch_size;
  const size_t left = t->data.count - *first;
  *rows = left < t->options.batch_size ? left : t->options.batch_size;
}

static int interrupted(const hdrnn_trainer *t) {
  return t->options.interrupt != NULL &&
         __atomic_load_n(t->options.interrupt, __ATOMIC_ACQUIRE) != 0;
}

/* ---------------------------------------------------------- batched path */

static void load_rows(hdrnn_trainer *t, size_t first, size_t begin, size_t end) {
  const size_t n = t->data.input_size;
  float *x = t->activations[0];
  for (size_t r = begin; r < end; r++) {
    const size_t example = t->order[first + r];
    if (t->data.pixels != NULL)
      t->kernels->scale_bytes(x + r * n, t->data.pixels + example * n, n);
    else
      memcpy(x + r * n, t->data.features + example * n, n * sizeof(float));
  }
}

static void train_batch(hdrnn_trainer *t, size_t batch, unsigned tid, unsigned threads) {
  const hdrnn_network *net = t->net;
  const hdrnn_kernels *k = t->kernels;
  const size_t layers = net->layer_count - 1, last = layers;
  size_t first, rows, begin, end;
  batch_bounds(t, batch, &first, &rows);
  const float alpha = -t->options.learning_rate / (float)rows;

  hdrnn_partition(rows, tid, threads, 1, &begin, &end);
  load_rows(t, first, begin, end);
  hdrnn_pool_barrier(t->pool);

  for (size_t l = 1; l <= layers; l++) {
    const size_t in = net->sizes[l - 1], out = net->sizes[l];
    hdrnn_partition(out, tid, threads, SPLIT_ALIGN, &begin, &end);
    if (begin < end) {
      const float *w = net->params + net->weight_offsets[l - 1];
      const float *b = net->params + net->bias_offsets[l - 1];
      float *a = t->activations[l];
      k->forward(rows, end - begin, in, t->activations[l - 1], in, w + begin * in, in, b + begin,
                 a + begin, out);
      for (size_t r = 0; r < rows; r++) k->sigmoid(a + r * out + begin, end - begin);
      if (l == last) {
        float *d = t->deltas[l];
        for (size_t r = 0; r < rows; r++) {
          const uint32_t label = hdrnn_dataset_label(&t->data, t->order[first + r]);
          for (size_t j = begin; j < end; j++) {
            const float y = a[r * out + j];
            d[r * out + j] = y - (j == label ? 1.0f : 0.0f);
          }
          k->sigmoid_backward(d + r * out + begin, a + r * out + begin, end - begin);
        }
      }
    }
    hdrnn_pool_barrier(t->pool);
  }

  if (tid == 0) {
    /* The cost of each example before the update, summed in a fixed order. */
    const size_t out = net->sizes[last];
    const float *a = t->activations[last];
    double loss = 0.0;
    for (size_t r = 0; r < rows; r++) {
      const uint32_t label = hdrnn_dataset_label(&t->data, t->order[first + r]);
      for (size_t j = 0; j < out; j++) {
        const double diff = (double)a[r * out + j] - (j == label ? 1.0 : 0.0);
        loss += 0.5 * diff * diff;
      }
    }
    t->step_loss += loss;
  }

  for (size_t l = layers; l >= 1; l--) {
    const size_t in = net->sizes[l - 1], out = net->sizes[l];
    float *w = net->params + net->weight_offsets[l - 1];
    const float *d = t->deltas[l];
    const float *prev = t->activations[l - 1];
    hdrnn_partition(in, tid, threads, SPLIT_ALIGN, &begin, &end);
    if (begin < end) {
      if (l > 1) {
        float *pd = t->deltas[l - 1];
        k->backward(rows, end - begin, out, d, out, w + begin, in, pd + begin, in);
        for (size_t r = 0; r < rows; r++)
          k->sigmoid_backward(pd + r * in + begin, prev + r * in + begin, end - begin);
      }
      k->update(rows, out, end - begin, alpha, d, out, prev + begin, in, w + begin, in);
    }
    hdrnn_partition(out, tid, threads, SPLIT_ALIGN, &begin, &end);
    float *b = net->params + net->bias_offsets[l - 1];
    for (size_t j = begin; j < end; j++) {
      float sum = 0.0f;
      for (size_t r = 0; r < rows; r++) sum += d[r * out + j];
      b[j] += alpha * sum;
    }
    /* Thread 0 decides, before the batch's last barrier, whether the step
     * ends here; the barrier publishes the decision to every thread. */
    if (l == 1 && tid == 0) t->step_stop = interrupted(t);
    hdrnn_pool_barrier(t->pool);
  }
}

static void train_step_thread(void *ctx, unsigned tid, unsigned threads) {
  hdrnn_trainer *t = ctx;
  for (size_t i = 0; i < t->step_count; i++) {
    train_batch(t, t->step_first + i, tid, threads);
    if (tid == 0) t->step_done = i + 1;
    if (t->step_stop) break;
  }
}

/* ---------------------------------------------------------- reference path */

static void reference_batch(hdrnn_trainer *t, size_t batch) {
  size_t first, rows;
  batch_bounds(t, batch, &first, &rows);
  for (size_t r = 0; r < rows; r++) {
    const size_t example = t->order[first + r];
    hdrnn_reference_load(&t->reference, &t->data, example);
    hdrnn_reference_forward(&t->reference, t->net);
    t->step_loss += hdrnn_reference_backprop(&t->reference, t->net,
                                             hdrnn_dataset_label(&t->data, example));
  }
  hdrnn_reference_apply(&t->reference, t->net, t->options.learning_rate, rows);
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
  t->step_loss = 0.0;
  if (count > 0) {
    if (t->options.algorithm == HDRNN_ALGORITHM_REFERENCE) {
      for (size_t i = 0; i < count; i++) {
        reference_batch(t, t->step_first + i);
        t->step_done = i + 1;
        if (interrupted(t)) break;
      }
    } else {
      hdrnn_pool_run(t->pool, train_step_thread, t);
    }
  }
  const size_t ran = t->step_done;
  size_t first, rows;
  for (size_t i = 0; i < ran; i++) {
    batch_bounds(t, t->step_first + i, &first, &rows);
    t->loss_count += rows;
  }
  t->loss_sum += t->step_loss;
  t->batches_done += ran;
  if (done != NULL) *done = ran;
  return hdrnn_ok(status);
}
