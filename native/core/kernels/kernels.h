/*
 * kernels.h - the matrix kernels every instruction set provides.
 *
 * The network code only ever calls these through a table, so NEON, AVX2 and
 * the portable C versions slot in without touching it. Every kernel is tested
 * against a plain reference in double (native/tests/test_kernels.c).
 *
 * Determinism contract (what lets results not depend on the thread count):
 * the network splits work between threads by output rows/columns and calls a
 * kernel on each part. So the value of every output element must depend only
 * on the operands of that element, never on where the part starts, on m or n,
 * or on how the kernel tiles. In practice: each element's sum runs over p in
 * one fixed order with one fixed vector width (tails included), whatever its
 * position. Pointers need not be aligned; leading dimensions (ld*) are in
 * floats and may be any value >= the row length.
 */
#ifndef HDRNN_KERNELS_H
#define HDRNN_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "hdrnn.h"

struct hdrnn_kernels {
  const char *name;

  /*
   * Forward pass of a layer for a batch:
   *   c[i*ldc + j] = (sum_{p<k} a[i*lda + p] * b[j*ldb + p]) + bias[j]
   * for i < m (batch rows), j < n (neurons), with b the weights [out][in].
   */
  void (*forward)(size_t m, size_t n, size_t k, const float *a, size_t lda,
                  const float *b, size_t ldb, const float *bias, float *c,
                  size_t ldc);

  /*
   * Deltas carried back through a layer's weights:
   *   c[i*ldc + j] = sum_{p<k} a[i*lda + p] * b[p*ldb + j]
   * for i < m (batch rows), j < n (neurons of the previous layer), with a the
   * deltas [batch][out] and b the weights [out][in] (p runs over out).
   */
  void (*backward)(size_t m, size_t n, size_t k, const float *a, size_t lda,
                   const float *b, size_t ldb, float *c, size_t ldc);

  /*
   * SGD step of a weight matrix, gradients summed over the batch first:
   *   w[j*ldw + p] += alpha * (sum_{i<m} d[i*ldd + j] * a[i*lda + p])
   * for j < n (neurons), p < k (inputs), the sum over i in order 0..m-1.
   * With alpha = -eta/B this is exactly the seed's update.
   */
  void (*update)(size_t m, size_t n, size_t k, float alpha, const float *d,
                 size_t ldd, const float *a, size_t lda, float *w, size_t ldw);

  /* x[i] = 1 / (1 + exp(-x[i])), i < n. Saturates to 0 and 1, never NaN for finite x. */
  void (*sigmoid)(float *x, size_t n);

  /* d[i] *= a[i] * (1 - a[i]): the derivative of the sigmoid from its output. */
  void (*sigmoid_backward)(float *d, const float *a, size_t n);

  /* dst[i] = (float)src[i] / 255.0f exactly (correctly rounded division). */
  void (*scale_bytes)(float *dst, const uint8_t *src, size_t n);
};

/* One table per instruction set; NULL where this build has none. */
const hdrnn_kernels *hdrnn_kernels_portable_table(void);
const hdrnn_kernels *hdrnn_kernels_avx2_table(void);
const hdrnn_kernels *hdrnn_kernels_avx512_table(void);
const hdrnn_kernels *hdrnn_kernels_neon_table(void);   /* armv7 (kernels_neon.c) */
const hdrnn_kernels *hdrnn_kernels_neon64_table(void); /* aarch64 (kernels_neon64.c) */

/* Run-time CPU checks (cpuid/xgetbv on x86, getauxval on Arm Linux). */
int hdrnn_cpu_has_avx2_fma(void);
int hdrnn_cpu_has_avx512f(void);
int hdrnn_cpu_has_neon(void);

#endif /* HDRNN_KERNELS_H */
