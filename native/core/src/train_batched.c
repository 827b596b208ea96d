/*
 * train_batched.c - mini-batch SGD a whole batch at a time, on the pool's
 * threads, with as few barriers as the data dependencies allow.
 *
 * Every mini-batch goes through each layer as one matrix product (kernels.h).
 * Each thread owns a slice of the neurons of every hidden layer and does all
 * the work on them: their activations, their deltas, the rows of weights
 * coming into them. Each number is thus computed by one thread with the same
 * kernel call whatever the thread count, and the weights after training do
 * not depend on how many threads ran it.
 *
 * With L weight layers and a small output layer (up to REPLICATED_TOP_MAX
 * neurons, as MNIST's 10), a batch b runs in these stages, barriers between:
 *
 *   1. apply batch b-1's deferred updates (below); forward layer 1 for my
 *      neurons: a1 = sigmoid(a0 W1^T + b1)
 *   2..L-1. forward layer l for my neurons (needs all of a[l-1])
 *   L. every thread computes the whole output layer and its deltas,
 *      d[L] = (a[L] - y) a[L] (1 - a[L]), itself (a few thousand flops, cheaper
 *      than a barrier); then, hidden layers from the top, for my neurons:
 *      d[l] = (d[l+1] W[l+1]) a[l] (1 - a[l]) (a barrier before each but the
 *      first: it needs all of d[l+1]); at l = 1, update my rows of W1 and
 *      load my rows of batch b+1's inputs.
 *
 * Updates that would race with other threads still reading the same weights
 * in this batch (W[l] for l >= 2 is read by every thread's d[l-1]; the output
 * layer by every thread's copy of the forward pass) are deferred to stage 1 of
 * the next batch, when nobody reads them. Activations and deltas are double
 * buffered by batch parity so that deferred updates still see their batch.
 * The default 784-32-10 network needs two barriers per mini-batch. A wider
 * output layer is split between threads like a hidden one (one more barrier),
 * except a softmax, which needs whole rows and is always replicated.
 *
 * The sigmoid and its slope above stand for each layer's activation and the
 * loss's output delta, looked up in their tables (activations.h, losses.h);
 * the sigmoid entry is the kernels' vectorised one, called exactly as before.
 * Plain SGD keeps the kernels' fused update; other optimizers (and weight
 * decay) form the batch gradient with the same kernel and step per element
 * (optimizers.h), on the same rows, so the thread count still cannot change
 * a bit of the result.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "activations.h"
#include "losses.h"
#include "trainer.h"

/* Neuron slices are cut at multiples of this (one AVX2 vector) where possible. */
#define SPLIT_ALIGN 8
/* Output layers up to this size are computed by every thread. */
#define REPLICATED_TOP_MAX 64
/*
 * Batches whose inputs take up to this many bytes are loaded (scaled) by
 * every thread in full into a buffer of its own, instead of each thread
 * loading its share of the rows into one shared buffer. Layer 1 on each
 * thread reads every row of the inputs, so with shared rows half of them
 * came from the other core's cache every batch, and were taken back (for
 * writing) by the next batch's load. For a small batch that traffic costs
 * more than scaling the whole batch twice. Interleaved fresh runs on the
 * 2-vCPU AVX-512 VM, two threads, median of 5 (2026-12-02): 784-32-10 b10
 * 0.090 -> 0.069 s, b100 0.060 -> 0.048 s, 784-128-10 b100 0.138 -> 0.126 s,
 * 784-256-128-10 b100 0.313 -> 0.288 s. The cap keeps the copies small
 * (2 x threads x 512 KiB at most, counted in the working-memory check).
 */
#define PRIVATE_INPUTS_MAX ((size_t)512 << 10)

int hdrnn_batched_replicated_top(const hdrnn_network *net) {
  /* A softmax output needs whole rows: every thread computes it. */
  return net->sizes[net->layer_count - 1] <= REPLICATED_TOP_MAX ||
         net->activations[net->layer_count - 2] == HDRNN_ACTIVATION_SOFTMAX;
}

int hdrnn_batched_private_inputs(const hdrnn_network *net, size_t rows, unsigned threads) {
  size_t bytes;
  return threads > 1 && hdrnn_mul_size(rows, (size_t)net->sizes[0] * sizeof(float), &bytes) &&
         bytes <= PRIVATE_INPUTS_MAX;
}

