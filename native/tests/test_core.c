/*
 * test_core.c - tests of the HDR-NN C core, runnable without Node (ctest).
 *
 *   test_core [--quick] [NAME...]
 *
 * --quick skips the MNIST run and shortens the longest loops (for valgrind).
 * NAMEs run only the tests whose name contains one of them.
 * The MNIST test runs when the environment variable HDRNN_MNIST_DIR names a
 * folder holding the four uncompressed IDX files; otherwise it says it skipped.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "hdrnn.h"
#include "test_util.h"
#include "internal.h"
#include "reference.h"

static int quick = 0;

/* ------------------------------------------------------------ helpers */

/* A network of the given shape with N(0,1) parameters from seed (NULL on failure). */
static hdrnn_network *make_net(const uint32_t *sizes, size_t count, uint64_t seed) {
  hdrnn_network *net = NULL;
  hdrnn_status st;
  if (!CHECK_CODE(hdrnn_network_create(&net, sizes, count, NULL, &st), HDRNN_OK)) {
    fprintf(stderr, "  %s\n", st.message);
    return NULL;
  }
  hdrnn_network_init_normal(net, seed);
  return net;
}

static int same_parameters(const hdrnn_network *a, const hdrnn_network *b) {
  return hdrnn_network_parameter_count(a) == hdrnn_network_parameter_count(b) &&
         memcmp(hdrnn_network_parameters(a), hdrnn_network_parameters(b),
                hdrnn_network_parameter_count(a) * sizeof(float)) == 0;
}

static double max_abs_diff(const hdrnn_network *a, const hdrnn_network *b) {
  const float *pa = hdrnn_network_parameters(a), *pb = hdrnn_network_parameters(b);
  double m = 0.0;
  for (size_t i = 0; i < hdrnn_network_parameter_count(a); i++) {
    const double d = fabs((double)pa[i] - (double)pb[i]);
    if (!(d <= m)) m = d; /* NaN propagates as the maximum */
  }
  return m;
}

/* Random labelled examples: bytes and the same values as float features. */
typedef struct test_data {
  uint8_t *pixels;
  float *features;
  uint8_t *labels8;
  uint32_t *labels32;
  size_t count, inputs;
} test_data;

static void data_make(test_data *d, size_t count, size_t inputs, uint32_t outputs,
                      uint64_t seed) {
  test_rng r = {seed};
  d->count = count;
  d->inputs = inputs;
  d->pixels = xmalloc(count * inputs);
  d->features = xmalloc(count * inputs * sizeof(float));
  d->labels8 = xmalloc(count);
  d->labels32 = xmalloc(count * sizeof(uint32_t));
  for (size_t i = 0; i < count * inputs; i++) {
    d->pixels[i] = (uint8_t)rng_below(&r, 256);
    d->features[i] = (float)rng_unit(&r);
  }
  for (size_t i = 0; i < count; i++) {
    d->labels32[i] = rng_below(&r, outputs);
    d->labels8[i] = (uint8_t)d->labels32[i];
  }
}

static void data_free(test_data *d) {
  free(d->pixels);
  free(d->features);
  free(d->labels8);
  free(d->labels32);
  memset(d, 0, sizeof *d);
}

/* A dataset view: bytes (with labels8) or floats (with labels32). */
static hdrnn_dataset data_view(const test_data *d, int use_bytes) {
  hdrnn_dataset ds;
  memset(&ds, 0, sizeof ds);
  ds.count = d->count;
  ds.input_size = d->inputs;
  if (use_bytes) {
    ds.pixels = d->pixels;
    ds.labels8 = d->labels8;
  } else {
    ds.features = d->features;
    ds.labels32 = d->labels32;
  }
  return ds;
}

/* Trains net for epochs whole epochs; returns the last epoch's loss (NaN on error). */
static double train_epochs(hdrnn_network *net, const hdrnn_dataset *ds,
                           const hdrnn_train_options *opt, int epochs) {
  hdrnn_trainer *t = NULL;
  hdrnn_status st;
  if (!CHECK_CODE(hdrnn_trainer_create(&t, net, ds, opt, &st), HDRNN_OK)) {
    fprintf(stderr, "  %s\n", st.message);
    return NAN;
  }
  double loss = NAN;
  for (int e = 0; e < epochs; e++) {
    hdrnn_trainer_begin_epoch(t);
    size_t done = 0;
    CHECK_CODE(hdrnn_trainer_step(t, SIZE_MAX, &done, &st), HDRNN_OK);
    CHECK(done == hdrnn_trainer_batches_per_epoch(t));
    loss = hdrnn_trainer_epoch_loss(t);
  }
  hdrnn_trainer_free(t);
  return loss;
}

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Checks that a failed call left a non-empty message. */
#define CHECK_MESSAGE(st) CHECK_MSG((st).message[0] != '\0', "empty status message")

/* Little-endian float writer for hand-built files. */
static void put_le32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
  p[2] = (uint8_t)(v >> 16);
  p[3] = (uint8_t)(v >> 24);
}
static void put_float(uint8_t *p, float f) {
  uint32_t bits;
  memcpy(&bits, &f, 4);
  put_le32(p, bits);
}
static void put_be32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

/* Encodes net in format into a fresh buffer (NULL on failure). */
static uint8_t *encode(const hdrnn_network *net, hdrnn_format format, size_t *size) {
  hdrnn_status st;
  if (!CHECK_CODE(hdrnn_network_encoded_size(net, format, size, &st), HDRNN_OK)) return NULL;
  uint8_t *bytes = xmalloc(*size);
  if (!CHECK_CODE(hdrnn_network_encode(net, format, bytes, *size, &st), HDRNN_OK)) {
    free(bytes);
    return NULL;
  }
  return bytes;
}

/* ------------------------------------------------- gradient checking */

/* Cost 0.5*|a-y|^2 of one example, forward pass in double from params. */
static double cost_double(const hdrnn_network *net, const double *params, const float *x,
                          uint32_t label) {
  const size_t layers = hdrnn_network_layer_count(net);
  const uint32_t *sizes = hdrnn_network_sizes(net);
  size_t width = 0;
  for (size_t l = 0; l < layers; l++)
    if (sizes[l] > width) width = sizes[l];
  double *a = xmalloc(width * sizeof(double)), *z = xmalloc(width * sizeof(double));
  for (size_t i = 0; i < sizes[0]; i++) a[i] = x[i];
  const float *base = hdrnn_network_parameters(net);
  for (size_t l = 0; l + 1 < layers; l++) {
    const size_t in = sizes[l], out = sizes[l + 1];
    const double *w = params + (hdrnn_network_weights_const(net, l) - base);
    const double *b = params + (hdrnn_network_biases_const(net, l) - base);
    for (size_t j = 0; j < out; j++) {
      double s = b[j];
      for (size_t i = 0; i < in; i++) s += w[j * in + i] * a[i];
      z[j] = 1.0 / (1.0 + exp(-s));
    }
    memcpy(a, z, out * sizeof(double));
  }
  const size_t outputs = sizes[layers - 1];
  double c = 0.0;
  for (size_t j = 0; j < outputs; j++) {
    const double d = a[j] - (j == label ? 1.0 : 0.0);
    c += 0.5 * d * d;
  }
  free(a);
  free(z);
  return c;
}

/*
 * The reference back-propagation (float) against central differences of the
 * cost computed in double. With h = 1e-5 in double the numerical derivative
 * is good to ~1e-9 (truncation O(h^2 * C''') plus rounding 1e-16 / h), so
 * nearly all of the difference is the float rounding of the analytic path:
 * a few ulps (6e-8 relative) per operation through a handful of layers of
 * sums of <= 7 terms. Tolerance 2e-5 absolute + 1e-3 relative leaves a wide
 * margin for that and still catches any wrong term (a missing sigmoid slope,
 * a transposed weight, a wrong layer), which is off by O(|g|).
 */
static void test_gradients(void) {
  static const uint32_t shapes[][5] = {{4, 3, 2}, {6, 5, 4, 3}, {3, 7, 1}, {5, 8, 8, 4}, {2, 2}};
  static const size_t counts[] = {3, 4, 3, 4, 2};
  const double abs_tol = 2e-5, rel_tol = 1e-3, h = 1e-5;
  for (size_t s = 0; s < sizeof counts / sizeof counts[0]; s++) {
    for (uint64_t trial = 0; trial < 3; trial++) {
      hdrnn_network *net = make_net(shapes[s], counts[s], 1000 + 17 * s + trial);
      if (net == NULL) continue;
      const size_t inputs = shapes[s][0], outputs = shapes[s][counts[s] - 1];
      test_data d;
      data_make(&d, 1, inputs, (uint32_t)outputs, 77 + s * 5 + trial);
      const hdrnn_dataset ds = data_view(&d, 0);
      hdrnn_reference ref;
      hdrnn_status st;
      if (!CHECK_CODE(hdrnn_reference_init(&ref, net, &st), HDRNN_OK)) {
        hdrnn_network_free(net);
        data_free(&d);
        continue;
      }
      hdrnn_reference_load(&ref, &ds, 0);
      for (size_t i = 0; i < inputs; i++) CHECK(ref.activations[0][i] == d.features[i]);
      hdrnn_reference_forward(&ref, net);
      const double cost = hdrnn_reference_backprop(&ref, net, d.labels32[0]);

      const size_t n = hdrnn_network_parameter_count(net);
      const float *p = hdrnn_network_parameters(net);
      double *params = xmalloc(n * sizeof(double));
      for (size_t i = 0; i < n; i++) params[i] = p[i];
      CHECK_NEAR(cost, cost_double(net, params, d.features, d.labels32[0]), 1e-6);
      size_t bad = 0;
      double largest = 0.0;
      for (size_t i = 0; i < n; i++) {
        const double keep = params[i];
        params[i] = keep + h;
        const double up = cost_double(net, params, d.features, d.labels32[0]);
        params[i] = keep - h;
        const double down = cost_double(net, params, d.features, d.labels32[0]);
        params[i] = keep;
        const double numeric = (up - down) / (2 * h), analytic = ref.gradients[i];
        if (fabs(numeric) > largest) largest = fabs(numeric);
        if (!CHECK_MSG(fabs(numeric - analytic) <= abs_tol + rel_tol * fabs(numeric),
                       "shape %zu trial %d parameter %zu: analytic %.9g numeric %.9g", s,
                       (int)trial, i, analytic, numeric))
          bad++;
      }
      /* Not vacuous: some gradient must be clearly non-zero. */
      CHECK_MSG(largest > 1e-3, "shape %zu: all gradients tiny (%g)", s, largest);
      /* apply: w -= eta/B * g, and the gradients are cleared. */
      hdrnn_network *copy = NULL;
      CHECK_CODE(hdrnn_network_clone(net, &copy, &st), HDRNN_OK);
      float *g = xmalloc(n * sizeof(float));
      memcpy(g, ref.gradients, n * sizeof(float));
      hdrnn_reference_apply(&ref, net, 2.0f, 4);
      for (size_t i = 0; i < n; i++) {
        CHECK(ref.gradients[i] == 0.0f);
        CHECK(hdrnn_network_parameters(net)[i] ==
              hdrnn_network_parameters(copy)[i] - 0.5f * g[i]);
      }
      free(g);
      hdrnn_network_free(copy);
      free(params);
      hdrnn_reference_free(&ref);
      hdrnn_network_free(net);
      data_free(&d);
    }
  }
}

/* --------------------------------------- batched against the reference */

static void kernel_list(const hdrnn_kernels **list, size_t *n) {
  static const char *names[] = {"portable", "avx2", "avx512", "neon"};
  *n = 0;
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    const hdrnn_kernels *k = hdrnn_kernels_find(names[i]);
    if (k != NULL) list[(*n)++] = k;
  }
  CHECK(*n >= 1);
  CHECK(hdrnn_kernels_find("best") != NULL);
  CHECK(hdrnn_kernels_find("no-such-isa") == NULL);
  CHECK(hdrnn_kernels_find(NULL) == NULL);
  CHECK(hdrnn_kernels_best() != NULL);
  CHECK(hdrnn_kernels_portable() == hdrnn_kernels_find("portable"));
  CHECK(strcmp(hdrnn_kernels_name(hdrnn_kernels_portable()), "portable") == 0);
}

/*
 * The batched path computes the same sums as the reference but through the
 * kernels, whose summation order (vector lanes, FMA) may differ; the portable
 * kernels happen to use the same order. The updates then feed back through
 * 2 epochs of eta 3 steps, so small rounding differences grow somewhat: the
 * tolerance is 1e-4 absolute on parameters of size ~1, some 1000 float ulps,
 * far below what a wrong batch boundary, a lost example or a wrong 1/B step
 * would give (those change parameters by ~1e-2 or more).
 */
