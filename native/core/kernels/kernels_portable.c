/*
 * kernels_portable.c - plain C kernels: the fallback on any CPU (including
 * armv7 without NEON) and the baseline the SIMD versions are measured against.
 *
 * Written for clarity first and speed second: the loops are ordered so that
 * the innermost one walks memory contiguously, and every sum runs over its
 * index in increasing order, which the determinism contract in kernels.h asks.
 * The build passes -ffp-contract=off so the compiler cannot fuse a*b+c in some
 * places and not in others.
 */
#include <math.h>

#include "kernels.h"

/* Columns of the update processed per pass; the partial sums live on the stack. */
#define UPDATE_CHUNK 256

static void portable_forward(size_t m, size_t n, size_t k, const float *a,
                             size_t lda, const float *b, size_t ldb,
                             const float *bias, float *c, size_t ldc) {
  for (size_t i = 0; i < m; i++) {
    const float *row = a + i * lda;
    for (size_t j = 0; j < n; j++) {
      const float *weights = b + j * ldb;
      float sum = 0.0f;
      for (size_t p = 0; p < k; p++) sum += row[p] * weights[p];
      c[i * ldc + j] = sum + bias[j];
    }
  }
}

static void portable_backward(size_t m, size_t n, size_t k, const float *a,
                              size_t lda, const float *b, size_t ldb, float *c,
                              size_t ldc) {
  for (size_t i = 0; i < m; i++) {
    float *out = c + i * ldc;
    for (size_t j = 0; j < n; j++) out[j] = 0.0f;
    for (size_t p = 0; p < k; p++) {
      const float delta = a[i * lda + p];
      const float *weights = b + p * ldb;
      for (size_t j = 0; j < n; j++) out[j] += delta * weights[j];
    }
  }
}

static void portable_update(size_t m, size_t n, size_t k, float alpha,
                            const float *d, size_t ldd, const float *a,
                            size_t lda, float *w, size_t ldw) {
  float sums[UPDATE_CHUNK];
  for (size_t j = 0; j < n; j++) {
    float *weights = w + j * ldw;
    for (size_t p0 = 0; p0 < k; p0 += UPDATE_CHUNK) {
      const size_t len = k - p0 < UPDATE_CHUNK ? k - p0 : UPDATE_CHUNK;
      for (size_t p = 0; p < len; p++) sums[p] = 0.0f;
      for (size_t i = 0; i < m; i++) {
        const float delta = d[i * ldd + j];
        const float *inputs = a + i * lda + p0;
        for (size_t p = 0; p < len; p++) sums[p] += delta * inputs[p];
      }
      for (size_t p = 0; p < len; p++) weights[p0 + p] += alpha * sums[p];
    }
  }
}

static void portable_sigmoid(float *x, size_t n) {
  for (size_t i = 0; i < n; i++) x[i] = 1.0f / (1.0f + expf(-x[i]));
}

static void portable_sigmoid_backward(float *d, const float *a, size_t n) {
  for (size_t i = 0; i < n; i++) d[i] *= a[i] * (1.0f - a[i]);
}

static void portable_scale_bytes(float *dst, const uint8_t *src, size_t n) {
  for (size_t i = 0; i < n; i++) dst[i] = (float)src[i] / 255.0f;
}

static const hdrnn_kernels portable_kernels = {
    "portable",        portable_forward, portable_backward,
    portable_update,   portable_sigmoid, portable_sigmoid_backward,
    portable_scale_bytes};

const hdrnn_kernels *hdrnn_kernels_portable_table(void) {
  return &portable_kernels;
}
