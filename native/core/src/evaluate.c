/*
 * evaluate.c - forward passes over many examples: accuracy, cost and
 * confusion of a labelled set, or the scores and predicted labels of inputs.
 *
 * The examples are cut into fixed chunks of CHUNK rows. Each thread takes
 * the next chunk nobody has taken yet (a shared counter), so a thread that
 * starts late, or runs on a busy core, does less of the work instead of
 * holding up the end: with chunks dealt out in turn, a worker woken 5 ms late
 * on the development VM made half the 2-thread evaluations as slow as one
 * thread. Results are kept per chunk and added in chunk order at the end
 * (the confusion counts go straight into the caller's matrix with atomic
 * adds: integer sums, and one matrix instead of one per thread, which for
 * 4096 outputs was 128 MiB a thread), so every result is the same whatever
 * the thread count and whoever took which chunk. Every buffer is counted
 * against the network's working-memory cap before it is allocated, and a
 * caller's cancel flag is read between chunks.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "activations.h"
#include "internal.h"
#include "losses.h"
#include "kernels.h"
#include "pool.h"

#define CHUNK 64

typedef struct eval_job {
  const hdrnn_network *net;
  const hdrnn_dataset *data;
  const hdrnn_kernels *kernels;
  size_t chunks;
  size_t next_chunk;     /* the next chunk to take (atomic) */
  size_t width;          /* widest layer */
  size_t chunk_rows;     /* min(CHUNK, count): a single example needs no more */
  float *workspace;      /* threads * 2 * chunk_rows * width floats */
  /* outputs */
  float *scores;         /* optional, count * outputs */
  uint32_t *labels;      /* optional, count */
  int evaluate;          /* labelled: fill the per-chunk results below */
  double *chunk_loss;    /* chunks */
  double *chunk_sq;      /* chunks: squared errors (float targets) */
  double *chunk_abs;     /* chunks: absolute errors (float targets) */
  size_t *chunk_correct; /* chunks */
  uint64_t *confusion;   /* outputs * outputs (the caller's), or NULL; atomic adds */
  int bad_label;         /* a label changed to out of range during the run (atomic) */
  const int *cancel;     /* the caller's flag, or NULL */
  int cancelled;         /* a thread saw it raised (atomic) */
} eval_job;

/* Forward pass of rows [first, first + rows); returns the output activations. */
static const float *forward_rows(const eval_job *job, float *ping, float *pong, size_t first,
                                 size_t rows) {
  const hdrnn_network *net = job->net;
  const hdrnn_dataset *data = job->data;
  const size_t n = data->input_size;
  for (size_t r = 0; r < rows; r++) {
    if (data->pixels != NULL)
      job->kernels->scale_bytes(ping + r * n, data->pixels + (first + r) * n, n);
    else
      memcpy(ping + r * n, data->features + (first + r) * n, n * sizeof(float));
  }
  hdrnn_standardize_rows(net, ping, rows);
  float *in = ping, *out = pong;
  for (size_t l = 0; l + 1 < net->layer_count; l++) {
    const size_t k = net->sizes[l], m = net->sizes[l + 1];
    job->kernels->forward(rows, m, k, in, k, net->params + net->weight_offsets[l], k,
                          net->params + net->bias_offsets[l], out, m);
    hdrnn_activate_all(hdrnn_layer_activation(net, l + 1), job->kernels, out, rows, m);
    float *t = in;
    in = out;
    out = t;
  }
  return in;
}

