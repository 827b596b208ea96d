/*
 * activations.c - the activation table (see activations.h).
 */
#include <math.h>
#include <string.h>

#include "activations.h"

static void sigmoid_forward(const hdrnn_kernels *k, float *x, size_t n) { k->sigmoid(x, n); }
static void sigmoid_backward(const hdrnn_kernels *k, float *d, const float *a, size_t n) {
  k->sigmoid_backward(d, a, n);
}

static void tanh_forward(const hdrnn_kernels *k, float *x, size_t n) {
  (void)k;
  for (size_t i = 0; i < n; i++) x[i] = tanhf(x[i]);
}
static void tanh_backward(const hdrnn_kernels *k, float *d, const float *a, size_t n) {
  (void)k;
  for (size_t i = 0; i < n; i++) d[i] *= 1.0f - a[i] * a[i];
}

static void relu_forward(const hdrnn_kernels *k, float *x, size_t n) {
  (void)k;
  for (size_t i = 0; i < n; i++) x[i] = x[i] > 0.0f ? x[i] : 0.0f;
}
static void relu_backward(const hdrnn_kernels *k, float *d, const float *a, size_t n) {
  (void)k;
  for (size_t i = 0; i < n; i++)
    if (!(a[i] > 0.0f)) d[i] = 0.0f;
}

static void linear_forward(const hdrnn_kernels *k, float *x, size_t n) {
  (void)k;
  (void)x;
  (void)n;
}
static void linear_backward(const hdrnn_kernels *k, float *d, const float *a, size_t n) {
  (void)k;
  (void)d;
  (void)a;
  (void)n;
}

/* Shifted by the row's largest value so exp never overflows; the sum runs
 * in double, in index order. */
static void softmax_forward(const hdrnn_kernels *k, float *x, size_t n) {
  (void)k;
  if (n == 0) return;
  float top = x[0];
  for (size_t i = 1; i < n; i++)
    if (x[i] > top) top = x[i];
  double sum = 0.0;
  for (size_t i = 0; i < n; i++) {
    x[i] = expf(x[i] - top);
    sum += x[i];
  }
  const double inv = 1.0 / sum; /* sum >= 1: the top entry is exp(0) */
  for (size_t i = 0; i < n; i++) x[i] = (float)(x[i] * inv);
}
static void softmax_backward(const hdrnn_kernels *k, float *d, const float *a, size_t n) {
  (void)k;
  double dot = 0.0;
  for (size_t i = 0; i < n; i++) dot += (double)d[i] * a[i];
  for (size_t i = 0; i < n; i++) d[i] = (float)(a[i] * ((double)d[i] - dot));
}

static const hdrnn_activation_ops table[HDRNN_ACTIVATION_COUNT] = {
    [HDRNN_ACTIVATION_SIGMOID] = {"sigmoid", 0, sigmoid_forward, sigmoid_backward},
    [HDRNN_ACTIVATION_TANH] = {"tanh", 0, tanh_forward, tanh_backward},
    [HDRNN_ACTIVATION_RELU] = {"relu", 0, relu_forward, relu_backward},
    [HDRNN_ACTIVATION_LINEAR] = {"linear", 0, linear_forward, linear_backward},
    [HDRNN_ACTIVATION_SOFTMAX] = {"softmax", 1, softmax_forward, softmax_backward},
};

const hdrnn_activation_ops *hdrnn_activation_ops_of(hdrnn_activation a) {
  return (unsigned)a < HDRNN_ACTIVATION_COUNT ? &table[a] : NULL;
}

const char *hdrnn_activation_name(hdrnn_activation a) {
  const hdrnn_activation_ops *f = hdrnn_activation_ops_of(a);
  return f != NULL ? f->name : NULL;
}

hdrnn_code hdrnn_activation_parse(const char *name, hdrnn_activation *out, hdrnn_status *status) {
  for (unsigned i = 0; name != NULL && i < HDRNN_ACTIVATION_COUNT; i++)
    if (strcmp(name, table[i].name) == 0) {
      *out = (hdrnn_activation)i;
      return hdrnn_ok(status);
    }
  return hdrnn_fail(status, HDRNN_ERR_ARGUMENT,
                    "unknown activation '%.64s' (sigmoid, tanh, relu, linear or softmax)",
                    name != NULL ? name : "");
}

void hdrnn_activate(const hdrnn_activation_ops *f, const hdrnn_kernels *k, float *x, size_t rows,
                    size_t ld, size_t begin, size_t end) {
  for (size_t r = 0; r < rows; r++) f->forward(k, x + r * ld + begin, end - begin);
}

void hdrnn_activate_all(const hdrnn_activation_ops *f, const hdrnn_kernels *k, float *x,
                        size_t rows, size_t ld) {
  if (f->row_wise)
    hdrnn_activate(f, k, x, rows, ld, 0, ld);
  else
    f->forward(k, x, rows * ld);
}

void hdrnn_activate_backward(const hdrnn_activation_ops *f, const hdrnn_kernels *k, float *d,
                             const float *a, size_t rows, size_t ld, size_t begin, size_t end) {
  for (size_t r = 0; r < rows; r++) f->backward(k, d + r * ld + begin, a + r * ld + begin, end - begin);
}