static void test_batched_vs_reference(void) {
  const hdrnn_kernels *kernels[4];
  size_t nk;
  kernel_list(kernels, &nk);
  static const uint32_t shape[] = {19, 13, 9, 4};
  const size_t count = 23;
  static const size_t batches[] = {1, 4, 10, 7, 23, 50};
  test_data d;
  data_make(&d, count, shape[0], shape[3], 4242);
  const double tol = 1e-4;
  double worst = 0.0;
  for (size_t k = 0; k < nk; k++)
    for (int bytes = 0; bytes <= 1; bytes++)
      for (int shuffle = 0; shuffle <= 1; shuffle++)
        for (size_t bi = 0; bi < sizeof batches / sizeof batches[0]; bi++)
          for (int epochs = 1; epochs <= 2; epochs++) {
            hdrnn_network *a = make_net(shape, 4, 99), *b = make_net(shape, 4, 99);
            if (a == NULL || b == NULL) {
              hdrnn_network_free(a);
              hdrnn_network_free(b);
              continue;
            }
            const hdrnn_dataset ds = data_view(&d, bytes);
            hdrnn_train_options opt;
            hdrnn_train_options_default(&opt);
            opt.batch_size = batches[bi];
            opt.learning_rate = 3.0f;
            opt.shuffle = shuffle;
            opt.seed = 31337;
            opt.kernels = kernels[k];
            opt.threads = 3;
            opt.algorithm = HDRNN_ALGORITHM_BATCHED;
            const double loss_a = train_epochs(a, &ds, &opt, epochs);
            opt.algorithm = HDRNN_ALGORITHM_REFERENCE;
            const double loss_b = train_epochs(b, &ds, &opt, epochs);
            const double diff = max_abs_diff(a, b);
            if (!(diff <= worst)) worst = diff;
            CHECK_MSG(diff <= tol,
                      "kernels %s, %s, shuffle %d, batch %zu, %d epoch(s): batched and "
                      "reference differ by %g",
                      hdrnn_kernels_name(kernels[k]), bytes ? "bytes" : "floats", shuffle,
                      batches[bi], epochs, diff);
            CHECK_NEAR(loss_a, loss_b, 1e-5);
            /* Training did something. */
            hdrnn_network *init = make_net(shape, 4, 99);
            if (init != NULL) CHECK(max_abs_diff(a, init) > 1e-3);
            hdrnn_network_free(init);
            hdrnn_network_free(a);
            hdrnn_network_free(b);
          }
  printf("   largest batched/reference parameter difference: %g (tolerance %g)\n", worst, tol);
  data_free(&d);
}

/* The same for a batch order that matters: shuffled vs not must differ. */
static void test_shuffle_matters(void) {
  static const uint32_t shape[] = {10, 6, 3};
  test_data d;
  data_make(&d, 40, 10, 3, 5);
  const hdrnn_dataset ds = data_view(&d, 1);
  hdrnn_network *a = make_net(shape, 3, 1), *b = make_net(shape, 3, 1), *c = make_net(shape, 3, 1);
  if (a != NULL && b != NULL && c != NULL) {
    hdrnn_train_options opt;
    hdrnn_train_options_default(&opt);
    opt.threads = 1;
    opt.shuffle = 0;
    train_epochs(a, &ds, &opt, 1);
    opt.shuffle = 1;
    opt.seed = 1;
    train_epochs(b, &ds, &opt, 1);
    opt.seed = 2;
    train_epochs(c, &ds, &opt, 1);
    CHECK(!same_parameters(a, b));
    CHECK(!same_parameters(b, c));
  }
  hdrnn_network_free(a);
  hdrnn_network_free(b);
  hdrnn_network_free(c);
  data_free(&d);
}

/* ------------------------------------------------ thread determinism */

static void test_thread_determinism(void) {
  const hdrnn_kernels *kernels[4];
  size_t nk;
  kernel_list(kernels, &nk);
  /* Layer sizes not multiples of 8 and above it, so the splits cut vectors. */
  static const uint32_t shape[] = {50, 37, 23, 10};
  test_data d;
  const size_t count = 203;
  data_make(&d, count, 50, 10, 808);
  for (size_t k = 0; k < nk; k++)
    for (int bytes = 0; bytes <= 1; bytes++) {
      const hdrnn_dataset ds = data_view(&d, bytes);
      hdrnn_network *nets[4] = {NULL, NULL, NULL, NULL};
      double losses[4];
      for (unsigned th = 1; th <= 4; th++) {
        nets[th - 1] = make_net(shape, 4, 2024);
        if (nets[th - 1] == NULL) continue;
        hdrnn_train_options opt;
        hdrnn_train_options_default(&opt);
        opt.threads = th;
        opt.kernels = kernels[k];
        opt.seed = 7;
        opt.batch_size = 10;
        losses[th - 1] = train_epochs(nets[th - 1], &ds, &opt, 2);
      }
      for (unsigned th = 2; th <= 4; th++)
        if (nets[0] != NULL && nets[th - 1] != NULL) {
          CHECK_MSG(same_parameters(nets[0], nets[th - 1]),
                    "kernels %s %s: training with %u threads differs from 1 thread (max %g)",
                    hdrnn_kernels_name(kernels[k]), bytes ? "bytes" : "floats", th,
                    max_abs_diff(nets[0], nets[th - 1]));
          CHECK(memcmp(&losses[0], &losses[th - 1], sizeof(double)) == 0);
        }

      /* Evaluation and inference with 1..4 threads (and more than chunks). */
      const hdrnn_network *net = nets[0];
      if (net != NULL) {
        hdrnn_evaluation ev[5];
        uint64_t conf[5][100];
        float *scores[5];
        uint32_t *labels[5];
        static const unsigned thread_counts[5] = {1, 2, 3, 4, 9};
        for (int i = 0; i < 5; i++) {
          hdrnn_run_options ro = {thread_counts[i], kernels[k], NULL};
          memset(conf[i], 0, sizeof conf[i]);
          memset(&ev[i], 0, sizeof ev[i]);
          ev[i].confusion = conf[i];
          hdrnn_status st;
          CHECK_CODE(hdrnn_evaluate(net, &ds, &ro, &ev[i], &st), HDRNN_OK);
          scores[i] = xmalloc(count * 10 * sizeof(float));
          labels[i] = xmalloc(count * sizeof(uint32_t));
          CHECK_CODE(hdrnn_infer(net, &ds, &ro, scores[i], labels[i], &st), HDRNN_OK);
        }
        for (int i = 1; i < 5; i++) {
          CHECK(ev[i].correct == ev[0].correct);
          CHECK(ev[i].total == count);
          CHECK(memcmp(&ev[i].loss, &ev[0].loss, sizeof(double)) == 0);
          CHECK(memcmp(conf[i], conf[0], sizeof conf[0]) == 0);
          CHECK(memcmp(scores[i], scores[0], count * 10 * sizeof(float)) == 0);
          CHECK(memcmp(labels[i], labels[0], count * sizeof(uint32_t)) == 0);
        }
        /* The labels are the argmax of the scores, and evaluation agrees. */
        size_t correct = 0;
        for (size_t r = 0; r < count; r++) {
          size_t best = 0;
          for (size_t j = 1; j < 10; j++)
            if (scores[0][r * 10 + j] > scores[0][r * 10 + best]) best = j;
          CHECK(labels[0][r] == best);
          correct += best == d.labels32[r];
        }
        CHECK(correct == ev[0].correct);
        for (int i = 0; i < 5; i++) {
          free(scores[i]);
          free(labels[i]);
        }
      }
      for (int i = 0; i < 4; i++) hdrnn_network_free(nets[i]);
    }
  data_free(&d);
}

/* The automatic thread count changes the count between mini-batches (its
 * first runs calibrate every candidate, all threads then one), stepping in
 * odd sizes; the weights and losses are those of one thread. */
static void test_auto_threads(void) {
  static const uint32_t shape[] = {50, 37, 23, 10};
  test_data d;
  data_make(&d, 203, 50, 10, 909);
  const hdrnn_dataset ds = data_view(&d, 1);
  hdrnn_network *a = make_net(shape, 4, 31), *b = make_net(shape, 4, 31);
  hdrnn_train_options opt;
  hdrnn_train_options_default(&opt);
  opt.seed = 9;
  opt.batch_size = 10;
  const int epochs = quick ? 10 : 40;
  hdrnn_trainer *t = NULL;
  hdrnn_status st;
  if (a != NULL && b != NULL) {
    opt.threads = 1;
    const double loss_a = train_epochs(a, &ds, &opt, epochs);
    opt.threads = 0;
    if (CHECK_CODE(hdrnn_trainer_create(&t, b, &ds, &opt, &st), HDRNN_OK)) {
      static const size_t steps[] = {1, 2, 5, 11, 3};
      const unsigned cpus = hdrnn_cpu_count();
      unsigned used_one = 0, used_all = 0, step = 0;
      double loss_b = NAN;
      for (int e = 0; e < epochs; e++) {
        hdrnn_trainer_begin_epoch(t);
        size_t done;
        while (hdrnn_trainer_batches_done(t) < hdrnn_trainer_batches_per_epoch(t)) {
          CHECK_CODE(hdrnn_trainer_step(t, steps[step++ % 5], &done, &st), HDRNN_OK);
          const unsigned n = hdrnn_trainer_threads(t);
          CHECK(n == 1 || n == cpus);
          used_one += n == 1;
          used_all += n == cpus;
        }
        loss_b = hdrnn_trainer_epoch_loss(t);
      }
      if (cpus >= 2) CHECK_MSG(used_one > 0 && used_all > 0, "one count only: %u x 1, %u x %u",
                               used_one, used_all, cpus);
      CHECK_MSG(same_parameters(a, b), "automatic threads differ from 1 thread (max %g)",
                max_abs_diff(a, b));
      CHECK(memcmp(&loss_a, &loss_b, sizeof loss_a) == 0);
    }
  }
  hdrnn_trainer_free(t);
  hdrnn_network_free(a);
  hdrnn_network_free(b);
  data_free(&d);
}

/* ------------------------------------------------------ seeds, init */

static void test_seeds(void) {
  static const uint32_t shape[] = {30, 20, 10};
  test_data d;
  data_make(&d, 100, 30, 10, 11);
  const hdrnn_dataset ds = data_view(&d, 1);
  hdrnn_network *a = make_net(shape, 3, 5), *b = make_net(shape, 3, 5), *c = make_net(shape, 3, 6);
  if (a != NULL && b != NULL && c != NULL) {
    CHECK(same_parameters(a, b));
    CHECK(!same_parameters(a, c));
    hdrnn_train_options opt;
    hdrnn_train_options_default(&opt);
    opt.seed = 123;
    opt.threads = 2;
    train_epochs(a, &ds, &opt, 2);
    train_epochs(b, &ds, &opt, 2);
    CHECK(same_parameters(a, b));
    hdrnn_network_init_normal(b, 5);
    hdrnn_network_init_normal(c, 5);
    opt.seed = 124;
    train_epochs(b, &ds, &opt, 2);
    CHECK(!same_parameters(a, b));
    opt.seed = 123;
    train_epochs(c, &ds, &opt, 2);
    CHECK(same_parameters(a, c));
  }
  hdrnn_network_free(a);
  hdrnn_network_free(b);
  hdrnn_network_free(c);
  data_free(&d);

  /* N(0,1): mean within 6 standard errors of 0, variance within 1%. */
  static const uint32_t big[] = {784, 1000, 10};
  hdrnn_network *n = make_net(big, 3, 20240601);
  if (n != NULL) {
    const size_t count = hdrnn_network_parameter_count(n);
    CHECK(count == 784 * 1000 + 1000 + 1000 * 10 + 10);
    const float *p = hdrnn_network_parameters(n);
    double sum = 0, sq = 0, fourth = 0;
    size_t beyond3 = 0;
    int finite = 1;
    for (size_t i = 0; i < count; i++) {
      const double v = p[i];
      finite &= isfinite(v) != 0;
      sum += v;
      sq += v * v;
      fourth += v * v * v * v;
      beyond3 += fabs(v) > 3.0;
    }
    const double mean = sum / (double)count, var = sq / (double)count - mean * mean;
    CHECK(finite);
    CHECK_NEAR(mean, 0.0, 6.0 / sqrt((double)count));
    CHECK_NEAR(var, 1.0, 0.01);
    CHECK_NEAR(fourth / (double)count, 3.0, 0.05); /* kurtosis of a normal */
    CHECK_NEAR((double)beyond3 / (double)count, 0.0027, 0.0005);
    /* Biases are drawn too (not left at zero). */
    const float *b0 = hdrnn_network_biases_const(n, 0);
    size_t zeros = 0;
    for (size_t i = 0; i < 1000; i++) zeros += b0[i] == 0.0f;
    CHECK(zeros == 0);
  }
  hdrnn_network_free(n);
}

/* ------------------------------------------------------- stepwise */