static void eval_thread(void *ctx, unsigned tid, unsigned threads) {
  eval_job *job = ctx;
  const size_t outputs = job->net->sizes[job->net->layer_count - 1];
  float *ping = job->workspace + (size_t)tid * 2 * job->chunk_rows * job->width;
  float *pong = ping + job->chunk_rows * job->width;
  uint64_t *confusion = job->confusion;
  (void)tid;
  (void)threads;
  for (;;) {
    if (job->cancel != NULL && __atomic_load_n(job->cancel, __ATOMIC_RELAXED) != 0) {
      __atomic_store_n(&job->cancelled, 1, __ATOMIC_RELAXED);
      break;
    }
    const size_t c = __atomic_fetch_add(&job->next_chunk, 1, __ATOMIC_RELAXED);
    if (c >= job->chunks) break;
    const size_t first = c * CHUNK;
    const size_t rows = job->data->count - first < CHUNK ? job->data->count - first : CHUNK;
    const float *a = forward_rows(job, ping, pong, first, rows);
    if (job->scores != NULL) memcpy(job->scores + first * outputs, a, rows * outputs * sizeof(float));
    double loss = 0.0, sq = 0.0, abs_sum = 0.0;
    size_t correct = 0;
    const hdrnn_loss_ops *cost = hdrnn_loss_ops_of(job->net->loss);
    const hdrnn_activation output =
        (hdrnn_activation)job->net->activations[job->net->layer_count - 2];
    for (size_t r = 0; r < rows; r++) {
      const size_t predicted = hdrnn_argmax(a + r * outputs, outputs);
      if (job->labels != NULL) job->labels[first + r] = (uint32_t)predicted;
      if (!job->evaluate) continue;
      if (job->data->targets != NULL) {
        const hdrnn_target y = hdrnn_dataset_target(job->data, first + r);
        loss += cost->cost(output, a + r * outputs, &y, outputs);
        for (size_t j = 0; j < outputs; j++) {
          const double e = (double)a[r * outputs + j] - (double)y.values[j];
          sq += e * e;
          abs_sum += e < 0 ? -e : e;
        }
        continue;
      }
      const uint32_t label = hdrnn_dataset_label(job->data, first + r);
      /* The labels were checked before the run, but they live in the
       * caller's memory and may be rewritten meanwhile: never index with one
       * unchecked. */
      if (label >= outputs) {
        __atomic_store_n(&job->bad_label, 1, __ATOMIC_RELAXED);
        continue;
      }
      if (job->net->loss == HDRNN_LOSS_QUADRATIC) {
        /* The seed's sum, term by term as it always was. */
        for (size_t j = 0; j < outputs; j++) {
          const double diff = (double)a[r * outputs + j] - (j == label ? 1.0 : 0.0);
          loss += 0.5 * diff * diff;
        }
      } else {
        const hdrnn_target y = hdrnn_dataset_target(job->data, first + r);
        loss += cost->cost(output, a + r * outputs, &y, outputs);
      }
      correct += predicted == label;
      if (confusion != NULL)
        __atomic_fetch_add(&confusion[(size_t)label * outputs + predicted], 1, __ATOMIC_RELAXED);
    }
    if (job->evaluate) {
      job->chunk_loss[c] = loss;
      job->chunk_sq[c] = sq;
      job->chunk_abs[c] = abs_sum;
      job->chunk_correct[c] = correct;
    }
  }
}

/* The thread count asked for, decided once: the CPU count can change while
 * we run (cores going on and off line), and buffers are sized from it. More
 * threads than CPUs only add workspaces and switches, so they are capped. */
static unsigned requested_threads(const hdrnn_run_options *options) {
  const unsigned cpus = hdrnn_cpu_count();
  const unsigned asked = options != NULL ? options->threads : 0;
  return asked != 0 && asked < cpus ? asked : cpus;
}

/* Runs job with at most `threads` threads. `reserved` bytes of working
 * memory are already taken by the caller's buffers for this run. */
static hdrnn_code run(eval_job *job, const hdrnn_run_options *options, unsigned threads,
                      uint64_t reserved, hdrnn_status *status) {
  const hdrnn_network *net = job->net;
  job->kernels = options != NULL && options->kernels != NULL ? options->kernels : hdrnn_kernels_best();
  job->cancel = options != NULL ? options->cancel : NULL;
  job->chunks = (job->data->count + CHUNK - 1) / CHUNK;
  job->next_chunk = 0;
  if (threads > 1024) return hdrnn_fail(status, HDRNN_ERR_ARGUMENT, "%u threads is more than 1024", threads);
  if (threads > job->chunks) threads = job->chunks > 0 ? (unsigned)job->chunks : 1;
  job->width = 0;
  for (size_t l = 0; l < net->layer_count; l++)
    if (net->sizes[l] > job->width) job->width = net->sizes[l];
  size_t per_thread, total;
  job->chunk_rows = job->data->count < CHUNK ? job->data->count : CHUNK;
  if (job->chunk_rows == 0) job->chunk_rows = 1;
  if (!hdrnn_mul_size(job->width, 2 * job->chunk_rows, &per_thread) ||
      !hdrnn_mul_size(per_thread, threads, &total))
    return hdrnn_fail(status, HDRNN_ERR_LIMIT, "network too wide to evaluate");
  uint64_t working = reserved;
  if (!hdrnn_add_bytes(&working, total, sizeof(float)))
    return hdrnn_fail(status, HDRNN_ERR_LIMIT, "network too wide to evaluate");
  hdrnn_code code = hdrnn_network_check_working(net, working, "this run", status);
  if (code != HDRNN_OK) return code;
  job->workspace = hdrnn_aligned_alloc(total, sizeof(float));
  if (job->workspace == NULL)
    return hdrnn_fail(status, HDRNN_ERR_NO_MEMORY, "out of memory for evaluation");
  if (threads == 1) {
    /* One thread (and a single example, the latency case): no pool at all. */
    eval_thread(job, 0, 1);
  } else {
    hdrnn_pool *pool = NULL;
    code = hdrnn_pool_create(&pool, threads, status);
    if (code == HDRNN_OK) hdrnn_pool_run(pool, eval_thread, job);
    hdrnn_pool_free(pool);
  }
  hdrnn_aligned_free(job->workspace);
  job->workspace = NULL;
  if (code == HDRNN_OK && job->cancelled)
    code = hdrnn_fail(status, HDRNN_ERR_CANCELLED, "cancelled");
  return code;
}

