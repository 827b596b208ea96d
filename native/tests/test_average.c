/*
 * test_average.c - federated averaging in the core: the weighted mean against
 * a plain computation, the robust methods against a poisoned network, the
 * norm clip, and every refused input.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "hdrnn.h"
#include "internal.h"

static const uint32_t shape[] = {5, 4, 3};

static hdrnn_network *make(uint64_t seed) {
  hdrnn_network *net = NULL;
  if (hdrnn_network_create(&net, shape, 3, NULL, NULL) != HDRNN_OK) {
    fprintf(stderr, "test_average: cannot create a network\n");
    exit(2);
  }
  hdrnn_network_init_normal(net, seed);
  return net;
}

static void test_weighted_mean(void) {
  check_begin("weighted mean equals a plain weighted mean");
  enum { K = 4 };
  hdrnn_network *nets[K];
  const double w[K] = {600, 1200, 50, 3};
  for (int k = 0; k < K; k++) nets[k] = make(100 + k);
  hdrnn_network *out = make(1);
  hdrnn_status st;
  CHECK_CODE(hdrnn_network_average(out, (const hdrnn_network *const *)nets, w, K, NULL, &st),
             HDRNN_OK);
  const size_t n = hdrnn_network_parameter_count(out);
  double total = 0;
  for (int k = 0; k < K; k++) total += w[k];
  for (size_t i = 0; i < n; i++) {
    double s = 0;
    for (int k = 0; k < K; k++) s += w[k] * hdrnn_network_parameters(nets[k])[i];
    CHECK_NEAR(hdrnn_network_parameters(out)[i], s / total, 1e-6);
  }
  /* One network with weight 1: the average is that network, bit for bit. */
  const double one = 1;
  CHECK_CODE(hdrnn_network_average(out, (const hdrnn_network *const *)nets, &one, 1, NULL, &st),
             HDRNN_OK);
  CHECK(memcmp(hdrnn_network_parameters(out), hdrnn_network_parameters(nets[0]),
               n * sizeof(float)) == 0);
  for (int k = 0; k < K; k++) hdrnn_network_free(nets[k]);
  hdrnn_network_free(out);
}

static void test_robust(void) {
  check_begin("median and trimmed mean ignore one poisoned network");
  enum { K = 5 };
  hdrnn_network *nets[K];
  const double w[K] = {1, 1, 1, 1, 1e6}; /* the poisoner also claims a huge count */
  for (int k = 0; k < K; k++) nets[k] = make(7);
  const size_t n = hdrnn_network_parameter_count(nets[0]);
  /* Honest networks: the same base plus small, different offsets. */
  for (int k = 0; k < 4; k++)
    for (size_t i = 0; i < n; i++) nets[k]->params[i] += 0.01f * (float)(k + 1);
  for (size_t i = 0; i < n; i++) nets[4]->params[i] = 1e30f;
  hdrnn_network *out = make(1);
  hdrnn_average_options opt;
  hdrnn_average_options_default(&opt);
  hdrnn_status st;

  opt.method = HDRNN_AVERAGE_MEDIAN;
  CHECK_CODE(hdrnn_network_average(out, (const hdrnn_network *const *)nets, w, K, &opt, &st),
             HDRNN_OK);
  hdrnn_network *ref = make(7);
  for (size_t i = 0; i < n; i++) /* sorted: +.01 +.02 +.03 +.04 1e30: median +.03 */
    CHECK_NEAR(out->params[i], ref->params[i] + 0.03f, 1e-5);

  opt.method = HDRNN_AVERAGE_TRIMMED_MEAN;
  opt.trim = 0.2; /* floor(0.2 * 5) = 1 cut at each end: mean of +.02 +.03 +.04 */
  CHECK_CODE(hdrnn_network_average(out, (const hdrnn_network *const *)nets, w, K, &opt, &st),
             HDRNN_OK);
  for (size_t i = 0; i < n; i++) CHECK_NEAR(out->params[i], ref->params[i] + 0.03f, 1e-5);

  /* The plain mean is wrecked by it (which is why the options exist). */
  CHECK_CODE(hdrnn_network_average(out, (const hdrnn_network *const *)nets, w, K, NULL, &st),
             HDRNN_OK);
  CHECK(fabsf(out->params[0]) > 1e20f);

  /* A norm clip against the base bounds the poisoned network's pull on the mean. */
  opt.method = HDRNN_AVERAGE_MEAN;
  opt.clip_norm = 1;
  opt.base = ref;
  const double equal[K] = {1, 1, 1, 1, 1};
  CHECK_CODE(hdrnn_network_average(out, (const hdrnn_network *const *)nets, equal, K, &opt, &st),
             HDRNN_OK);
  double sq = 0;
  for (size_t i = 0; i < n; i++) {
    const double d = (double)out->params[i] - ref->params[i];
    sq += d * d;
  }
  CHECK(sqrt(sq) <= 1.0 + 1e-4); /* each clipped distance <= 1, so their mean is too */
  for (int k = 0; k < K; k++) hdrnn_network_free(nets[k]);
  hdrnn_network_free(out);
  hdrnn_network_free(ref);
}