static void test_stepwise(void) {
  static const uint32_t shape[] = {12, 8, 5};
  test_data d;
  data_make(&d, 47, 12, 5, 3);
  const hdrnn_dataset ds = data_view(&d, 1);
  hdrnn_network *a = make_net(shape, 3, 8), *b = make_net(shape, 3, 8);
  hdrnn_train_options opt;
  hdrnn_train_options_default(&opt);
  opt.batch_size = 5; /* 47 = 9 * 5 + 2: the last batch is partial */
  opt.seed = 77;
  opt.threads = 2;
  hdrnn_trainer *ta = NULL, *tb = NULL;
  hdrnn_status st;
  if (a != NULL && b != NULL &&
      CHECK_CODE(hdrnn_trainer_create(&ta, a, &ds, &opt, &st), HDRNN_OK) &&
      CHECK_CODE(hdrnn_trainer_create(&tb, b, &ds, &opt, &st), HDRNN_OK)) {
    CHECK(hdrnn_trainer_batches_per_epoch(ta) == 10);
    /* Two threads asked for; the core caps them at the CPUs it has (Bochs runs one). */
    CHECK(hdrnn_trainer_threads(ta) == (hdrnn_cpu_count() < 2 ? 1u : 2u));
    for (int epoch = 0; epoch < 3; epoch++) {
      hdrnn_trainer_begin_epoch(ta);
      hdrnn_trainer_begin_epoch(tb);
      CHECK(hdrnn_trainer_batches_done(ta) == 0);
      CHECK(hdrnn_trainer_epoch_loss(ta) == 0.0);
      size_t done = 99;
      CHECK_CODE(hdrnn_trainer_step(ta, 0, &done, &st), HDRNN_OK);
      CHECK(done == 0);
      CHECK_CODE(hdrnn_trainer_step(ta, 1000, &done, &st), HDRNN_OK);
      CHECK(done == 10);
      CHECK(hdrnn_trainer_batches_done(ta) == 10);
      CHECK_CODE(hdrnn_trainer_step(ta, 1, &done, &st), HDRNN_OK);
      CHECK(done == 0); /* the epoch is over */
      double last = 0.0;
      for (size_t i = 0; i < 10; i++) {
        CHECK_CODE(hdrnn_trainer_step(tb, 1, &done, &st), HDRNN_OK);
        CHECK(done == 1);
        CHECK(hdrnn_trainer_batches_done(tb) == i + 1);
        last = hdrnn_trainer_epoch_loss(tb);
        CHECK(last > 0.0 && last < 5.0 * 0.5);
      }
      CHECK_CODE(hdrnn_trainer_step(tb, 3, &done, &st), HDRNN_OK);
      CHECK(done == 0);
      CHECK(same_parameters(a, b));
      CHECK_NEAR(hdrnn_trainer_epoch_loss(ta), last, 1e-12 * last);
    }
  }
  hdrnn_trainer_free(ta);
  hdrnn_trainer_free(tb);

  /* Steps of 3 batches give the same as steps of 1. */
  hdrnn_network *c = make_net(shape, 3, 8);
  if (c != NULL && a != NULL) {
    hdrnn_network_init_normal(a, 8);
    train_epochs(a, &ds, &opt, 2);
    hdrnn_trainer *tc = NULL;
    if (CHECK_CODE(hdrnn_trainer_create(&tc, c, &ds, &opt, &st), HDRNN_OK)) {
      for (int epoch = 0; epoch < 2; epoch++) {
        hdrnn_trainer_begin_epoch(tc);
        size_t done, total = 0;
        do {
          CHECK_CODE(hdrnn_trainer_step(tc, 3, &done, &st), HDRNN_OK);
          total += done;
        } while (done == 3);
        CHECK(total == 10);
      }
      CHECK(same_parameters(a, c));
      hdrnn_trainer_free(tc);
    }
  }
  hdrnn_network_free(c);

  /* The interrupt flag: while raised, each step stops after one mini-batch,
   * and the weights are the same as without interruptions. */
  {
    hdrnn_network *e = make_net(shape, 3, 8), *f = make_net(shape, 3, 8);
    int flag = 1;
    for (int algo = 0; algo <= 1 && e != NULL && f != NULL; algo++) {
      hdrnn_network_init_normal(e, 8);
      hdrnn_network_init_normal(f, 8);
      hdrnn_train_options o2 = opt;
      o2.algorithm = algo ? HDRNN_ALGORITHM_REFERENCE : HDRNN_ALGORITHM_BATCHED;
      train_epochs(e, &ds, &o2, 1);
      o2.interrupt = &flag;
      hdrnn_trainer *ti = NULL;
      if (CHECK_CODE(hdrnn_trainer_create(&ti, f, &ds, &o2, &st), HDRNN_OK)) {
        hdrnn_trainer_begin_epoch(ti);
        size_t done = 0, steps = 0;
        flag = 1;
        while (hdrnn_trainer_batches_done(ti) < 10 && steps < 100) {
          CHECK_CODE(hdrnn_trainer_step(ti, 4, &done, &st), HDRNN_OK);
          CHECK(done == 1);
          steps++;
        }
        CHECK(steps == 10);
        flag = 0;
        CHECK_CODE(hdrnn_trainer_step(ti, 4, &done, &st), HDRNN_OK);
        CHECK(done == 0);
        CHECK_MSG(same_parameters(e, f), "interrupted %s training differs",
                  algo ? "reference" : "batched");
        hdrnn_trainer_free(ti);
      }
    }
    hdrnn_network_free(e);
    hdrnn_network_free(f);
  }

  /* Full batch, no shuffle: the epoch loss is the initial network's mean cost. */
  if (a != NULL) {
    hdrnn_network_init_normal(a, 9);
    hdrnn_evaluation ev;
    memset(&ev, 0, sizeof ev);
    CHECK_CODE(hdrnn_evaluate(a, &ds, NULL, &ev, &st), HDRNN_OK);
    opt.batch_size = 1000; /* more than the data: one batch of everything */
    opt.shuffle = 0;
    hdrnn_trainer *t = NULL;
    if (CHECK_CODE(hdrnn_trainer_create(&t, a, &ds, &opt, &st), HDRNN_OK)) {
      CHECK(hdrnn_trainer_batches_per_epoch(t) == 1);
      hdrnn_trainer_begin_epoch(t);
      size_t done;
      CHECK_CODE(hdrnn_trainer_step(t, 5, &done, &st), HDRNN_OK);
      CHECK(done == 1);
      CHECK_NEAR(hdrnn_trainer_epoch_loss(t), ev.loss, 1e-6);
      hdrnn_trainer_free(t);
    }
  }

  /* Bad options. */
  hdrnn_trainer *t = NULL;
  hdrnn_train_options bad = opt;
  bad.batch_size = 0;
  CHECK_CODE(hdrnn_trainer_create(&t, a, &ds, &bad, &st), HDRNN_ERR_ARGUMENT);
  CHECK_MESSAGE(st);
  bad = opt;
  bad.learning_rate = -1.0f;
  CHECK_CODE(hdrnn_trainer_create(&t, a, &ds, &bad, &st), HDRNN_ERR_ARGUMENT);
  bad.learning_rate = 0.0f;
  CHECK_CODE(hdrnn_trainer_create(&t, a, &ds, &bad, &st), HDRNN_ERR_ARGUMENT);
  bad.learning_rate = NAN;
  CHECK_CODE(hdrnn_trainer_create(&t, a, &ds, &bad, &st), HDRNN_ERR_ARGUMENT);
  bad = opt;
  bad.algorithm = (hdrnn_algorithm)7;
  CHECK_CODE(hdrnn_trainer_create(&t, a, &ds, &bad, &st), HDRNN_ERR_ARGUMENT);
  bad = opt;
  bad.threads = 100000;
  CHECK_CODE(hdrnn_trainer_create(&t, a, &ds, &bad, &st), HDRNN_ERR_ARGUMENT);
  hdrnn_dataset empty = ds;
  empty.count = 0;
  CHECK_CODE(hdrnn_trainer_create(&t, a, &empty, &opt, &st), HDRNN_ERR_ARGUMENT);
  CHECK_CODE(hdrnn_trainer_create(&t, a, NULL, &opt, &st), HDRNN_ERR_ARGUMENT);
  CHECK(t == NULL);
  CHECK_CODE(hdrnn_trainer_step(NULL, 1, NULL, &st), HDRNN_ERR_ARGUMENT);
  hdrnn_network_free(a);
  hdrnn_network_free(b);
  data_free(&d);
}

/* ------------------------------------------------------ seed format */

/* A known value for parameter k of a hand-built file: exact in float. */
static float known_value(size_t k) { return (float)((int)(k % 2001) - 1000) / 64.0f; }