/* ------------------------------------------------------------ workspaces */

static float **alloc_rows(size_t arrays, size_t rows, const uint32_t *widths, size_t same_width,
                          int skip_first) {
  float **a = calloc(arrays, sizeof *a);
  if (a == NULL) return NULL;
  for (size_t i = skip_first ? 1 : 0; i < arrays; i++) {
    size_t n;
    if (!hdrnn_mul_size(rows, widths != NULL ? widths[i] : same_width, &n) ||
        (a[i] = hdrnn_aligned_alloc(n, sizeof(float))) == NULL) {
      for (size_t j = 0; j < i; j++) hdrnn_aligned_free(a[j]);
      free(a);
      return NULL;
    }
  }
  return a;
}

static void free_rows(float **a, size_t arrays) {
  if (a == NULL) return;
  for (size_t i = 0; i < arrays; i++) hdrnn_aligned_free(a[i]);
  free(a);
}

void hdrnn_batched_free(hdrnn_trainer *t) {
  hdrnn_batch_buffers *b = &t->buffers;
  hdrnn_pool_free(t->pool);
  t->pool = NULL;
  for (int p = 0; p < 2; p++) {
    free_rows(b->activations[p], t->net->layer_count);
    free_rows(b->deltas[p], t->net->layer_count);
    free_rows(b->inputs[p], b->threads);
    b->activations[p] = b->deltas[p] = b->inputs[p] = NULL;
  }
  free_rows(b->top_activations, b->threads);
  free_rows(b->top_deltas, b->threads);
  b->top_activations = b->top_deltas = NULL;
}

hdrnn_code hdrnn_batched_init(hdrnn_trainer *t, unsigned threads, hdrnn_status *status) {
  const hdrnn_network *net = t->net;
  hdrnn_batch_buffers *b = &t->buffers;
  const size_t rows = t->options.batch_size, outputs = net->sizes[net->layer_count - 1];
  size_t total; /* one set of buffers, to refuse absurd batch sizes early */
  if (!hdrnn_mul_size(rows, outputs, &total))
    return hdrnn_fail(status, HDRNN_ERR_LIMIT, "batch size %zu is too large", rows);
  b->threads = threads;
  b->replicated_top = hdrnn_batched_replicated_top(net);
  b->private_inputs = hdrnn_batched_private_inputs(net, rows, threads);
  int ok = 1;
  for (int p = 0; p < 2 && ok; p++) {
    b->activations[p] = alloc_rows(net->layer_count, rows, net->sizes, 0, 0);
    b->deltas[p] = alloc_rows(net->layer_count, rows, net->sizes, 0, 1);
    ok = b->activations[p] != NULL && b->deltas[p] != NULL;
    if (ok && b->private_inputs) ok = (b->inputs[p] = alloc_rows(threads, rows, NULL, net->sizes[0], 0)) != NULL;
  }
  if (ok && b->replicated_top) {
    b->top_activations = alloc_rows(threads, rows, NULL, outputs, 0);
    b->top_deltas = alloc_rows(threads, rows, NULL, outputs, 0);
    ok = b->top_activations != NULL && b->top_deltas != NULL;
  }
  if (!ok) {
    hdrnn_batched_free(t);
    return hdrnn_fail(status, HDRNN_ERR_NO_MEMORY,
                      "out of memory for the workspaces of a batch of %zu", rows);
  }
  return hdrnn_pool_create_priority(&t->pool, threads,
                                    t->options.priority == HDRNN_PRIORITY_BACKGROUND, status);
}

/* -------------------------------------------------------------- stages */

typedef struct batch_ctx {
  hdrnn_trainer *t;
  unsigned tid, threads;
  size_t batch, first, rows; /* rows in this batch */
  int p;                     /* buffer parity: batch & 1 */
  float alpha;               /* -eta / rows */
  hdrnn_step step;           /* the optimizer's constants (when not fused SGD) */
} batch_ctx;