static void test_refused(void) {
  check_begin("refused inputs");
  hdrnn_network *a = make(1), *b = make(2), *out = make(3);
  const uint32_t other[] = {5, 3, 3};
  hdrnn_network *c = NULL;
  hdrnn_network_create(&c, other, 3, NULL, NULL);
  hdrnn_status st;
  const hdrnn_network *pair[2] = {a, b};
  const hdrnn_network *mixed[2] = {a, c};
  double w[2] = {1, 1};
  CHECK_CODE(hdrnn_network_average(out, pair, w, 0, NULL, &st), HDRNN_ERR_ARGUMENT);
  CHECK_CODE(hdrnn_network_average(out, mixed, w, 2, NULL, &st), HDRNN_ERR_MISMATCH);
  w[1] = NAN;
  CHECK_CODE(hdrnn_network_average(out, pair, w, 2, NULL, &st), HDRNN_ERR_ARGUMENT);
  w[1] = -1;
  CHECK_CODE(hdrnn_network_average(out, pair, w, 2, NULL, &st), HDRNN_ERR_ARGUMENT);
  w[0] = 0;
  w[1] = 0;
  CHECK_CODE(hdrnn_network_average(out, pair, w, 2, NULL, &st), HDRNN_ERR_ARGUMENT);
  w[0] = w[1] = 1;
  b->params[3] = INFINITY;
  CHECK_CODE(hdrnn_network_average(out, pair, w, 2, NULL, &st), HDRNN_ERR_ARGUMENT);
  CHECK(strstr(st.message, "network 1") != NULL);
  b->params[3] = 0;
  hdrnn_average_options opt;
  hdrnn_average_options_default(&opt);
  opt.method = HDRNN_AVERAGE_TRIMMED_MEAN;
  opt.trim = 0.5;
  CHECK_CODE(hdrnn_network_average(out, pair, w, 2, &opt, &st), HDRNN_ERR_ARGUMENT);
  hdrnn_average_options_default(&opt);
  opt.clip_norm = 1; /* without a base */
  CHECK_CODE(hdrnn_network_average(out, pair, w, 2, &opt, &st), HDRNN_ERR_ARGUMENT);
  /* Same sizes, different activations: the parameters do not mean the same. */
  hdrnn_network *relu = make(4);
  CHECK_CODE(hdrnn_network_set_activation(relu, 0, HDRNN_ACTIVATION_RELU, &st), HDRNN_OK);
  const hdrnn_network *acts[2] = {a, relu};
  CHECK_CODE(hdrnn_network_average(out, acts, w, 2, NULL, &st), HDRNN_ERR_MISMATCH);
  hdrnn_network_free(relu);
  opt.method = (hdrnn_average_method)9;
  CHECK_CODE(hdrnn_network_average(out, pair, w, 2, &opt, &st), HDRNN_ERR_ARGUMENT);

  float d[3] = {3, 4, 0};
  double norm = 0;
  CHECK_CODE(hdrnn_clip_norm(d, 3, 1, &norm, &st), HDRNN_OK);
  CHECK_NEAR(norm, 5, 1e-9);
  CHECK_NEAR(d[0], 0.6, 1e-6);
  CHECK_NEAR(d[1], 0.8, 1e-6);
  d[2] = NAN;
  CHECK_CODE(hdrnn_clip_norm(d, 3, 1, &norm, &st), HDRNN_ERR_ARGUMENT);
  CHECK_CODE(hdrnn_clip_norm(d, 3, 0, &norm, &st), HDRNN_ERR_ARGUMENT);
  hdrnn_network_free(a);
  hdrnn_network_free(b);
  hdrnn_network_free(c);
  hdrnn_network_free(out);
}

int main(void) {
  test_weighted_mean();
  test_robust();
  test_refused();
  return check_summary("test_average");
}