static void test_seed_format(void) {
  /* 784-30-10 written byte by byte from SPEC.md. */
  const size_t size = 2 + 1 + 4 * (30 + 10) + 4 * (784 * 30 + 30 * 10);
  CHECK(size == 95443);
  uint8_t *file = xmalloc(size + 8);
  size_t pos = 0, k = 0;
  file[pos++] = 7;  /* magic */
  file[pos++] = 1;  /* H */
  file[pos++] = 30; /* h1 */
  for (size_t j = 0; j < 30 + 10; j++, pos += 4) put_float(file + pos, known_value(k++));
  for (size_t j = 0; j < 784 * 30 + 30 * 10; j++, pos += 4) put_float(file + pos, known_value(k++));
  CHECK(pos == size);

  hdrnn_status st;
  hdrnn_format fmt = HDRNN_FORMAT_V2;
  CHECK_CODE(hdrnn_format_detect(file, size, &fmt, &st), HDRNN_OK);
  CHECK(fmt == HDRNN_FORMAT_SEED);
  hdrnn_network *net = NULL;
  fmt = HDRNN_FORMAT_V2;
  if (CHECK_CODE(hdrnn_network_decode(file, size, NULL, &net, &fmt, &st), HDRNN_OK)) {
    CHECK(fmt == HDRNN_FORMAT_SEED);
    CHECK(hdrnn_network_layer_count(net) == 3);
    const uint32_t *sz = hdrnn_network_sizes(net);
    CHECK(sz[0] == 784 && sz[1] == 30 && sz[2] == 10);
    CHECK(hdrnn_network_parameter_count(net) == 784 * 30 + 30 + 30 * 10 + 10);
    const float *b0 = hdrnn_network_biases_const(net, 0), *b1 = hdrnn_network_biases_const(net, 1);
    const float *w0 = hdrnn_network_weights_const(net, 0), *w1 = hdrnn_network_weights_const(net, 1);
    int ok = 1;
    k = 0;
    for (size_t j = 0; j < 30; j++) ok &= b0[j] == known_value(k++);
    for (size_t j = 0; j < 10; j++) ok &= b1[j] == known_value(k++);
    /* Row-major [out][in]: neuron j's weight from input i. */
    for (size_t j = 0; j < 30; j++)
      for (size_t i = 0; i < 784; i++) ok &= w0[j * 784 + i] == known_value(k++);
    for (size_t j = 0; j < 10; j++)
      for (size_t i = 0; i < 30; i++) ok &= w1[j * 30 + i] == known_value(k++);
    CHECK_MSG(ok, "seed .nn parameters are not where SPEC.md puts them");
    CHECK(w0[1] == known_value(40 + 1));             /* first neuron, second input */
    CHECK(w0[784] == known_value(40 + 784));         /* second neuron, first input */
    CHECK(w1[0] == known_value(40 + 784 * 30));
    size_t esize = 0;
    CHECK_CODE(hdrnn_network_encoded_size(net, HDRNN_FORMAT_SEED, &esize, &st), HDRNN_OK);
    CHECK(esize == size);
    uint8_t *again = encode(net, HDRNN_FORMAT_SEED, &esize);
    if (again != NULL) {
      CHECK(esize == size && memcmp(again, file, size) == 0);
      /* A buffer one byte short is refused. */
      CHECK_CODE(hdrnn_network_encode(net, HDRNN_FORMAT_SEED, again, size - 1, &st),
                 HDRNN_ERR_ARGUMENT);
      free(again);
    }
    CHECK_CODE(hdrnn_format_check(net, HDRNN_FORMAT_SEED, &st), HDRNN_OK);
    hdrnn_network_free(net);
  }

  /* Every truncation is an error, never a crash (and never a network). */
  size_t wrong = 0;
  for (size_t len = 0; len < size; len++) {
    hdrnn_network *t = NULL;
    hdrnn_code code = hdrnn_network_decode(file, len, NULL, &t, NULL, &st);
    if (code == HDRNN_OK || t != NULL || st.message[0] == '\0') wrong++;
    hdrnn_network_free(t);
  }
  CHECK_MSG(wrong == 0, "%zu truncations of a seed .nn were not rejected", wrong);
  /* A truncation of the data (not the header) says truncated. */
  CHECK_CODE(hdrnn_network_decode(file, size - 1, NULL, &net, NULL, &st), HDRNN_ERR_TRUNCATED);
  CHECK(net == NULL);
  /* Trailing bytes. */
  memset(file + size, 0, 8);
  for (size_t extra = 1; extra <= 8; extra++) {
    CHECK_CODE(hdrnn_network_decode(file, size + extra, NULL, &net, NULL, &st),
               HDRNN_ERR_FORMAT);
    CHECK_MESSAGE(st);
    CHECK(net == NULL);
  }
  /* A hidden size of 0. */
  file[2] = 0;
  CHECK_CODE(hdrnn_network_decode(file, size, NULL, &net, NULL, &st), HDRNN_ERR_FORMAT);
  CHECK_MESSAGE(st);
  file[2] = 30;
  /* A shape that does not match the length. */
  file[2] = 31;
  CHECK(hdrnn_network_decode(file, size, NULL, &net, NULL, &st) != HDRNN_OK);
  file[2] = 29;
  CHECK(hdrnn_network_decode(file, size, NULL, &net, NULL, &st) != HDRNN_OK);
  file[2] = 30;
  /* NaN and infinite parameters (a bias, then a weight). */
  static const uint32_t bad_bits[] = {0x7fc00000u, 0xffc00001u, 0x7f800000u, 0xff800000u};
  for (size_t i = 0; i < 4; i++) {
    uint8_t keep[4];
    const size_t at = (i % 2 == 0) ? 3 + 4 * 5 : size - 4;
    memcpy(keep, file + at, 4);
    put_le32(file + at, bad_bits[i]);
    CHECK_CODE(hdrnn_network_decode(file, size, NULL, &net, NULL, &st), HDRNN_ERR_FORMAT);
    CHECK_MESSAGE(st);
    CHECK(net == NULL);
    memcpy(file + at, keep, 4);
  }
  CHECK_CODE(hdrnn_network_decode(file, size, NULL, &net, NULL, &st), HDRNN_OK);
  hdrnn_network_free(net);
  net = NULL;
  free(file);

  /* Round trips for 0, 1, 2 (and 3) hidden layers, byte for byte. */
  static const uint32_t shapes[][5] = {
      {784, 10}, {784, 32, 10}, {784, 16, 16, 10}, {784, 255, 1, 10}, {784, 7, 9, 11, 10}};
  static const size_t counts[] = {2, 3, 4, 4, 5};
  for (size_t s = 0; s < 5; s++) {
    hdrnn_network *a = make_net(shapes[s], counts[s], 40 + s);
    if (a == NULL) continue;
    size_t n = 0;
    uint8_t *bytes = encode(a, HDRNN_FORMAT_SEED, &n);
    if (bytes != NULL) {
      size_t expect = 2 + (counts[s] - 2) + 4 * hdrnn_network_parameter_count(a);
      CHECK(n == expect);
      CHECK(bytes[0] == 7 && bytes[1] == counts[s] - 2);
      for (size_t l = 1; l + 1 < counts[s]; l++) CHECK(bytes[1 + l] == shapes[s][l]);
      hdrnn_network *b = NULL;
      if (CHECK_CODE(hdrnn_network_decode(bytes, n, NULL, &b, NULL, &st), HDRNN_OK)) {
        CHECK(same_parameters(a, b));
        CHECK(hdrnn_network_layer_count(b) == counts[s]);
        size_t n2 = 0;
        uint8_t *again = encode(b, HDRNN_FORMAT_SEED, &n2);
        CHECK(again != NULL && n2 == n && memcmp(again, bytes, n) == 0);
        free(again);
      }
      hdrnn_network_free(b);
      free(bytes);
    }
    hdrnn_network_free(a);
  }

  /* Shapes the seed format cannot hold. */
  static const uint32_t unfit[][3] = {{5, 3, 2}, {784, 256, 10}, {784, 30, 9}, {783, 30, 10}};
  for (size_t s = 0; s < 4; s++) {
    hdrnn_network *a = make_net(unfit[s], 3, 1);
    if (a == NULL) continue;
    size_t n = 12345;
    uint8_t buf[16];
    CHECK_CODE(hdrnn_format_check(a, HDRNN_FORMAT_SEED, &st), HDRNN_ERR_UNSUPPORTED);
    CHECK_MESSAGE(st);
    CHECK_CODE(hdrnn_network_encoded_size(a, HDRNN_FORMAT_SEED, &n, &st), HDRNN_ERR_UNSUPPORTED);
    CHECK_CODE(hdrnn_network_encode(a, HDRNN_FORMAT_SEED, buf, sizeof buf, &st),
               HDRNN_ERR_UNSUPPORTED);
    CHECK_CODE(hdrnn_format_check(a, HDRNN_FORMAT_V2, &st), HDRNN_OK);
    CHECK_CODE(hdrnn_format_check(a, (hdrnn_format)9, &st), HDRNN_ERR_ARGUMENT);
    hdrnn_network_free(a);
  }

  /* The largest possible H (255 one-neuron layers) loads with the default
   * limits (files like it may exist in the field); a lower layer limit
   * refuses it cleanly. */
  {
    const size_t params = (784 + 1) * 1 + 254 * 2 + (1 + 1) * 10;
    const size_t n = 2 + 255 + 4 * params;
    uint8_t *f = xmalloc(n);
    memset(f, 0, n);
    f[0] = 7;
    f[1] = 255;
    memset(f + 2, 1, 255);
    hdrnn_network *t = NULL;
    hdrnn_limits lim;
    memset(&lim, 0, sizeof lim);
    lim.max_layers = 256;
    CHECK_CODE(hdrnn_network_decode(f, n, &lim, &t, NULL, &st), HDRNN_ERR_LIMIT);
    CHECK(t == NULL);
    if (CHECK_CODE(hdrnn_network_decode(f, n, NULL, &t, NULL, &st), HDRNN_OK)) {
      CHECK(hdrnn_network_layer_count(t) == 257);
      size_t m = 0;
      uint8_t *again = encode(t, HDRNN_FORMAT_SEED, &m);
      CHECK(again != NULL && m == n && memcmp(again, f, n) == 0);
      free(again);
    }
    hdrnn_network_free(t);
    free(f);
  }
}

/* --------------------------------------------------------- v2 format */

static void test_v2_format(void) {
  hdrnn_status st;
  /* zlib's crc32 check value, and continuation. */
  const uint8_t *vec = (const uint8_t *)"123456789";
  CHECK(hdrnn_crc32(0, vec, 9) == 0xCBF43926u);
  CHECK(hdrnn_crc32(hdrnn_crc32(0, vec, 4), vec + 4, 5) == 0xCBF43926u);
  CHECK(hdrnn_crc32(0, vec, 0) == 0);
  const uint8_t zero = 0;
  CHECK(hdrnn_crc32(0, &zero, 1) == 0xD202EF8Du);

  static const uint32_t shapes[][4] = {{3, 300, 2}, {1, 1}, {5, 3, 2}, {784, 30, 10}, {2, 4, 6, 3}};
  static const size_t counts[] = {3, 2, 3, 3, 4};
  for (size_t s = 0; s < 5; s++) {
    hdrnn_network *a = make_net(shapes[s], counts[s], 60 + s);
    if (a == NULL) continue;
    size_t n = 0;
    uint8_t *bytes = encode(a, HDRNN_FORMAT_V2, &n);
    if (bytes != NULL) {
      CHECK(n == 16 + 4 * counts[s] + 4 * hdrnn_network_parameter_count(a) + 4);
      CHECK(bytes[0] == 0x89 && bytes[1] == 'H' && bytes[2] == 'N' && bytes[3] == 'N');
      CHECK(bytes[4] == 2 && bytes[5] == 0);
      const uint32_t crc = (uint32_t)bytes[n - 4] | (uint32_t)bytes[n - 3] << 8 |
                           (uint32_t)bytes[n - 2] << 16 | (uint32_t)bytes[n - 1] << 24;
      CHECK(crc == hdrnn_crc32(0, bytes, n - 4));
      hdrnn_format fmt = HDRNN_FORMAT_SEED;
      CHECK_CODE(hdrnn_format_detect(bytes, n, &fmt, &st), HDRNN_OK);
      CHECK(fmt == HDRNN_FORMAT_V2);
      hdrnn_network *b = NULL;
      fmt = HDRNN_FORMAT_SEED;
      if (CHECK_CODE(hdrnn_network_decode(bytes, n, NULL, &b, &fmt, &st), HDRNN_OK)) {
        CHECK(fmt == HDRNN_FORMAT_V2);
        CHECK(hdrnn_network_layer_count(b) == counts[s]);
        CHECK(memcmp(hdrnn_network_sizes(b), shapes[s], counts[s] * sizeof(uint32_t)) == 0);
        CHECK(same_parameters(a, b));
        size_t n2 = 0;
        uint8_t *again = encode(b, HDRNN_FORMAT_V2, &n2);
        CHECK(again != NULL && n2 == n && memcmp(again, bytes, n) == 0);
        free(again);
      }
      hdrnn_network_free(b);
      /* Every truncation. Each one costs a CRC of the whole prefix, so for
       * the big 784-30-10 file (quadratic: ~5e9 bytes) only the first and
       * last 4 KB of lengths and every 97th in between; in quick mode the
       * same for anything over 5000 bytes. */
      size_t wrong = 0;
      const size_t limit = quick ? 5000 : 20000;
      for (size_t len = 0; len < n;
           len += (n > limit && len >= 4096 && len + 4096 < n) ? 97 : 1) {
        hdrnn_network *t = NULL;
        if (hdrnn_network_decode(bytes, len, NULL, &t, NULL, &st) == HDRNN_OK || t != NULL ||
            st.message[0] == '\0')
          wrong++;
        hdrnn_network_free(t);
      }
      CHECK_MSG(wrong == 0, "%zu truncations of a v2 file were accepted", wrong);
      /* Trailing bytes break the checksum position. */
      uint8_t *longer = xmalloc(n + 4);
      memcpy(longer, bytes, n);
      memset(longer + n, 0, 4);
      CHECK(hdrnn_network_decode(longer, n + 4, NULL, &b, NULL, &st) != HDRNN_OK);
      CHECK(b == NULL);
      free(longer);
      free(bytes);
    }
    hdrnn_network_free(a);
  }

  /* Every single-byte change of a small file is detected. */
  static const uint32_t small[] = {3, 4, 2};
  hdrnn_network *a = make_net(small, 3, 9);
  size_t n = 0;
  uint8_t *bytes = a != NULL ? encode(a, HDRNN_FORMAT_V2, &n) : NULL;
  if (bytes != NULL) {
    static const uint8_t masks[] = {0x01, 0x02, 0x10, 0x80, 0xff, 0x5a};
    size_t accepted = 0;
    for (size_t pos = 0; pos < n; pos++)
      for (size_t m = 0; m < sizeof masks; m++) {
        bytes[pos] ^= masks[m];
        hdrnn_network *t = NULL;
        const hdrnn_code code = hdrnn_network_decode(bytes, n, NULL, &t, NULL, &st);
        if (code == HDRNN_OK || t != NULL) {
          accepted++;
          CHECK_MSG(0, "byte %zu ^ 0x%02x accepted (%s)", pos, masks[m],
                    t != NULL && same_parameters(a, t) ? "same weights" : "DIFFERENT weights");
        } else {
          CHECK_MSG(st.message[0] != '\0', "byte %zu: empty message", pos);
          /* Past the version field, a change is reported as corruption. */
          if (pos >= 6)
            CHECK_MSG(code == HDRNN_ERR_CHECKSUM, "byte %zu ^ 0x%02x: %s", pos, masks[m],
                      hdrnn_code_name(code));
        }
        hdrnn_network_free(t);
        bytes[pos] ^= masks[m];
      }
    CHECK(accepted == 0);

    /* Re-checksummed changes: version, flags, activation, layers. */
    uint8_t *copy = xmalloc(n);
#define RESUM(buf) put_le32((buf) + n - 4, hdrnn_crc32(0, (buf), n - 4))
    hdrnn_network *t = NULL;
    memcpy(copy, bytes, n);
    copy[4] = 4; /* version 3 exists since issue 10: 4 is the next unknown one */
    CHECK_CODE(hdrnn_network_decode(copy, n, NULL, &t, NULL, &st), HDRNN_ERR_UNSUPPORTED);
    RESUM(copy);
    CHECK_CODE(hdrnn_network_decode(copy, n, NULL, &t, NULL, &st), HDRNN_ERR_UNSUPPORTED);
    CHECK_MESSAGE(st);
    memcpy(copy, bytes, n);
    copy[5] = 1; /* version 258 */
    RESUM(copy);
    CHECK_CODE(hdrnn_network_decode(copy, n, NULL, &t, NULL, &st), HDRNN_ERR_UNSUPPORTED);
    memcpy(copy, bytes, n);
    copy[6] = 1;
    RESUM(copy);
    CHECK_CODE(hdrnn_network_decode(copy, n, NULL, &t, NULL, &st), HDRNN_ERR_UNSUPPORTED);
    memcpy(copy, bytes, n);
    copy[8] = 1;
    RESUM(copy);
    CHECK_CODE(hdrnn_network_decode(copy, n, NULL, &t, NULL, &st), HDRNN_ERR_UNSUPPORTED);
    memcpy(copy, bytes, n);
    put_le32(copy + 12, 0xffffffffu); /* layer count */
    RESUM(copy);
    CHECK_CODE(hdrnn_network_decode(copy, n, NULL, &t, NULL, &st), HDRNN_ERR_LIMIT);
    memcpy(copy, bytes, n);
    put_le32(copy + 12, 1);
    RESUM(copy);
    CHECK_CODE(hdrnn_network_decode(copy, n, NULL, &t, NULL, &st), HDRNN_ERR_FORMAT);
    memcpy(copy, bytes, n);
    put_le32(copy + 12, 40); /* more sizes than bytes */
    RESUM(copy);
    CHECK_CODE(hdrnn_network_decode(copy, n, NULL, &t, NULL, &st), HDRNN_ERR_TRUNCATED);
    memcpy(copy, bytes, n);
    put_le32(copy + 16 + 4, 0xffffffffu); /* a lying layer size */
    RESUM(copy);
    CHECK(hdrnn_network_decode(copy, n, NULL, &t, NULL, &st) != HDRNN_OK);
    CHECK_MESSAGE(st);
    memcpy(copy, bytes, n);
    put_le32(copy + 16 + 4, 0); /* a layer of 0 */
    RESUM(copy);
    CHECK_CODE(hdrnn_network_decode(copy, n, NULL, &t, NULL, &st), HDRNN_ERR_FORMAT);
    memcpy(copy, bytes, n);
    put_le32(copy + 16 + 12, 0x7fc00000u); /* a NaN bias */
    RESUM(copy);
    CHECK_CODE(hdrnn_network_decode(copy, n, NULL, &t, NULL, &st), HDRNN_ERR_FORMAT);
    CHECK(t == NULL);
#undef RESUM
    free(copy);

    /* Limits. */
    hdrnn_limits lim;
    memset(&lim, 0, sizeof lim);
    lim.max_parameters = 10; /* the network has 3*4+4+4*2+2 = 26 */
    CHECK_CODE(hdrnn_network_decode(bytes, n, &lim, &t, NULL, &st), HDRNN_ERR_LIMIT);
    CHECK_MESSAGE(st);
    lim.max_parameters = 26;
    CHECK_CODE(hdrnn_network_decode(bytes, n, &lim, &t, NULL, &st), HDRNN_OK);
    hdrnn_network_free(t);
    t = NULL;
    memset(&lim, 0, sizeof lim);
    lim.max_layers = 2;
    CHECK_CODE(hdrnn_network_decode(bytes, n, &lim, &t, NULL, &st), HDRNN_ERR_LIMIT);
    memset(&lim, 0, sizeof lim);
    lim.max_layer_size = 3;
    CHECK_CODE(hdrnn_network_decode(bytes, n, &lim, &t, NULL, &st), HDRNN_ERR_LIMIT);
    CHECK(t == NULL);
    free(bytes);
  }
  hdrnn_network_free(a);

  /* Layer sizes whose parameter count wraps around 2^64 to a small number
   * (148): the file holds exactly 148 parameters and a valid checksum. It
   * must be refused (size check or limits), never allocated or read past. */
  {
    static const uint32_t wrap[] = {2147483647u, 2147483598u, 2147483647u, 2147483648u,
                                    2147483747u};
    const size_t len = 16 + 4 * 5 + 4 * 148 + 4;
    uint8_t *f = xmalloc(len);
    memset(f, 0, len);
    f[0] = 0x89;
    f[1] = 'H';
    f[2] = 'N';
    f[3] = 'N';
    f[4] = 2;
    put_le32(f + 12, 5);
    for (int l = 0; l < 5; l++) put_le32(f + 16 + 4 * l, wrap[l]);
    put_le32(f + len - 4, hdrnn_crc32(0, f, len - 4));
    hdrnn_network *w = NULL;
    CHECK(hdrnn_network_decode(f, len, NULL, &w, NULL, &st) != HDRNN_OK);
    CHECK_MESSAGE(st);
    CHECK(w == NULL);
    hdrnn_limits open_limits;
    memset(&open_limits, 0xff, sizeof open_limits);
    CHECK(hdrnn_network_decode(f, len, &open_limits, &w, NULL, &st) != HDRNN_OK);
    CHECK(w == NULL);
    hdrnn_network_free(w);
    free(f);
  }

  /* Detection from the first bytes only. */
  hdrnn_format fmt;
  static const uint8_t seed1[] = {7};
  static const uint8_t v2[] = {0x89, 'H', 'N', 'N'};
  static const uint8_t v2short[] = {0x89, 'H', 'N'};
  static const uint8_t png[] = {0x89, 'P', 'N', 'G'};
  static const uint8_t pgm[] = {'P', '5', ' ', '1'};
  CHECK_CODE(hdrnn_format_detect(seed1, 1, &fmt, &st), HDRNN_OK);
  CHECK(fmt == HDRNN_FORMAT_SEED);
  CHECK_CODE(hdrnn_format_detect(v2, 4, &fmt, &st), HDRNN_OK);
  CHECK(fmt == HDRNN_FORMAT_V2);
  CHECK(hdrnn_format_detect(v2short, 3, &fmt, &st) != HDRNN_OK);
  CHECK_CODE(hdrnn_format_detect(png, 4, &fmt, &st), HDRNN_ERR_FORMAT);
  CHECK_MESSAGE(st);
  CHECK_CODE(hdrnn_format_detect(pgm, 4, &fmt, &st), HDRNN_ERR_FORMAT);
  CHECK(hdrnn_format_detect(pgm, 0, &fmt, &st) != HDRNN_OK);
  CHECK(hdrnn_format_detect(NULL, 0, &fmt, &st) != HDRNN_OK);
  CHECK_CODE(hdrnn_format_detect(NULL, 5, &fmt, &st), HDRNN_ERR_ARGUMENT);
  hdrnn_network *t = NULL;
  CHECK(hdrnn_network_decode(NULL, 0, NULL, &t, NULL, &st) != HDRNN_OK);
  CHECK_CODE(hdrnn_network_decode(v2, 4, NULL, NULL, NULL, &st), HDRNN_ERR_ARGUMENT);
  CHECK_CODE(hdrnn_network_decode(v2, 4, NULL, &t, NULL, &st), HDRNN_ERR_TRUNCATED);
  CHECK(t == NULL);
}