static batch_ctx batch_context(hdrnn_trainer *t, size_t batch, unsigned tid, unsigned threads) {
  batch_ctx c;
  c.t = t;
  c.tid = tid;
  c.threads = threads;
  c.batch = batch;
  c.p = (int)(batch & 1);
  hdrnn_trainer_batch_bounds(t, batch, &c.first, &c.rows);
  c.alpha = -t->epoch_rate / (float)c.rows;
  if (!t->fused_sgd) {
    hdrnn_step *s = &c.step;
    s->eta = t->epoch_rate;
    s->inv_rows = 1.0f / (float)c.rows;
    s->decay = t->options.weight_decay;
    s->mu = t->options.momentum;
    s->beta1 = t->options.beta1;
    s->beta2 = t->options.beta2;
    s->epsilon = t->options.epsilon;
    /* Adam's step count: batches of the epochs before this one, plus this. */
    const double steps =
        (double)(t->epoch > 0 ? t->epoch - 1 : 0) * (double)t->batches_per_epoch + (double)batch + 1.0;
    s->correct1 = (float)(1.0 / (1.0 - pow(t->options.beta1, steps)));
    s->correct2 = (float)(1.0 / (1.0 - pow(t->options.beta2, steps)));
  }
  return c;
}

/* My neurons of layer l. */
static void mine(const batch_ctx *c, size_t l, size_t *begin, size_t *end) {
  hdrnn_partition(c->t->net->sizes[l], c->tid, c->threads, SPLIT_ALIGN, begin, end);
}

static float *weights(const batch_ctx *c, size_t l) {
  return c->t->net->params + c->t->net->weight_offsets[l - 1];
}

static float *biases(const batch_ctx *c, size_t l) {
  return c->t->net->params + c->t->net->bias_offsets[l - 1];
}

/* Output activations and deltas of this batch as this thread sees them. */
static float *top_activations(const batch_ctx *c) {
  const hdrnn_batch_buffers *b = &c->t->buffers;
  return b->replicated_top ? b->top_activations[c->tid]
                           : b->activations[c->p][c->t->net->layer_count - 1];
}

static float *top_deltas(const batch_ctx *c) {
  const hdrnn_batch_buffers *b = &c->t->buffers;
  return b->replicated_top ? b->top_deltas[c->tid] : b->deltas[c->p][c->t->net->layer_count - 1];
}

/* Whether this thread reads batch c's inputs from a copy of its own. */
static int own_inputs(const batch_ctx *c) {
  return c->t->buffers.private_inputs && c->threads > 1;
}

/* The inputs of batch c as this thread reads them: its own copy, or the shared one. */
static float *inputs(const batch_ctx *c) {
  const hdrnn_batch_buffers *b = &c->t->buffers;
  return own_inputs(c) ? b->inputs[c->p][c->tid] : b->activations[c->p][0];
}

/* What layer l reads: a[l-1], the inputs for l = 1. */
static const float *layer_input(const batch_ctx *c, size_t l) {
  return l == 1 ? inputs(c) : c->t->buffers.activations[c->p][l - 1];
}

/* The rows of batch c's inputs this thread loads: all of them into its own
 * copy, or its share of the shared one. */
static void my_input_rows(const batch_ctx *c, size_t *begin, size_t *end) {
  if (own_inputs(c)) {
    *begin = 0;
    *end = c->rows;
  } else {
    hdrnn_partition(c->rows, c->tid, c->threads, 1, begin, end);
  }
}

/* My rows of batch c's inputs, scaled (bytes / 255) or copied (floats). */
static void load_inputs(const batch_ctx *c) {
  const hdrnn_trainer *t = c->t;
  const size_t n = t->data.input_size;
  float *x = inputs(c);
  size_t begin, end;
  my_input_rows(c, &begin, &end);
  for (size_t r = begin; r < end; r++) {
    const size_t example = t->order[c->first + r];
    if (t->data.pixels != NULL)
      t->kernels->scale_bytes(x + r * n, t->data.pixels + example * n, n);
    else
      memcpy(x + r * n, t->data.features + example * n, n * sizeof(float));
    hdrnn_standardize_rows(t->net, x + r * n, 1);
  }
}

/*
 * Asks the memory system for my rows of batch c's inputs, ahead of
 * load_inputs: the rows are scattered over the dataset (shuffled order), so
 * without this every row is a string of cache misses paid in full. The hint
 * is "keep in L2" (locality 2): between this prefetch and load_inputs the
 * batch's forward and backward passes stream the first layer's weights
 * (784 x 32 floats = 100 KB, more than L1) through L1, which evicted rows
 * prefetched for L1 only (locality 0, as it was): 784-32-10 at batch 10 took
 * 0.082 s per epoch with locality 0 and 0.063 s with 2 (1 thread, AVX-512
 * host, 2026-12-02), 784-256-128-10 at batch 100 0.448 s and 0.406 s.
 */