hdrnn_code hdrnn_evaluate(const hdrnn_network *net, const hdrnn_dataset *data,
                          const hdrnn_run_options *options, hdrnn_evaluation *result,
                          hdrnn_status *status) {
  if (result == NULL) return hdrnn_fail(status, HDRNN_ERR_ARGUMENT, "missing result");
  hdrnn_code code = hdrnn_dataset_check(data, net, 1, status);
  if (code != HDRNN_OK) return code;
  const size_t outputs = net->sizes[net->layer_count - 1];
  eval_job job;
  memset(&job, 0, sizeof job);
  job.net = net;
  job.data = data;
  job.evaluate = 1;
  const size_t chunks = (data->count + CHUNK - 1) / CHUNK;
  const unsigned most_threads = requested_threads(options);
  if (options != NULL && options->threads > 1024)
    return hdrnn_fail(status, HDRNN_ERR_ARGUMENT, "%u threads is more than 1024", options->threads);
  size_t cells = 0;
  if (result->confusion != NULL && !hdrnn_mul_size(outputs, outputs, &cells))
    return hdrnn_fail(status, HDRNN_ERR_LIMIT, "too many outputs for a confusion matrix");
  /* The per-chunk results; the confusion matrix is the caller's (counted
   * here all the same, as this run is why it exists). */
  uint64_t reserved = 0;
  if (!hdrnn_add_bytes(&reserved, chunks + 1,
                       sizeof *job.chunk_loss + sizeof *job.chunk_correct +
                           sizeof *job.chunk_sq + sizeof *job.chunk_abs) ||
      !hdrnn_add_bytes(&reserved, cells, sizeof *result->confusion))
    return hdrnn_fail(status, HDRNN_ERR_LIMIT, "evaluation too large");
  code = hdrnn_network_check_working(net, reserved, "this evaluation", status);
  if (code != HDRNN_OK) return code;
  job.confusion = result->confusion;
  job.chunk_loss = calloc(chunks + 1, sizeof *job.chunk_loss);
  job.chunk_correct = calloc(chunks + 1, sizeof *job.chunk_correct);
  job.chunk_sq = calloc(chunks + 1, sizeof *job.chunk_sq);
  job.chunk_abs = calloc(chunks + 1, sizeof *job.chunk_abs);
  if (job.chunk_loss == NULL || job.chunk_correct == NULL || job.chunk_sq == NULL ||
      job.chunk_abs == NULL)
    code = hdrnn_fail(status, HDRNN_ERR_NO_MEMORY, "out of memory");
  if (code == HDRNN_OK) code = run(&job, options, most_threads, reserved, status);
  if (code == HDRNN_OK && job.bad_label)
    code = hdrnn_fail(status, HDRNN_ERR_MISMATCH,
                      "a label changed to one out of range while the evaluation ran");
  if (code == HDRNN_OK) {
    double loss = 0.0, sq = 0.0, abs_sum = 0.0;
    size_t correct = 0;
    for (size_t c = 0; c < chunks; c++) {
      loss += job.chunk_loss[c];
      correct += job.chunk_correct[c];
      sq += job.chunk_sq[c];
      abs_sum += job.chunk_abs[c];
    }
    size_t values = 0;
    if (data->targets != NULL && hdrnn_mul_size(data->count, outputs, &values) && values > 0) {
      result->rmse = sqrt(sq / (double)values);
      result->mae = abs_sum / (double)values;
    } else {
      result->rmse = result->mae = 0.0;
    }
    result->correct = correct;
    result->total = data->count;
    result->loss = data->count > 0 ? loss / (double)data->count : 0.0;
  }
  free(job.chunk_loss);
  free(job.chunk_correct);
  free(job.chunk_sq);
  free(job.chunk_abs);
  return code;
}

hdrnn_code hdrnn_infer(const hdrnn_network *net, const hdrnn_dataset *data,
                       const hdrnn_run_options *options, float *scores, uint32_t *labels,
                       hdrnn_status *status) {
  hdrnn_code code = hdrnn_dataset_check(data, net, 0, status);
  if (code != HDRNN_OK) return code;
  eval_job job;
  memset(&job, 0, sizeof job);
  job.net = net;
  job.data = data;
  job.scores = scores;
  job.labels = labels;
  if (options != NULL && options->threads > 1024)
    return hdrnn_fail(status, HDRNN_ERR_ARGUMENT, "%u threads is more than 1024", options->threads);
  /* The caller's score and label arrays are this run's too. */
  const size_t outputs = net->sizes[net->layer_count - 1];
  uint64_t reserved = 0;
  if ((scores != NULL && !hdrnn_add_bytes(&reserved, (uint64_t)data->count * outputs, sizeof(float))) ||
      (labels != NULL && !hdrnn_add_bytes(&reserved, data->count, sizeof(uint32_t))))
    return hdrnn_fail(status, HDRNN_ERR_LIMIT, "too many inputs");
  return run(&job, options, requested_threads(options), reserved, status);
}