/* ---------------------------------------------------- network creation */

static void test_network_create(void) {
  hdrnn_status st;
  hdrnn_network *net = (hdrnn_network *)&st; /* must be reset to NULL on failure */
  const uint32_t ok3[] = {4, 3, 2};
#define EXPECT_CREATE_FAIL(shape_, count_, limits_, expected_)                  \
  do {                                                                         \
    net = (hdrnn_network *)&st;                                                \
    memset(&st, 0, sizeof st);                                                 \
    CHECK_CODE(hdrnn_network_create(&net, shape_, count_, limits_, &st), expected_); \
    CHECK(net == NULL);                                                        \
    CHECK_MESSAGE(st);                                                         \
    CHECK(st.code == (expected_));                                             \
  } while (0)
  EXPECT_CREATE_FAIL(ok3, 0, NULL, HDRNN_ERR_ARGUMENT);
  EXPECT_CREATE_FAIL(ok3, 1, NULL, HDRNN_ERR_ARGUMENT);
  net = (hdrnn_network *)&st; /* not NULL: the call must reset it */
  CHECK_CODE(hdrnn_network_create(&net, NULL, 3, NULL, &st), HDRNN_ERR_ARGUMENT);
  CHECK(net == NULL);
  CHECK_MESSAGE(st);
  const uint32_t zero_mid[] = {4, 0, 2};
  EXPECT_CREATE_FAIL(zero_mid, 3, NULL, HDRNN_ERR_ARGUMENT);
  const uint32_t zero_in[] = {0, 2};
  EXPECT_CREATE_FAIL(zero_in, 2, NULL, HDRNN_ERR_ARGUMENT);
  uint32_t many[300];
  for (size_t i = 0; i < 300; i++) many[i] = 2;
  EXPECT_CREATE_FAIL(many, HDRNN_DEFAULT_MAX_LAYERS + 1, NULL, HDRNN_ERR_LIMIT);
  CHECK_CODE(hdrnn_network_create(&net, many, 64, NULL, &st), HDRNN_OK);
  hdrnn_network_free(net);
  const uint32_t huge[] = {4294967295u, 4294967295u};
  EXPECT_CREATE_FAIL(huge, 2, NULL, HDRNN_ERR_LIMIT);
  hdrnn_limits unlimited;
  unlimited.max_parameters = UINT64_MAX;
  unlimited.max_layers = UINT32_MAX;
  unlimited.max_layer_size = UINT32_MAX;
  unlimited.max_items = UINT64_MAX;
  unlimited.max_pixels = UINT64_MAX;
  /* (2^32) * (2^32 - 1) parameters: fits in uint64, not in memory. */
  EXPECT_CREATE_FAIL(huge, 2, &unlimited, HDRNN_ERR_LIMIT);
  const uint32_t huge3[] = {4294967295u, 4294967295u, 4294967295u};
  EXPECT_CREATE_FAIL(huge3, 3, &unlimited, HDRNN_ERR_LIMIT);
  const uint32_t wide[] = {1u << 21, 1};
  EXPECT_CREATE_FAIL(wide, 2, NULL, HDRNN_ERR_LIMIT); /* over max_layer_size */
  hdrnn_limits lim;
  memset(&lim, 0, sizeof lim);
  lim.max_parameters = 22; /* 4-3-2 has 15 + 8 = 23 */
  EXPECT_CREATE_FAIL(ok3, 3, &lim, HDRNN_ERR_LIMIT);
  lim.max_parameters = 23;
  CHECK_CODE(hdrnn_network_create(&net, ok3, 3, &lim, &st), HDRNN_OK);
  hdrnn_network_free(net);
  memset(&lim, 0, sizeof lim);
  lim.max_layers = 2;
  EXPECT_CREATE_FAIL(ok3, 3, &lim, HDRNN_ERR_LIMIT);
  memset(&lim, 0, sizeof lim);
  lim.max_layer_size = 3;
  EXPECT_CREATE_FAIL(ok3, 3, &lim, HDRNN_ERR_LIMIT);
  CHECK_CODE(hdrnn_network_create(NULL, ok3, 3, NULL, &st), HDRNN_ERR_ARGUMENT);
  /* A NULL status is allowed. */
  CHECK_CODE(hdrnn_network_create(&net, ok3, 1, NULL, NULL), HDRNN_ERR_ARGUMENT);
#undef EXPECT_CREATE_FAIL

  hdrnn_limits res;
  hdrnn_limits_resolve(NULL, &res);
  CHECK(res.max_parameters == HDRNN_DEFAULT_MAX_PARAMETERS);
  CHECK(res.max_layers == HDRNN_DEFAULT_MAX_LAYERS);
  CHECK(res.max_layer_size == HDRNN_DEFAULT_MAX_LAYER_SIZE);
  CHECK(res.max_items == HDRNN_DEFAULT_MAX_ITEMS);
  CHECK(res.max_pixels == HDRNN_DEFAULT_MAX_PIXELS);
  memset(&lim, 0, sizeof lim);
  lim.max_layers = 5;
  hdrnn_limits_resolve(&lim, &res);
  CHECK(res.max_layers == 5 && res.max_parameters == HDRNN_DEFAULT_MAX_PARAMETERS);

  /* Accessors and layout. */
  if (CHECK_CODE(hdrnn_network_create(&net, ok3, 3, NULL, &st), HDRNN_OK)) {
    CHECK(st.code == HDRNN_OK && st.message[0] == '\0');
    CHECK(hdrnn_network_layer_count(net) == 3);
    CHECK(hdrnn_network_parameter_count(net) == 23);
    const float *p = hdrnn_network_parameters(net);
    int zeros = 1;
    for (size_t i = 0; i < 23; i++) zeros &= p[i] == 0.0f;
    CHECK(zeros);
    CHECK(hdrnn_network_weights(net, 0) != NULL && hdrnn_network_biases(net, 1) != NULL);
    CHECK(hdrnn_network_weights(net, 2) == NULL && hdrnn_network_biases(net, 2) == NULL);
    CHECK(hdrnn_network_weights(NULL, 0) == NULL);
    CHECK(hdrnn_network_weights_const(net, 1) == hdrnn_network_weights(net, 1));
    CHECK(hdrnn_network_biases_const(net, 0) == hdrnn_network_biases(net, 0));
    CHECK_CODE(hdrnn_network_check_finite(net, &st), HDRNN_OK);
    hdrnn_network_weights(net, 1)[5] = INFINITY;
    CHECK_CODE(hdrnn_network_check_finite(net, &st), HDRNN_ERR_FORMAT);
    CHECK_MESSAGE(st);
    hdrnn_network_weights(net, 1)[5] = 1.5f;
    hdrnn_network *c = NULL;
    if (CHECK_CODE(hdrnn_network_clone(net, &c, &st), HDRNN_OK)) {
      CHECK(same_parameters(net, c));
      CHECK(hdrnn_network_parameters(c) != hdrnn_network_parameters(net));
      hdrnn_network_free(c);
    }
    const uint32_t other[] = {4, 2, 2};
    hdrnn_network *o = NULL;
    if (CHECK_CODE(hdrnn_network_create(&o, other, 3, NULL, &st), HDRNN_OK)) {
      CHECK_CODE(hdrnn_network_copy_parameters(o, net, &st), HDRNN_ERR_MISMATCH);
      CHECK_MESSAGE(st);
      hdrnn_network_free(o);
    }
    CHECK_CODE(hdrnn_network_copy_parameters(net, net, &st), HDRNN_OK);
    CHECK_CODE(hdrnn_network_copy_parameters(NULL, net, &st), HDRNN_ERR_ARGUMENT);
    hdrnn_network_free(net);
  }
  hdrnn_network_free(NULL);
  hdrnn_network_init_normal(NULL, 1);
  CHECK(hdrnn_network_layer_count(NULL) == 0);
  CHECK(hdrnn_network_parameter_count(NULL) == 0);
  for (int c = 0; c <= 9; c++) CHECK(strcmp(hdrnn_code_name((hdrnn_code)c), "unknown") != 0);
  CHECK(strcmp(hdrnn_code_name(HDRNN_ERR_CHECKSUM), "checksum") == 0);
  CHECK(hdrnn_cpu_count() >= 1);
}