static void prefetch_inputs(const batch_ctx *c) {
#if defined(__GNUC__)
  const hdrnn_trainer *t = c->t;
  const size_t n = t->data.input_size * (t->data.pixels != NULL ? 1 : sizeof(float));
  const uint8_t *base = t->data.pixels != NULL ? t->data.pixels : (const uint8_t *)t->data.features;
  size_t begin, end;
  my_input_rows(c, &begin, &end);
  for (size_t r = begin; r < end; r++) {
    const uint8_t *row = base + (size_t)t->order[c->first + r] * n;
    for (size_t off = 0; off < n; off += 64) __builtin_prefetch(row + off, 0, 2);
  }
#else
  (void)c;
#endif
}

/* d = dC/dz of the output layer, rows x [begin, end) of `width`: a - y, times
 * the activation's derivative for the quadratic cost (the seed's
 * (a - y) a (1 - a)), as it is for cross-entropy (losses.h). */
static void output_deltas(const batch_ctx *c, const float *a, float *d, size_t width,
                          size_t begin, size_t end) {
  const hdrnn_network *net = c->t->net;
  const hdrnn_activation_ops *f = hdrnn_layer_activation(net, net->layer_count - 1);
  const int chain = hdrnn_loss_ops_of(net->loss)->chain_activation;
  for (size_t r = 0; r < c->rows; r++) {
    const hdrnn_target y = hdrnn_dataset_target(&c->t->data, c->t->order[c->first + r]);
    for (size_t j = begin; j < end; j++) d[r * width + j] = a[r * width + j] - hdrnn_target_at(&y, j);
    if (chain) f->backward(c->t->kernels, d + r * width + begin, a + r * width + begin, end - begin);
  }
}

/* Forward pass of layer l for my neurons (and their deltas if l is the output). */
static void forward_mine(const batch_ctx *c, size_t l) {
  const hdrnn_trainer *t = c->t;
  const size_t in = t->net->sizes[l - 1], out = t->net->sizes[l];
  size_t begin, end;
  mine(c, l, &begin, &end);
  if (begin == end) return;
  float *a = t->buffers.activations[c->p][l];
  t->kernels->forward(c->rows, end - begin, in, layer_input(c, l), in,
                      weights(c, l) + begin * in, in, biases(c, l) + begin, a + begin, out);
  hdrnn_activate(hdrnn_layer_activation(t->net, l), t->kernels, a, c->rows, out, begin, end);
  if (l == t->net->layer_count - 1) output_deltas(c, a, t->buffers.deltas[c->p][l], out, begin, end);
}

/* The whole output layer and its deltas, into this thread's own buffers. */
static void forward_top_replicated(const batch_ctx *c) {
  const hdrnn_trainer *t = c->t;
  const size_t top = t->net->layer_count - 1;
  const size_t in = t->net->sizes[top - 1], out = t->net->sizes[top];
  float *a = top_activations(c);
  t->kernels->forward(c->rows, out, in, layer_input(c, top), in, weights(c, top),
                      in, biases(c, top), a, out);
  hdrnn_activate_all(hdrnn_layer_activation(t->net, top), t->kernels, a, c->rows, out);
  output_deltas(c, a, top_deltas(c), out, 0, out);
}

/* The cost of each example before the update, in a fixed order (thread 0). */
static double batch_loss(const batch_ctx *c) {
  const hdrnn_network *net = c->t->net;
  const size_t out = net->sizes[net->layer_count - 1];
  const hdrnn_activation output = (hdrnn_activation)net->activations[net->layer_count - 2];
  const hdrnn_loss_ops *cost = hdrnn_loss_ops_of(net->loss);
  const float *a = top_activations(c);
  double loss = 0.0;
  for (size_t r = 0; r < c->rows; r++) {
    const hdrnn_target y = hdrnn_dataset_target(&c->t->data, c->t->order[c->first + r]);
    loss += cost->cost(output, a + r * out, &y, out);
  }
  return loss;
}