/* ------------------------------------------------------------- IDX */

static uint8_t *idx_images(uint32_t count, uint32_t rows, uint32_t cols, size_t *size) {
  *size = 16 + (size_t)count * rows * cols;
  uint8_t *b = xmalloc(*size + 8);
  put_be32(b, 0x00000803);
  put_be32(b + 4, count);
  put_be32(b + 8, rows);
  put_be32(b + 12, cols);
  for (size_t i = 16; i < *size; i++) b[i] = (uint8_t)(i * 7);
  return b;
}

static void test_idx(void) {
  hdrnn_status st;
  size_t n;
  uint8_t *img = idx_images(3, 2, 5, &n);
  hdrnn_idx_images im;
  if (CHECK_CODE(hdrnn_idx_parse_images(img, n, NULL, &im, &st), HDRNN_OK)) {
    CHECK(im.pixels == img + 16); /* a view, not a copy */
    CHECK(im.count == 3 && im.rows == 2 && im.cols == 5);
  }
  /* Every truncation; trailing bytes. */
  size_t wrong = 0;
  for (size_t len = 0; len < n; len++)
    if (hdrnn_idx_parse_images(img, len, NULL, &im, &st) == HDRNN_OK || st.message[0] == '\0')
      wrong++;
  CHECK(wrong == 0);
  CHECK_CODE(hdrnn_idx_parse_images(img, n - 1, NULL, &im, &st), HDRNN_ERR_TRUNCATED);
  CHECK_CODE(hdrnn_idx_parse_images(img, 10, NULL, &im, &st), HDRNN_ERR_TRUNCATED);
  img[n] = 0;
  CHECK_CODE(hdrnn_idx_parse_images(img, n + 1, NULL, &im, &st), HDRNN_ERR_FORMAT);
  CHECK_MESSAGE(st);
  /* Wrong magic, type, dimensions. */
  img[0] = 1;
  CHECK_CODE(hdrnn_idx_parse_images(img, n, NULL, &im, &st), HDRNN_ERR_FORMAT);
  img[0] = 0;
  img[2] = 0x0D; /* float elements */
  CHECK_CODE(hdrnn_idx_parse_images(img, n, NULL, &im, &st), HDRNN_ERR_UNSUPPORTED);
  CHECK_MESSAGE(st);
  img[2] = 0x08;
  img[3] = 2;
  CHECK_CODE(hdrnn_idx_parse_images(img, n, NULL, &im, &st), HDRNN_ERR_FORMAT);
  img[3] = 3;
  /* Count over the limit. */
  hdrnn_limits lim;
  memset(&lim, 0, sizeof lim);
  lim.max_items = 2;
  CHECK_CODE(hdrnn_idx_parse_images(img, n, &lim, &im, &st), HDRNN_ERR_LIMIT);
  lim.max_items = 3;
  CHECK_CODE(hdrnn_idx_parse_images(img, n, &lim, &im, &st), HDRNN_OK);
  /* Zero and overflowing dimensions. */
  put_be32(img + 8, 0);
  CHECK_CODE(hdrnn_idx_parse_images(img, n, NULL, &im, &st), HDRNN_ERR_FORMAT);
  put_be32(img + 8, 0xffffffffu);
  put_be32(img + 12, 0xffffffffu);
  CHECK_CODE(hdrnn_idx_parse_images(img, n, NULL, &im, &st), HDRNN_ERR_LIMIT);
  memset(&lim, 0xff, sizeof lim); /* everything unlimited: only the length can say no */
  CHECK(hdrnn_idx_parse_images(img, n, &lim, &im, &st) != HDRNN_OK);
  CHECK_MESSAGE(st);
  put_be32(img + 4, 0xffffffffu);
  CHECK(hdrnn_idx_parse_images(img, n, &lim, &im, &st) != HDRNN_OK);
  put_be32(img + 8, 0x10000u);
  put_be32(img + 12, 0x10000u); /* 2^32 pixels per image */
  put_be32(img + 4, 0x10000u);  /* times 2^16 images = 2^48 bytes */
  CHECK_CODE(hdrnn_idx_parse_images(img, n, &lim, &im, &st), HDRNN_ERR_TRUNCATED);
  /* Zero images is a valid (empty) file. */
  put_be32(img + 4, 0);
  put_be32(img + 8, 28);
  put_be32(img + 12, 28);
  CHECK_CODE(hdrnn_idx_parse_images(img, 16, NULL, &im, &st), HDRNN_OK);
  CHECK(im.count == 0);
  /* gzip. */
  static const uint8_t gz[] = {0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  CHECK_CODE(hdrnn_idx_parse_images(gz, sizeof gz, NULL, &im, &st), HDRNN_ERR_FORMAT);
  CHECK_MSG(strstr(st.message, "gunzip") != NULL, "message: %s", st.message);
  hdrnn_idx_labels lb;
  CHECK_CODE(hdrnn_idx_parse_labels(gz, sizeof gz, NULL, &lb, &st), HDRNN_ERR_FORMAT);
  CHECK_MSG(strstr(st.message, "gunzip") != NULL, "message: %s", st.message);
  CHECK_CODE(hdrnn_idx_parse_images(img, n, NULL, NULL, &st), HDRNN_ERR_ARGUMENT);
  CHECK_CODE(hdrnn_idx_parse_images(NULL, 16, NULL, &im, &st), HDRNN_ERR_ARGUMENT);
  CHECK(hdrnn_idx_parse_images(NULL, 0, NULL, &im, &st) != HDRNN_OK);
  free(img);

  /* Labels. */
  uint8_t lab[8 + 5 + 1];
  put_be32(lab, 0x00000801);
  put_be32(lab + 4, 5);
  for (int i = 0; i < 5; i++) lab[8 + i] = (uint8_t)(9 - i);
  if (CHECK_CODE(hdrnn_idx_parse_labels(lab, 13, NULL, &lb, &st), HDRNN_OK)) {
    CHECK(lb.labels == lab + 8 && lb.count == 5 && lb.labels[0] == 9);
  }
  wrong = 0;
  for (size_t len = 0; len < 13; len++)
    if (hdrnn_idx_parse_labels(lab, len, NULL, &lb, &st) == HDRNN_OK) wrong++;
  CHECK(wrong == 0);
  lab[13] = 0;
  CHECK_CODE(hdrnn_idx_parse_labels(lab, 14, NULL, &lb, &st), HDRNN_ERR_FORMAT);
  memset(&lim, 0, sizeof lim);
  lim.max_items = 4;
  CHECK_CODE(hdrnn_idx_parse_labels(lab, 13, &lim, &lb, &st), HDRNN_ERR_LIMIT);
  put_be32(lab + 4, 0xffffffffu);
  CHECK_CODE(hdrnn_idx_parse_labels(lab, 13, NULL, &lb, &st), HDRNN_ERR_LIMIT);
  memset(&lim, 0xff, sizeof lim);
  CHECK_CODE(hdrnn_idx_parse_labels(lab, 13, &lim, &lb, &st), HDRNN_ERR_TRUNCATED);
  put_be32(lab + 4, 5);
  /* An images file given as labels and the other way round. */
  img = idx_images(2, 2, 2, &n);
  CHECK_CODE(hdrnn_idx_parse_labels(img, n, NULL, &lb, &st), HDRNN_ERR_FORMAT);
  CHECK_MESSAGE(st);
  CHECK_CODE(hdrnn_idx_parse_images(lab, 13, NULL, &im, &st), HDRNN_ERR_FORMAT);
  lab[2] = 0x09;
  CHECK_CODE(hdrnn_idx_parse_labels(lab, 13, NULL, &lb, &st), HDRNN_ERR_UNSUPPORTED);
  free(img);
}

/* ------------------------------------------------------------- PGM */

static hdrnn_code pgm(const char *text, size_t len, hdrnn_pgm_info *info, float *px, size_t cap,
                      hdrnn_status *st) {
  return hdrnn_pgm_decode((const uint8_t *)text, len, NULL, info, px, cap, st);
}
#define PGM_TEXT(s) (s), sizeof(s) - 1

static void test_pgm(void) {
  hdrnn_status st;
  hdrnn_pgm_info info;
  float px[16];
  /* P2 with comments in the header and between values, maxval 15. */
  static const char p2[] =
      "P2\n# made by hand\n3 # width\n2\n# maxval next\n15\n0 15 7# a comment\n# another\n"
      "1\t2\r\n 15\n";
  memset(px, 0, sizeof px);
  if (CHECK_CODE(pgm(PGM_TEXT(p2), &info, px, 16, &st), HDRNN_OK)) {
    CHECK(info.width == 3 && info.height == 2 && info.maxval == 15 && info.binary == 0);
    static const float want[] = {0, 15, 7, 1, 2, 15};
    for (int i = 0; i < 6; i++) CHECK(px[i] == want[i] / 15.0f);
  }
  /* Header-only mode. */
  memset(&info, 0, sizeof info);
  CHECK_CODE(pgm(PGM_TEXT(p2), &info, NULL, 0, &st), HDRNN_OK);
  CHECK(info.width == 3 && info.height == 2);
  /* Too little room. */
  CHECK_CODE(pgm(PGM_TEXT(p2), &info, px, 5, &st), HDRNN_ERR_ARGUMENT);
  /* Truncations that drop whole values are reported. */
  static const char p2short[] = "P2 2 2 255 1 2 3";
  CHECK_CODE(pgm(PGM_TEXT(p2short), &info, px, 16, &st), HDRNN_ERR_TRUNCATED);
  CHECK_MESSAGE(st);
  CHECK_CODE(pgm(PGM_TEXT(p2short), &info, NULL, 0, &st), HDRNN_ERR_TRUNCATED);
  static const char p2full[] = "P2 2 2 255 1 2 3 255";
  CHECK_CODE(pgm(PGM_TEXT(p2full), &info, px, 16, &st), HDRNN_OK);
  CHECK(px[3] == 1.0f && px[0] == 1.0f / 255.0f);
  for (size_t len = 0; len <= 16; len++)
    CHECK_MSG(pgm(p2full, len, &info, px, 16, &st) != HDRNN_OK, "P2 cut at %zu accepted", len);

  /* P5, maxval 255, 1 and 65535. */
  static const char p5[] = "P5\n# c\n2 2\n255\n\x00\x80\xff\x0a";
  if (CHECK_CODE(pgm(p5, sizeof p5 - 1, &info, px, 16, &st), HDRNN_OK)) {
    CHECK(info.binary == 1 && info.maxval == 255 && info.width == 2 && info.height == 2);
    CHECK(px[0] == 0.0f && px[1] == 128.0f / 255.0f && px[2] == 1.0f && px[3] == 10.0f / 255.0f);
  }
  for (size_t len = 0; len < sizeof p5 - 1; len++)
    CHECK_MSG(pgm(p5, len, &info, px, 16, &st) != HDRNN_OK, "P5 cut at %zu accepted", len);
  CHECK_CODE(pgm(p5, sizeof p5 - 2, &info, NULL, 0, &st), HDRNN_ERR_TRUNCATED);
  static const char p5one[] = "P5 3 1 1\n\x01\x00\x01";
  if (CHECK_CODE(pgm(p5one, sizeof p5one - 1, &info, px, 16, &st), HDRNN_OK))
    CHECK(px[0] == 1.0f && px[1] == 0.0f && px[2] == 1.0f);
  static const char p5one_bad[] = "P5 3 1 1\n\x01\x02\x01";
  CHECK_CODE(pgm(p5one_bad, sizeof p5one_bad - 1, &info, px, 16, &st), HDRNN_ERR_FORMAT);
  static const char p5wide[] = "P5 2 1 65535\n\xff\xff\x01\x00";
  if (CHECK_CODE(pgm(p5wide, sizeof p5wide - 1, &info, px, 16, &st), HDRNN_OK)) {
    CHECK(info.maxval == 65535);
    CHECK(px[0] == 1.0f && px[1] == 256.0f / 65535.0f); /* big-endian: 0x0100 */
  }
  CHECK_CODE(pgm(p5wide, sizeof p5wide - 2, &info, px, 16, &st), HDRNN_ERR_TRUNCATED);
  static const char p5_1000[] = "P5 1 1 1000\n\x03\xe9"; /* 1001 > 1000 */
  CHECK_CODE(pgm(p5_1000, sizeof p5_1000 - 1, &info, px, 16, &st), HDRNN_ERR_FORMAT);
  static const char p2wide[] = "P2 2 1 65535 65535 300";
  if (CHECK_CODE(pgm(PGM_TEXT(p2wide), &info, px, 16, &st), HDRNN_OK))
    CHECK(px[0] == 1.0f && px[1] == 300.0f / 65535.0f);
  static const char p2one[] = "P2 2 1 1 0 1";
  if (CHECK_CODE(pgm(PGM_TEXT(p2one), &info, px, 16, &st), HDRNN_OK))
    CHECK(px[0] == 0.0f && px[1] == 1.0f);
  /* A 28x28 P5 like the seed's images. */
  {
    char buf[32 + 784];
    const int h = sprintf(buf, "P5\n28 28\n255\n");
    for (int i = 0; i < 784; i++) buf[h + i] = (char)(i % 256);
    float img[784];
    if (CHECK_CODE(pgm(buf, (size_t)h + 784, &info, img, 784, &st), HDRNN_OK))
      CHECK(img[300] == (float)(300 % 256) / 255.0f);
  }

  /* Errors. */
  static const char *bad[] = {
      "P2 1 1 15 16",         /* above maxval */
      "P3 1 1 255 1 1 1",     /* colour */
      "P6 1 1 255\n\x01\x01\x01",
      "XX 1 1 255 1",         /* magic */
      "P2 0 1 255",           /* zero width */
      "P2 1 0 255",           /* zero height */
      "P2 1 1 0 0",           /* maxval 0 */
      "P2 1 1 65536 0",       /* maxval too big */
      "P2 a 1 255 0",         /* not a number */
      "P2 1 1 255 x",
      "P2 1 1 255 12x",
      "P2 1 1 255 -1",
      "P2 1 1 2x5 1",
      "P21 1 255 1",          /* no space after the magic */
      "P2 99999999999 1 255 1",
      "P2 1 1 255 99999999999",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    const hdrnn_code code = pgm(bad[i], strlen(bad[i]), &info, px, 16, &st);
    CHECK_MSG(code != HDRNN_OK && st.message[0] != '\0', "PGM \"%s\" gave %s", bad[i],
              hdrnn_code_name(code));
  }
  CHECK_CODE(pgm(PGM_TEXT("P2 1 1 15 16"), &info, px, 16, &st), HDRNN_ERR_FORMAT);
  CHECK_CODE(pgm(PGM_TEXT("P7 1 1 15 1"), &info, px, 16, &st), HDRNN_ERR_FORMAT);
  CHECK_CODE(pgm(PGM_TEXT("P2 0 1 255"), &info, px, 16, &st), HDRNN_ERR_FORMAT);
  CHECK_CODE(pgm(PGM_TEXT("P5 100000 100000 255\n"), &info, NULL, 0, &st), HDRNN_ERR_LIMIT);
  CHECK_CODE(pgm(PGM_TEXT("P2 4294967295 4294967295 255\n"), &info, NULL, 0, &st),
             HDRNN_ERR_LIMIT);
  hdrnn_limits lim;
  memset(&lim, 0, sizeof lim);
  lim.max_pixels = 3;
  CHECK_CODE(hdrnn_pgm_decode((const uint8_t *)"P2 2 2 1 0 0 0 0", 16, &lim, &info, px, 16, &st),
             HDRNN_ERR_LIMIT);
  CHECK_CODE(pgm(PGM_TEXT("P2 2 2 1"), &info, px, 16, &st), HDRNN_ERR_TRUNCATED);
  CHECK_CODE(pgm(PGM_TEXT("P5 2 2 255"), &info, NULL, 0, &st), HDRNN_ERR_TRUNCATED);
  CHECK(pgm("", 0, &info, px, 16, &st) != HDRNN_OK);
  CHECK_CODE(hdrnn_pgm_decode(NULL, 4, NULL, &info, px, 16, &st), HDRNN_ERR_ARGUMENT);
  CHECK_CODE(hdrnn_pgm_decode((const uint8_t *)p2, 4, NULL, NULL, px, 16, &st),
             HDRNN_ERR_ARGUMENT);
}

/* ----------------------------------------------- evaluate and infer */

static double sigmoid_d(double x) { return 1.0 / (1.0 + exp(-x)); }

static void test_evaluate_infer(void) {
  hdrnn_status st;
  /* 2-2-3 with known weights. */
  static const uint32_t shape[] = {2, 2, 3};
  hdrnn_network *net = NULL;
  if (!CHECK_CODE(hdrnn_network_create(&net, shape, 3, NULL, &st), HDRNN_OK)) return;
  static const float w0[] = {0.5f, -1.0f, 2.0f, 0.25f}; /* [out][in] */
  static const float b0[] = {0.1f, -0.3f};
  static const float w1[] = {1.0f, -2.0f, 0.5f, 0.5f, -1.5f, 3.0f};
  static const float b1[] = {0.0f, 0.2f, -0.7f};
  memcpy(hdrnn_network_weights(net, 0), w0, sizeof w0);
  memcpy(hdrnn_network_biases(net, 0), b0, sizeof b0);
  memcpy(hdrnn_network_weights(net, 1), w1, sizeof w1);
  memcpy(hdrnn_network_biases(net, 1), b1, sizeof b1);
  static const float x[] = {0.0f, 0.0f, 1.0f, 0.0f, 0.0f, 1.0f, 0.3f, 0.9f, -2.0f, 5.0f};
  static const uint32_t y[] = {0, 1, 2, 2, 1};
  const size_t count = 5;
  double expect[5][3], loss = 0.0;
  size_t expect_label[5], correct = 0;
  for (size_t r = 0; r < count; r++) {
    double h[2];
    for (int j = 0; j < 2; j++)
      h[j] = sigmoid_d((double)w0[2 * j] * x[2 * r] + (double)w0[2 * j + 1] * x[2 * r + 1] + b0[j]);
    expect_label[r] = 0;
    for (int j = 0; j < 3; j++) {
      expect[r][j] = sigmoid_d((double)w1[2 * j] * h[0] + (double)w1[2 * j + 1] * h[1] + b1[j]);
      if (expect[r][j] > expect[r][expect_label[r]]) expect_label[r] = (size_t)j;
      const double d = expect[r][j] - (y[r] == (uint32_t)j ? 1.0 : 0.0);
      loss += 0.5 * d * d;
    }
    correct += expect_label[r] == y[r];
  }
  loss /= (double)count;
  hdrnn_dataset ds;
  memset(&ds, 0, sizeof ds);
  ds.features = x;
  ds.labels32 = y;
  ds.count = count;
  ds.input_size = 2;
  const hdrnn_kernels *kernels[4];
  size_t nk;
  kernel_list(kernels, &nk);
  for (size_t k = 0; k < nk; k++) {
    hdrnn_run_options ro = {2, kernels[k], NULL};
    float scores[15];
    uint32_t labels[5];
    if (CHECK_CODE(hdrnn_infer(net, &ds, &ro, scores, labels, &st), HDRNN_OK))
      for (size_t r = 0; r < count; r++) {
        for (int j = 0; j < 3; j++) CHECK_NEAR(scores[r * 3 + j], expect[r][j], 1e-6);
        CHECK(labels[r] == expect_label[r]);
      }
    /* Either output may be NULL. */
    CHECK_CODE(hdrnn_infer(net, &ds, &ro, NULL, labels, &st), HDRNN_OK);
    CHECK_CODE(hdrnn_infer(net, &ds, &ro, scores, NULL, &st), HDRNN_OK);
    hdrnn_evaluation ev;
    uint64_t conf[9] = {0};
    memset(&ev, 0, sizeof ev);
    ev.confusion = conf;
    if (CHECK_CODE(hdrnn_evaluate(net, &ds, &ro, &ev, &st), HDRNN_OK)) {
      CHECK(ev.total == count && ev.correct == correct);
      CHECK_NEAR(ev.loss, loss, 1e-6);
      uint64_t sum = 0, diag = 0;
      for (int i = 0; i < 9; i++) sum += conf[i];
      for (int i = 0; i < 3; i++) diag += conf[i * 3 + i];
      CHECK(sum == count && diag == correct);
      for (size_t r = 0; r < count; r++) CHECK(conf[y[r] * 3 + expect_label[r]] >= 1);
    }
  }

  /* Ties pick the first: all-zero weights give 0.5 everywhere. */
  static const uint32_t tie_shape[] = {2, 4};
  hdrnn_network *tie = NULL;
  if (CHECK_CODE(hdrnn_network_create(&tie, tie_shape, 2, NULL, &st), HDRNN_OK)) {
    float scores[20];
    uint32_t labels[5];
    CHECK_CODE(hdrnn_infer(tie, &ds, NULL, scores, labels, &st), HDRNN_OK);
    for (size_t r = 0; r < count; r++) CHECK(labels[r] == 0 && scores[r * 4 + 3] == 0.5f);
    float *b = hdrnn_network_biases(tie, 0);
    b[0] = -1.0f;
    b[1] = 2.0f;
    b[2] = 1.0f;
    b[3] = 2.0f;
    CHECK_CODE(hdrnn_infer(tie, &ds, NULL, scores, labels, &st), HDRNN_OK);
    for (size_t r = 0; r < count; r++) CHECK(labels[r] == 1);
    hdrnn_network_free(tie);
  }

  /* A bigger random set: the confusion matrix sums to the total. */
  {
    static const uint32_t s2[] = {20, 9, 6};
    hdrnn_network *n2 = make_net(s2, 3, 12);
    test_data d;
    data_make(&d, 333, 20, 6, 13);
    const hdrnn_dataset ds2 = data_view(&d, 1);
    hdrnn_evaluation ev;
    uint64_t conf[36] = {0};
    memset(&ev, 0, sizeof ev);
    ev.confusion = conf;
    if (n2 != NULL && CHECK_CODE(hdrnn_evaluate(n2, &ds2, NULL, &ev, &st), HDRNN_OK)) {
      uint64_t sum = 0, diag = 0;
      for (int i = 0; i < 36; i++) sum += conf[i];
      for (int i = 0; i < 6; i++) diag += conf[i * 6 + i];
      CHECK(sum == 333 && ev.total == 333 && diag == ev.correct);
      /* Rows hold the actual labels. */
      for (uint32_t c = 0; c < 6; c++) {
        uint64_t row = 0, actual = 0;
        for (int j = 0; j < 6; j++) row += conf[c * 6 + j];
        for (size_t i = 0; i < 333; i++) actual += d.labels8[i] == c;
        CHECK(row == actual);
      }
    }
    /* Without a confusion matrix, and on an empty set. */
    memset(&ev, 0, sizeof ev);
    CHECK_CODE(hdrnn_evaluate(n2, &ds2, NULL, &ev, &st), HDRNN_OK);
    hdrnn_dataset none = ds2;
    none.count = 0;
    memset(&ev, 0, sizeof ev);
    CHECK_CODE(hdrnn_evaluate(n2, &none, NULL, &ev, &st), HDRNN_OK);
    CHECK(ev.total == 0 && ev.correct == 0 && ev.loss == 0.0);
    CHECK_CODE(hdrnn_evaluate(n2, &ds2, NULL, NULL, &st), HDRNN_ERR_ARGUMENT);
    hdrnn_run_options many = {5000, NULL, NULL};
    CHECK_CODE(hdrnn_infer(n2, &ds2, &many, NULL, NULL, &st), HDRNN_ERR_ARGUMENT);
    hdrnn_network_free(n2);
    data_free(&d);
  }

  /* hdrnn_dataset_check. */
  hdrnn_dataset bad = ds;
  CHECK_CODE(hdrnn_dataset_check(&bad, net, 1, &st), HDRNN_OK);
  bad.input_size = 3;
  CHECK_CODE(hdrnn_dataset_check(&bad, net, 1, &st), HDRNN_ERR_MISMATCH);
  CHECK_MESSAGE(st);
  hdrnn_evaluation ev;
  memset(&ev, 0, sizeof ev);
  CHECK_CODE(hdrnn_evaluate(net, &bad, NULL, &ev, &st), HDRNN_ERR_MISMATCH);
  CHECK_CODE(hdrnn_infer(net, &bad, NULL, NULL, NULL, &st), HDRNN_ERR_MISMATCH);
  static const uint32_t y_bad[] = {0, 1, 3, 2, 1};
  bad = ds;
  bad.labels32 = y_bad;
  CHECK_CODE(hdrnn_dataset_check(&bad, net, 1, &st), HDRNN_ERR_MISMATCH);
  CHECK_MESSAGE(st);
  CHECK_CODE(hdrnn_dataset_check(&bad, net, 0, &st), HDRNN_OK); /* labels not needed */
  static const uint8_t y8_bad[] = {0, 1, 2, 200, 1};
  bad.labels32 = NULL;
  bad.labels8 = y8_bad;
  CHECK_CODE(hdrnn_dataset_check(&bad, net, 1, &st), HDRNN_ERR_MISMATCH);
  bad.labels8 = NULL;
  CHECK_CODE(hdrnn_dataset_check(&bad, net, 1, &st), HDRNN_ERR_ARGUMENT); /* no labels */
  CHECK_CODE(hdrnn_dataset_check(&bad, net, 0, &st), HDRNN_OK);
  bad.labels8 = y8_bad;
  bad.labels32 = y_bad;
  CHECK_CODE(hdrnn_dataset_check(&bad, net, 1, &st), HDRNN_ERR_ARGUMENT); /* both */
  float xn[10];
  memcpy(xn, x, sizeof xn);
  xn[7] = NAN;
  bad = ds;
  bad.features = xn;
  CHECK_CODE(hdrnn_dataset_check(&bad, net, 1, &st), HDRNN_ERR_ARGUMENT);
  CHECK_MESSAGE(st);
  xn[7] = -INFINITY;
  CHECK_CODE(hdrnn_dataset_check(&bad, net, 0, &st), HDRNN_ERR_ARGUMENT);
  CHECK_CODE(hdrnn_infer(net, &bad, NULL, NULL, NULL, &st), HDRNN_ERR_ARGUMENT);
  static const uint8_t pix[10] = {0};
  bad.pixels = pix; /* both pixels and features */
  CHECK_CODE(hdrnn_dataset_check(&bad, net, 1, &st), HDRNN_ERR_ARGUMENT);
  bad.pixels = NULL;
  bad.features = NULL;
  CHECK_CODE(hdrnn_dataset_check(&bad, net, 1, &st), HDRNN_ERR_ARGUMENT);
  CHECK_CODE(hdrnn_dataset_check(NULL, net, 1, &st), HDRNN_ERR_ARGUMENT);
  CHECK_CODE(hdrnn_dataset_check(&ds, NULL, 1, &st), HDRNN_ERR_ARGUMENT);
  bad = ds;
  bad.count = SIZE_MAX; /* count * input_size overflows */
  CHECK_CODE(hdrnn_dataset_check(&bad, net, 0, &st), HDRNN_ERR_LIMIT);
  hdrnn_network_free(net);
}

/* ----------------------------------------------------------- MNIST */

static uint8_t *read_file(const char *dir, const char *name, size_t *size) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "rb");
  if (f == NULL) return NULL;
  size_t cap = 1 << 20, n = 0;
  uint8_t *buf = xmalloc(cap);
  for (;;) {
    if (n == cap) {
      cap *= 2;
      uint8_t *grown = realloc(buf, cap);
      if (grown == NULL) {
        free(buf);
        fclose(f);
        return NULL;
      }
      buf = grown;
    }
    const size_t got = fread(buf + n, 1, cap - n, f);
    if (got == 0) break;
    n += got;
  }
  fclose(f);
  *size = n;
  return buf;
}

static void test_mnist(void) {
  const char *dir = getenv("HDRNN_MNIST_DIR");
  if (quick) {
    printf("   skipped (--quick)\n");
    return;
  }
  if (dir == NULL || dir[0] == '\0') {
    printf("   skipped: HDRNN_MNIST_DIR is not set (configure with -DHDRNN_MNIST_DIR=...)\n");
    return;
  }
  static const char *names[4] = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                                 "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"};
  uint8_t *files[4] = {NULL, NULL, NULL, NULL};
  size_t sizes[4] = {0, 0, 0, 0};
  int ok = 1;
  for (int i = 0; i < 4; i++) {
    files[i] = read_file(dir, names[i], &sizes[i]);
    ok &= CHECK_MSG(files[i] != NULL, "cannot read %s/%s", dir, names[i]);
  }
  hdrnn_status st;
  hdrnn_idx_images ti, vi;
  hdrnn_idx_labels tl, vl;
  ok = ok && CHECK_CODE(hdrnn_idx_parse_images(files[0], sizes[0], NULL, &ti, &st), HDRNN_OK) &&
       CHECK_CODE(hdrnn_idx_parse_labels(files[1], sizes[1], NULL, &tl, &st), HDRNN_OK) &&
       CHECK_CODE(hdrnn_idx_parse_images(files[2], sizes[2], NULL, &vi, &st), HDRNN_OK) &&
       CHECK_CODE(hdrnn_idx_parse_labels(files[3], sizes[3], NULL, &vl, &st), HDRNN_OK);
  if (ok) {
    CHECK(ti.count == 60000 && tl.count == 60000 && vi.count == 10000 && vl.count == 10000);
    CHECK(ti.rows == 28 && ti.cols == 28);
    static const uint32_t shape[] = {784, 32, 10};
    hdrnn_network *net = make_net(shape, 3, 1);
    hdrnn_dataset train, test;
    memset(&train, 0, sizeof train);
    memset(&test, 0, sizeof test);
    train.pixels = ti.pixels;
    train.labels8 = tl.labels;
    train.count = ti.count;
    train.input_size = 784;
    test.pixels = vi.pixels;
    test.labels8 = vl.labels;
    test.count = vi.count;
    test.input_size = 784;
    hdrnn_train_options opt;
    hdrnn_train_options_default(&opt);
    opt.batch_size = 10;
    opt.learning_rate = 3.0f;
    opt.seed = 1;
    hdrnn_trainer *t = NULL;
    if (net != NULL && CHECK_CODE(hdrnn_trainer_create(&t, net, &train, &opt, &st), HDRNN_OK)) {
      const double start = now_seconds();
      hdrnn_trainer_begin_epoch(t);
      size_t done = 0;
      CHECK_CODE(hdrnn_trainer_step(t, SIZE_MAX, &done, &st), HDRNN_OK);
      const double trained = now_seconds();
      CHECK(done == 6000);
      hdrnn_evaluation ev;
      memset(&ev, 0, sizeof ev);
      CHECK_CODE(hdrnn_evaluate(net, &test, NULL, &ev, &st), HDRNN_OK);
      const double evaluated = now_seconds();
      const double accuracy = 100.0 * (double)ev.correct / (double)ev.total;
      printf("   MNIST 784-32-10, 1 epoch, batch 10, eta 3, %u thread(s), kernels %s: "
             "%zu / %zu = %.2f%%, train loss %.4f, test loss %.4f; training %.2f s, "
             "evaluation %.3f s\n",
             hdrnn_trainer_threads(t), hdrnn_kernels_name(hdrnn_kernels_best()), ev.correct,
             ev.total, accuracy, hdrnn_trainer_epoch_loss(t), ev.loss, trained - start,
             evaluated - trained);
      CHECK_MSG(accuracy >= 90.0, "one epoch of MNIST reached only %.2f%%", accuracy);
      hdrnn_trainer_free(t);
    }
    hdrnn_network_free(net);
  }
  for (int i = 0; i < 4; i++) free(files[i]);
}