/* d[l] for my neurons of hidden layer l: (d[l+1] W[l+1]) a[l] (1 - a[l]). */
static void backward_mine(const batch_ctx *c, size_t l) {
  const hdrnn_trainer *t = c->t;
  const size_t width = t->net->sizes[l], above = t->net->sizes[l + 1];
  const int top = l + 1 == t->net->layer_count - 1;
  const float *d_above = top ? top_deltas(c) : t->buffers.deltas[c->p][l + 1];
  const float *a = t->buffers.activations[c->p][l];
  float *d = t->buffers.deltas[c->p][l];
  size_t begin, end;
  mine(c, l, &begin, &end);
  if (begin == end) return;
  t->kernels->backward(c->rows, end - begin, above, d_above, above, weights(c, l + 1) + begin, width,
                       d + begin, width);
  hdrnn_activate_backward(hdrnn_layer_activation(t->net, l), t->kernels, d, a, c->rows, width,
                          begin, end);
}

/* Neurons whose bias sums are formed together (a small stack buffer). */
#define BIAS_BLOCK 64

/* b[j] += alpha * (sum of d[r][j] over the batch), j in [begin, end); or the
 * optimizer's step from that sum. */
static void update_biases(const batch_ctx *c, float *b, const float *d, size_t width, size_t begin,
                          size_t end) {
  const hdrnn_trainer *t = c->t;
  /* The column sums, a block of neurons at a time, rows in the outer loop:
   * the inner loop runs along a row (contiguous, vectorised) and each sum
   * still adds its rows in order 0..rows-1, so the result is bit for bit
   * that of one sum per neuron (whose stride-`width` walk down a column was
   * 2-3 % of 784-256-128-10's time). */
  float sums[BIAS_BLOCK];
  for (size_t j0 = begin; j0 < end; j0 += BIAS_BLOCK) {
    const size_t n = end - j0 < BIAS_BLOCK ? end - j0 : BIAS_BLOCK;
    for (size_t j = 0; j < n; j++) sums[j] = 0.0f;
    for (size_t r = 0; r < c->rows; r++) {
      const float *row = d + r * width + j0;
      for (size_t j = 0; j < n; j++) sums[j] += row[j];
    }
    for (size_t j = 0; j < n; j++) {
      if (t->fused_sgd) {
        b[j0 + j] += c->alpha * sums[j];
      } else {
        const size_t at = (size_t)(b + j0 + j - t->net->params);
        t->optimizer->step(&c->step, b + j0 + j, &sums[j], t->moment1 != NULL ? t->moment1 + at : NULL,
                           t->moment2 != NULL ? t->moment2 + at : NULL, 1, 0);
      }
    }
  }
}

/*
 * Rows [0, n) x columns [0, k) of a weight matrix block w (leading
 * dimension ldw) from the batch: the kernels' fused SGD update, or the
 * summed gradient formed by the same kernel in the scratch copy and then
 * the optimizer's step, row by row.
 */
static void update_weights(const batch_ctx *c, size_t n, size_t k, const float *d, size_t ldd,
                           const float *a, size_t lda, float *w, size_t ldw) {
  const hdrnn_trainer *t = c->t;
  if (t->fused_sgd) {
    t->kernels->update(c->rows, n, k, c->alpha, d, ldd, a, lda, w, ldw);
    return;
  }
  const size_t at = (size_t)(w - t->net->params);
  float *g = t->gradient + at;
  for (size_t j = 0; j < n; j++) memset(g + j * ldw, 0, k * sizeof(float));
  t->kernels->update(c->rows, n, k, 1.0f, d, ldd, a, lda, g, ldw);
  for (size_t j = 0; j < n; j++)
    t->optimizer->step(&c->step, w + j * ldw, g + j * ldw,
                       t->moment1 != NULL ? t->moment1 + at + j * ldw : NULL,
                       t->moment2 != NULL ? t->moment2 + at + j * ldw : NULL, k, 1);
}

/* W[l] and b[l] rows of my neurons of l: += alpha * sum over the batch. */
static void update_mine(const batch_ctx *c, size_t l) {
  const hdrnn_trainer *t = c->t;
  const size_t in = t->net->sizes[l - 1], out = t->net->sizes[l];
  const float *d = t->buffers.deltas[c->p][l];
  size_t begin, end;
  mine(c, l, &begin, &end);
  if (begin == end) return;
  update_weights(c, end - begin, in, d + begin, out, layer_input(c, l), in,
                 weights(c, l) + begin * in, in);
  update_biases(c, biases(c, l), d, out, begin, end);
}