/* ------------------------------------------------------------- main */

typedef struct test_case {
  const char *name;
  void (*fn)(void);
} test_case;


/* Issue 11: every workspace is checked against the network's working-memory
 * cap before it is allocated; threads are capped at the CPU count; a raised
 * cancel flag stops an evaluation; one confusion matrix, counted into the
 * caller's. */
static void test_working_memory(void) {
  hdrnn_status st;
  hdrnn_limits lim;
  memset(&lim, 0, sizeof lim);
  lim.max_working_bytes = 1u << 20; /* 1 MiB */
  const uint32_t wide[] = {1, 1u << 14, 2};
  hdrnn_network *net = NULL;
  if (!CHECK_CODE(hdrnn_network_create(&net, wide, 3, &lim, &st), HDRNN_OK)) return;
  CHECK(hdrnn_network_working_limit(net) == (1u << 20));
  float inputs[128] = {0};
  uint8_t labels[128] = {0};
  hdrnn_dataset ds = {0};
  ds.features = inputs;
  ds.labels8 = labels;
  ds.count = 128;
  ds.input_size = 1;
  hdrnn_run_options ro = {0};
  ro.threads = 1;
  hdrnn_evaluation ev = {0};
  /* 64 rows x 16384 floats x 2 = 8 MiB of workspace: over the cap. */
  CHECK_CODE(hdrnn_evaluate(net, &ds, &ro, &ev, &st), HDRNN_ERR_LIMIT);
  CHECK_MESSAGE(st);
  CHECK(strstr(st.message, "maxWorkingBytes") != NULL);
  hdrnn_train_options to;
  hdrnn_train_options_default(&to);
  to.batch_size = 100;
  hdrnn_trainer *t = NULL;
  CHECK_CODE(hdrnn_trainer_create(&t, net, &ds, &to, &st), HDRNN_ERR_LIMIT);
  CHECK(t == NULL);
  /* Four examples fit (4 x 16384 x 2 floats = 512 KiB), even with 1000 threads asked. */
  ds.count = 4;
  ro.threads = 2000;
  uint64_t confusion[4] = {0};
  ev.confusion = confusion;
  CHECK_CODE(hdrnn_evaluate(net, &ds, &ro, &ev, &st), HDRNN_ERR_ARGUMENT); /* over 1024 */
  ro.threads = 1000;
  CHECK_CODE(hdrnn_evaluate(net, &ds, &ro, &ev, &st), HDRNN_OK);
  CHECK(ev.total == 4);
  CHECK(confusion[0] + confusion[1] + confusion[2] + confusion[3] == 4);
  to.batch_size = 2;
  to.threads = 1000;
  if (CHECK_CODE(hdrnn_trainer_create(&t, net, &ds, &to, &st), HDRNN_OK)) {
    CHECK(hdrnn_trainer_threads(t) <= hdrnn_cpu_count());
    hdrnn_trainer_free(t);
  }
  /* A raised cancel flag stops the run. */
  int cancel = 1;
  ro.cancel = &cancel;
  memset(confusion, 0, sizeof confusion);
  CHECK_CODE(hdrnn_evaluate(net, &ds, &ro, &ev, &st), HDRNN_ERR_CANCELLED);
  hdrnn_network_free(net);
}

/* A network made unset and then initialised is the one made zeroed and
 * initialised, under every initialisation (the addon's Network.create). */
static void test_create_unset(void) {
  static const uint32_t shape[] = {13, 7, 3};
  for (int init = 0; init < HDRNN_INIT_COUNT; init++) {
    hdrnn_network *a = NULL, *b = NULL;
    hdrnn_status st;
    CHECK(hdrnn_network_create(&a, shape, 3, NULL, &st) == HDRNN_OK);
    CHECK(hdrnn_network_create_unset(&b, shape, 3, NULL, &st) == HDRNN_OK);
    if (a == NULL || b == NULL) {
      hdrnn_network_free(a);
      hdrnn_network_free(b);
      continue;
    }
    for (size_t i = 0; i < hdrnn_network_parameter_count(a); i++) CHECK(hdrnn_network_parameters(a)[i] == 0.0f);
    CHECK(hdrnn_network_init(a, (hdrnn_init)init, 99, &st) == HDRNN_OK);
    CHECK(hdrnn_network_init(b, (hdrnn_init)init, 99, &st) == HDRNN_OK);
    CHECK_MSG(same_parameters(a, b), "init %d: unset + init differs from create + init", init);
    hdrnn_network_free(a);
    hdrnn_network_free(b);
  }
  hdrnn_network *c = NULL;
  hdrnn_status st;
  CHECK(hdrnn_network_create_unset(&c, shape, 1, NULL, &st) == HDRNN_ERR_ARGUMENT && c == NULL);
}

static const test_case tests[] = {
    {"gradients", test_gradients},
    {"create_unset", test_create_unset},
    {"batched_vs_reference", test_batched_vs_reference},
    {"shuffle", test_shuffle_matters},
    {"thread_determinism", test_thread_determinism},
    {"seeds", test_seeds},
    {"stepwise", test_stepwise},
    {"auto_threads", test_auto_threads},
    {"seed_format", test_seed_format},
    {"v2_format", test_v2_format},
    {"network_create", test_network_create},
    {"idx", test_idx},
    {"pgm", test_pgm},
    {"evaluate_infer", test_evaluate_infer},
    {"working_memory", test_working_memory},
    {"mnist", test_mnist},
};

int main(int argc, char **argv) {
  const char *filters[64];
  int nfilters = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--quick") == 0) {
      quick = 1;
    } else if (strcmp(argv[i], "--help") == 0 || argv[i][0] == '-') {
      printf("usage: test_core [--quick] [NAME...]\n  tests:");
      for (size_t t = 0; t < sizeof tests / sizeof tests[0]; t++) printf(" %s", tests[t].name);
      printf("\n");
      return strcmp(argv[i], "--help") == 0 ? 0 : 2;
    } else if (nfilters < 64) {
      filters[nfilters++] = argv[i];
    }
  }
  /* The kernel tables the tests below go through (kernel_list). */
  const hdrnn_kernels *tables[4];
  size_t ntables;
  kernel_list(tables, &ntables);
  printf("kernels:");
  for (size_t k = 0; k < ntables; k++) printf(" %s", hdrnn_kernels_name(tables[k]));
  printf(" (best: %s)\n", hdrnn_kernels_name(hdrnn_kernels_best()));
  int ran = 0;
  for (size_t t = 0; t < sizeof tests / sizeof tests[0]; t++) {
    int selected = nfilters == 0;
    for (int f = 0; f < nfilters; f++) selected |= strstr(tests[t].name, filters[f]) != NULL;
    if (!selected) continue;
    check_begin(tests[t].name);
    const double start = now_seconds();
    tests[t].fn();
    printf("   (%.2f s)\n", now_seconds() - start);
    ran++;
  }
  if (ran == 0) {
    fprintf(stderr, "test_core: no test matches\n");
    return 2;
  }
  return check_summary("test_core");
}