/* A replicated output layer: my columns of W[L] (my neurons of L-1) and my
 * share of b[L], from this thread's copy of d[L]. */
static void update_top_replicated(const batch_ctx *c) {
  const hdrnn_trainer *t = c->t;
  const size_t top = t->net->layer_count - 1;
  const size_t in = t->net->sizes[top - 1], out = t->net->sizes[top];
  const float *d = top_deltas(c);
  size_t begin, end;
  mine(c, top - 1, &begin, &end);
  if (begin < end)
    update_weights(c, out, end - begin, d, out, layer_input(c, top) + begin, in,
                   weights(c, top) + begin, in);
  hdrnn_partition(out, c->tid, c->threads, 1, &begin, &end);
  update_biases(c, biases(c, top), d, out, begin, end);
}

/* The updates batch c deferred: every layer above the first. */
static void apply_deferred(const batch_ctx *c) {
  const size_t top = c->t->net->layer_count - 1;
  for (size_t l = 2; l < top; l++) update_mine(c, l);
  if (c->t->buffers.replicated_top)
    update_top_replicated(c);
  else
    update_mine(c, top);
}

static void run_batch(const batch_ctx *c, size_t index_in_step) {
  hdrnn_trainer *t = c->t;
  const size_t top = t->net->layer_count - 1;
  const int replicated = t->buffers.replicated_top;
  const size_t last_forward = replicated ? top - 1 : top;

  const int more = index_in_step + 1 < t->step_count;
  /* (Spreading these prefetches over the batch, a third before each pass,
   * was slower: 0.068 s instead of 0.063 s on 784-32-10 b10.) */
  const batch_ctx next = batch_context(t, c->batch + (more ? 1 : 0), c->tid, c->threads);
  if (more) prefetch_inputs(&next);
  if (index_in_step > 0) {
    const batch_ctx previous = batch_context(t, c->batch - 1, c->tid, c->threads);
    apply_deferred(&previous);
  }
  for (size_t l = 1; l <= last_forward; l++) {
    if (l >= 2) hdrnn_pool_barrier(t->pool);
    forward_mine(c, l);
  }
  hdrnn_pool_barrier(t->pool);
  if (replicated) forward_top_replicated(c);
  if (c->tid == 0) t->loss_sum += batch_loss(c);
  for (size_t l = top - 1; l >= 1; l--) {
    if (l < top - 1) hdrnn_pool_barrier(t->pool);
    backward_mine(c, l);
  }
  /* Nobody reads W1 but its row owners' forward pass: update it now. (With
   * no hidden layer, W1 is the output layer: apply_deferred does it.) */
  if (top >= 2) update_mine(c, 1);
  if (more) load_inputs(&next);
  /* Thread 0 decides before the batch's last barrier whether the step ends
   * here; the barrier publishes the decision to every thread. */
  if (c->tid == 0) t->step_stop = hdrnn_trainer_interrupted(t);
  hdrnn_pool_barrier(t->pool);
}

static void step_thread(void *ctx, unsigned tid, unsigned threads) {
  hdrnn_trainer *t = ctx;
  if (t->step_count == 0) return;
  const batch_ctx first = batch_context(t, t->step_first, tid, threads);
  load_inputs(&first);
  hdrnn_pool_barrier(t->pool);
  size_t ran = 0;
  while (ran < t->step_count) {
    const batch_ctx c = batch_context(t, t->step_first + ran, tid, threads);
    run_batch(&c, ran);
    ran++;
    if (tid == 0) t->step_done = ran;
    if (t->step_stop) break;
  }
  /* Leave the network whole between steps: apply the last deferred updates.
   * Every thread passed the batch's last barrier, so nobody reads them now. */
  const batch_ctx last = batch_context(t, t->step_first + ran - 1, tid, threads);
  apply_deferred(&last);
}

void hdrnn_batched_step(hdrnn_trainer *t, unsigned active) {
  hdrnn_pool_run_active(t->pool, step_thread, t, active);
}
