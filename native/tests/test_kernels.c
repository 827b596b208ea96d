/*
 * test_kernels.c - every kernel of every table this CPU can run (portable
 * always; avx2, avx512 and neon when hdrnn_kernels_find says so), against plain
 * references computed in double, in the manner of XNNPACK's kernel tests.
 *
 *   test_kernels           run the tests (exit code 0 when all pass)
 *   test_kernels --bench   micro-benchmark: GFLOP/s of forward and update
 *   options: --table NAME (only that table), --seed N, --seconds S (bench)
 *
 * What is checked, for each table:
 *   - matrix kernels on a grid of sizes (m, n, k from the lists below, which
 *     include 1, odd sizes, sizes around a vector width and 784) and on random
 *     sizes, with leading dimensions larger than the rows, arrays starting at
 *     odd float offsets, and outputs pre-filled with a NaN: every output
 *     element must be written and within tolerance, and nothing else (row
 *     padding between n and ld, guards before and after) may change. Inputs
 *     are checked unchanged, and input padding is NaN too, so a kernel that
 *     uses a value it should not read produces a NaN and fails.
 *   - the determinism contract of kernels.h: the result computed in column
 *     slices (split at a multiple of 8 and at odd places), in row slices, one
 *     element at a time, and with other alignments and leading dimensions, is
 *     bit-identical to one whole call.
 *   - sigmoid over a sweep of the whole float range plus special values
 *     (0, -0, denormals, +-100, +-1e30, +-FLT_MAX, +-inf, NaN);
 *     sigmoid_backward; scale_bytes exactly (float)v / 255.0f for all 256 v.
 *
 * Tolerances (u = FLT_EPSILON / 2, the unit roundoff of float). The kernels
 * may sum in any fixed order, with or without fused multiply-add, so the
 * bounds are the classical worst-case ones for any order of summation
 * (Higham, "Accuracy and Stability of Numerical Algorithms", 3.1): a sum of
 * N terms computed in floating point, each term reaching the result through
 * at most N roundings (its product, then up to N-1 additions), is off by at
 * most gamma_N * sum|terms|, gamma_N = N u / (1 - N u) < (N + 1) u here
 * (N u < 1e-3). The reference itself, in double, is exact to ~1e-16
 * relative, negligible. Each operation may also lose up to FLT_MIN in
 * absolute terms if its result underflows (NEON on armv7 flushes denormals
 * to zero), hence the "+ N * FLT_MIN" terms, which are far below any value
 * the tests produce otherwise.
 *   forward   c = sum_{p<k} a b + bias: k+1 terms,
 *             tol = (k + 2) u (sum|a b| + |bias|) + (k + 2) FLT_MIN
 *   backward  c = sum_{p<k} a b: k terms,
 *             tol = (k + 1) u sum|a b| + (k + 1) FLT_MIN
 *   update    w' = w + alpha * sum_{i<m} d a: the sum has m terms (gamma_m),
 *             then one rounding for alpha * s and one for the addition,
 *             tol = (m + 3) u (|w| + |alpha| sum|d a|) + (m + 3) FLT_MIN
 *   sigmoid   tol = 8 FLT_EPSILON |ref| + 2 FLT_MIN (16 ulp): exp itself is
 *             ~1-2 ulp (libm expf, or the Cephes polynomial of the SIMD
 *             kernels), then 1 + e and the division (one rounding each, or a
 *             Newton reciprocal of ~2 ulp on armv7 NEON, which has no
 *             division). 2 FLT_MIN absolute: where sigmoid(x) < 2^-126 (x below
 *             about -87.3) a kernel may return 0 ("saturates to 0"), an
 *             error of up to FLT_MIN; twice that keeps the boundary clear
 *             of the tolerance. The test prints the
 *             largest error seen in ulps, typically 1-3.
 *             Exact: sigmoid(x) is 1 for x >= 100, 0 for x <= -1e30; no NaN
 *             unless the input is NaN; NaN gives NaN; results lie in [0, 1].
 *   sigmoid_backward  d * (a * (1 - a)): three roundings (1 - a, the
 *             product, the product with d), tol = 4 u |ref| + FLT_MIN.
 *   scale_bytes  exact: bit-identical to (float)v / 255.0f.
 */
#define _POSIX_C_SOURCE 200809L

#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels.h"

/* ------------------------------------------------------------------ helpers */

#define GUARD 19        /* floats of NaN after every array */
#define MAX_PRINTED 25  /* failures printed per table */
#define U_ROUND (FLT_EPSILON / 2.0)

static const uint32_t NAN_BITS = 0x7fc0dead; /* the fill: a quiet NaN with a payload */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng_next(void) { /* splitmix64 */
  uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static size_t rng_below(size_t n) { return (size_t)(rng_next() % n); }

/* Uniform in [-1, 1). */
static float rng_float(void) { return (float)((double)(rng_next() >> 40) / 8388608.0 - 1.0); }

static uint32_t float_bits(float f) {
  uint32_t b;
  memcpy(&b, &f, sizeof b);
  return b;
}

static float bits_float(uint32_t b) {
  float f;
  memcpy(&f, &b, sizeof f);
  return f;
}

static int is_fill(float f) { return float_bits(f) == NAN_BITS; }

/* Per-table results. */
typedef struct table_stats {
  const char *table;
  unsigned long checks, failures;
  double worst[6];     /* largest |error| / tolerance seen, per kernel */
  double sigmoid_ulps; /* largest sigmoid error in ulps of the reference */
} table_stats;

enum { K_FORWARD, K_BACKWARD, K_UPDATE, K_SIGMOID, K_SIGMOID_BACKWARD, K_SCALE };
static const char *const kernel_names[6] = {"forward", "backward", "update",
                                            "sigmoid", "sigmoid_backward", "scale_bytes"};

static table_stats *st;

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static int check(int ok, const char *format, ...) {
  st->checks++;
  if (ok) return 1;
  st->failures++;
  if (st->failures <= MAX_PRINTED) {
    va_list args;
    va_start(args, format);
    printf("FAIL [%s] ", st->table);
    vprintf(format, args);
    putchar('\n');
    va_end(args);
  } else if (st->failures == MAX_PRINTED + 1) {
    printf("FAIL [%s] (further failures not printed)\n", st->table);
  }
  return 0;
}

/* Compares got with ref within tol; records the worst ratio. */
static int check_value(int kernel, float got, double ref, double tol, const char *what,
                       size_t m, size_t n, size_t k, size_t i, size_t j) {
  const double err = fabs((double)got - ref);
  if (err == err && tol > 0 && err / tol > st->worst[kernel]) st->worst[kernel] = err / tol;
  return check(err <= tol, "%s %s m=%zu n=%zu k=%zu at (%zu,%zu): got %.9g, want %.9g, "
               "|err| %.3g > tol %.3g",
               kernel_names[kernel], what, m, n, k, i, j, (double)got, ref, err, tol);
}

/* An array of len floats starting off floats into a 64-byte aligned block,
 * everything (the off floats before, padding, GUARD after) filled with NaN. */
typedef struct fbuf {
  float *base, *p;
  size_t total;
} fbuf;

static fbuf fbuf_new(size_t len, size_t off) {
  fbuf b;
  void *mem = NULL;
  b.total = off + len + GUARD;
  if (posix_memalign(&mem, 64, b.total * sizeof(float)) != 0) {
    fprintf(stderr, "out of memory\n");
    exit(2);
  }
  b.base = mem;
  b.p = b.base + off;
  for (size_t i = 0; i < b.total; i++) b.base[i] = bits_float(NAN_BITS);
  return b;
}

static void fbuf_free(fbuf *b) { free(b->base); }

/* A copy of the whole block, at the same offset. */
static fbuf fbuf_clone(const fbuf *src) {
  const size_t off = (size_t)(src->p - src->base);
  fbuf b = fbuf_new(src->total - off - GUARD, off);
  memcpy(b.base, src->base, src->total * sizeof(float));
  return b;
}

/* A matrix of rows x cols with leading dimension ld in a fresh buffer. */
static fbuf mat_new(size_t rows, size_t cols, size_t ld, size_t off) {
  return fbuf_new(rows > 0 ? (rows - 1) * ld + cols : 0, off);
}

static void mat_fill_random(float *p, size_t rows, size_t cols, size_t ld) {
  for (size_t i = 0; i < rows; i++)
    for (size_t j = 0; j < cols; j++) p[i * ld + j] = rng_float();
}

static void mat_copy(float *dst, size_t ldd, const float *src, size_t lds, size_t rows,
                     size_t cols) {
  for (size_t i = 0; i < rows; i++) memcpy(dst + i * ldd, src + i * lds, cols * sizeof(float));
}

/* Same bits as a plain copy of the whole block. */
static int fbuf_same(const fbuf *a, const fbuf *b) {
  return a->total == b->total && memcmp(a->base, b->base, a->total * sizeof(float)) == 0;
}

/* Everything of the block outside the rows x cols matrix at p is still the fill. */
static int check_untouched(const fbuf *b, size_t rows, size_t cols, size_t ld, const char *what,
                           int kernel, size_t m, size_t n, size_t k) {
  const size_t off = (size_t)(b->p - b->base);
  for (size_t x = 0; x < b->total; x++) {
    int inside = 0;
    if (x >= off && rows > 0 && ld > 0) {
      const size_t e = x - off, i = e / ld, j = e % ld;
      inside = i < rows && j < cols;
    }
    if (!inside && !is_fill(b->base[x]))
      return check(0, "%s %s m=%zu n=%zu k=%zu: wrote outside the matrix at offset %ld "
                   "(row %ld, col %ld of ld %zu)",
                   kernel_names[kernel], what, m, n, k, (long)x - (long)off,
                   ((long)x - (long)off) / (long)ld, ((long)x - (long)off) % (long)ld, ld);
  }
  return check(1, "%s", "");
}

/* Two outputs hold the same bits element by element (layouts may differ). */
static int check_same_bits(const float *x, size_t ldx, const float *y, size_t ldy, size_t rows,
                           size_t cols, const char *what, int kernel, size_t m, size_t n,
                           size_t k) {
  for (size_t i = 0; i < rows; i++)
    for (size_t j = 0; j < cols; j++)
      if (float_bits(x[i * ldx + j]) != float_bits(y[i * ldy + j]))
        return check(0, "%s determinism (%s) m=%zu n=%zu k=%zu at (%zu,%zu): %.9g vs %.9g",
                     kernel_names[kernel], what, m, n, k, i, j, (double)x[i * ldx + j],
                     (double)y[i * ldy + j]);
  return check(1, "%s", "");
}

static size_t pick_ld(size_t cols) {
  return rng_below(3) == 0 ? cols : cols + 1 + rng_below(9);
}

static size_t pick_off(void) { return 1 + 2 * rng_below(8); } /* odd: never 8-byte aligned */

/* A split point in [1, n): odd places and multiples of 8. */
static size_t pick_split(size_t n, int aligned) {
  if (n < 2) return 0;
  if (aligned && n > 8) return 8 * (1 + rng_below((n - 1) / 8));
  return 1 + rng_below(n - 1);
}

/* ------------------------------------------------------------------ forward */

static void test_forward(const hdrnn_kernels *K, size_t m, size_t n, size_t k) {
  const size_t lda = pick_ld(k), ldb = pick_ld(k), ldc = pick_ld(n);
  fbuf A = mat_new(m, k, lda, pick_off()), B = mat_new(n, k, ldb, pick_off());
  fbuf bias = fbuf_new(n, pick_off()), C = mat_new(m, n, ldc, pick_off());
  mat_fill_random(A.p, m, k, lda);
  mat_fill_random(B.p, n, k, ldb);
  mat_fill_random(bias.p, 1, n, n);
  fbuf A0 = fbuf_clone(&A), B0 = fbuf_clone(&B), bias0 = fbuf_clone(&bias);

  K->forward(m, n, k, A.p, lda, B.p, ldb, bias.p, C.p, ldc);

  int ok = 1;
  for (size_t i = 0; i < m && ok; i++)
    for (size_t j = 0; j < n && ok; j++) {
      double sum = bias.p[j], mag = fabs((double)bias.p[j]);
      for (size_t p = 0; p < k; p++) {
        const double t = (double)A.p[i * lda + p] * (double)B.p[j * ldb + p];
        sum += t;
        mag += fabs(t);
      }
      const double tol = (double)(k + 2) * U_ROUND * mag + (double)(k + 2) * FLT_MIN;
      ok = check_value(K_FORWARD, C.p[i * ldc + j], sum, tol, "value", m, n, k, i, j);
    }
  check_untouched(&C, m, n, ldc, "output", K_FORWARD, m, n, k);
  check(memcmp(A.base, A0.base, A.total * sizeof(float)) == 0 &&
            memcmp(B.base, B0.base, B.total * sizeof(float)) == 0 &&
            memcmp(bias.base, bias0.base, bias.total * sizeof(float)) == 0,
        "forward m=%zu n=%zu k=%zu changed an input", m, n, k);

  /* Column slices, at a multiple of 8 and at an odd place. */
  for (int aligned = 0; aligned < 2; aligned++) {
    const size_t s = pick_split(n, aligned);
    if (s == 0) continue;
    fbuf C2 = mat_new(m, n, ldc, (size_t)(C.p - C.base));
    K->forward(m, s, k, A.p, lda, B.p, ldb, bias.p, C2.p, ldc);
    K->forward(m, n - s, k, A.p, lda, B.p + s * ldb, ldb, bias.p + s, C2.p + s, ldc);
    check(fbuf_same(&C, &C2), "forward determinism: m=%zu n=%zu k=%zu split at column %zu "
          "differs from one call", m, n, k, s);
    fbuf_free(&C2);
  }
  /* Row slices. */
  if (m > 1) {
    const size_t r = pick_split(m, 0);
    fbuf C2 = mat_new(m, n, ldc, (size_t)(C.p - C.base));
    K->forward(r, n, k, A.p, lda, B.p, ldb, bias.p, C2.p, ldc);
    K->forward(m - r, n, k, A.p + r * lda, lda, B.p, ldb, bias.p, C2.p + r * ldc, ldc);
    check(fbuf_same(&C, &C2), "forward determinism: m=%zu n=%zu k=%zu split at row %zu "
          "differs from one call", m, n, k, r);
    fbuf_free(&C2);
  }
  /* Other alignment (64-byte aligned, or another odd offset) and leading dimensions. */
  {
    const size_t lda2 = pick_ld(k), ldb2 = pick_ld(k), ldc2 = pick_ld(n);
    const size_t off = rng_below(2) ? 0 : pick_off();
    fbuf A2 = mat_new(m, k, lda2, off), B2 = mat_new(n, k, ldb2, off);
    fbuf bias2 = fbuf_new(n, off), C2 = mat_new(m, n, ldc2, off);
    mat_copy(A2.p, lda2, A.p, lda, m, k);
    mat_copy(B2.p, ldb2, B.p, ldb, n, k);
    memcpy(bias2.p, bias.p, n * sizeof(float));
    K->forward(m, n, k, A2.p, lda2, B2.p, ldb2, bias2.p, C2.p, ldc2);
    check_same_bits(C.p, ldc, C2.p, ldc2, m, n, "other alignment and ld", K_FORWARD, m, n, k);
    fbuf_free(&A2), fbuf_free(&B2), fbuf_free(&bias2), fbuf_free(&C2);
  }
  /* Single elements. */
  for (int t = 0; t < 3; t++) {
    const size_t i = rng_below(m), j = rng_below(n);
    float out[3] = {bits_float(NAN_BITS), bits_float(NAN_BITS), bits_float(NAN_BITS)};
    K->forward(1, 1, k, A.p + i * lda, lda, B.p + j * ldb, ldb, bias.p + j, out + 1, 1);
    check(float_bits(out[1]) == float_bits(C.p[i * ldc + j]) && is_fill(out[0]) &&
              is_fill(out[2]),
          "forward determinism: m=%zu n=%zu k=%zu element (%zu,%zu) alone gives %.9g, "
          "in the whole call %.9g", m, n, k, i, j, (double)out[1], (double)C.p[i * ldc + j]);
  }
  fbuf_free(&A), fbuf_free(&B), fbuf_free(&bias), fbuf_free(&C);
  fbuf_free(&A0), fbuf_free(&B0), fbuf_free(&bias0);
}

/* ----------------------------------------------------------------- backward */

static void test_backward(const hdrnn_kernels *K, size_t m, size_t n, size_t k) {
  const size_t lda = pick_ld(k), ldb = pick_ld(n), ldc = pick_ld(n);
  fbuf A = mat_new(m, k, lda, pick_off()), B = mat_new(k, n, ldb, pick_off());
  fbuf C = mat_new(m, n, ldc, pick_off());
  mat_fill_random(A.p, m, k, lda);
  mat_fill_random(B.p, k, n, ldb);
  fbuf A0 = fbuf_clone(&A), B0 = fbuf_clone(&B);

  K->backward(m, n, k, A.p, lda, B.p, ldb, C.p, ldc);

  int ok = 1;
  for (size_t i = 0; i < m && ok; i++)
    for (size_t j = 0; j < n && ok; j++) {
      double sum = 0.0, mag = 0.0;
      for (size_t p = 0; p < k; p++) {
        const double t = (double)A.p[i * lda + p] * (double)B.p[p * ldb + j];
        sum += t;
        mag += fabs(t);
      }
      const double tol = (double)(k + 1) * U_ROUND * mag + (double)(k + 1) * FLT_MIN;
      ok = check_value(K_BACKWARD, C.p[i * ldc + j], sum, tol, "value", m, n, k, i, j);
    }
  check_untouched(&C, m, n, ldc, "output", K_BACKWARD, m, n, k);
  check(memcmp(A.base, A0.base, A.total * sizeof(float)) == 0 &&
            memcmp(B.base, B0.base, B.total * sizeof(float)) == 0,
        "backward m=%zu n=%zu k=%zu changed an input", m, n, k);

  for (int aligned = 0; aligned < 2; aligned++) {
    const size_t s = pick_split(n, aligned);
    if (s == 0) continue;
    fbuf C2 = mat_new(m, n, ldc, (size_t)(C.p - C.base));
    K->backward(m, s, k, A.p, lda, B.p, ldb, C2.p, ldc);
    K->backward(m, n - s, k, A.p, lda, B.p + s, ldb, C2.p + s, ldc);
    check(fbuf_same(&C, &C2), "backward determinism: m=%zu n=%zu k=%zu split at column %zu "
          "differs from one call", m, n, k, s);
    fbuf_free(&C2);
  }
  if (m > 1) {
    const size_t r = pick_split(m, 0);
    fbuf C2 = mat_new(m, n, ldc, (size_t)(C.p - C.base));
    K->backward(r, n, k, A.p, lda, B.p, ldb, C2.p, ldc);
    K->backward(m - r, n, k, A.p + r * lda, lda, B.p, ldb, C2.p + r * ldc, ldc);
    check(fbuf_same(&C, &C2), "backward determinism: m=%zu n=%zu k=%zu split at row %zu "
          "differs from one call", m, n, k, r);
    fbuf_free(&C2);
  }
  {
    const size_t lda2 = pick_ld(k), ldb2 = pick_ld(n), ldc2 = pick_ld(n);
    const size_t off = rng_below(2) ? 0 : pick_off();
    fbuf A2 = mat_new(m, k, lda2, off), B2 = mat_new(k, n, ldb2, off);
    fbuf C2 = mat_new(m, n, ldc2, off);
    mat_copy(A2.p, lda2, A.p, lda, m, k);
    mat_copy(B2.p, ldb2, B.p, ldb, k, n);
    K->backward(m, n, k, A2.p, lda2, B2.p, ldb2, C2.p, ldc2);
    check_same_bits(C.p, ldc, C2.p, ldc2, m, n, "other alignment and ld", K_BACKWARD, m, n, k);
    fbuf_free(&A2), fbuf_free(&B2), fbuf_free(&C2);
  }
  for (int t = 0; t < 3; t++) {
    const size_t i = rng_below(m), j = rng_below(n);
    float out[3] = {bits_float(NAN_BITS), bits_float(NAN_BITS), bits_float(NAN_BITS)};
    K->backward(1, 1, k, A.p + i * lda, lda, B.p + j, ldb, out + 1, 1);
    check(float_bits(out[1]) == float_bits(C.p[i * ldc + j]) && is_fill(out[0]) &&
              is_fill(out[2]),
          "backward determinism: m=%zu n=%zu k=%zu element (%zu,%zu) alone gives %.9g, "
          "in the whole call %.9g", m, n, k, i, j, (double)out[1], (double)C.p[i * ldc + j]);
  }
  fbuf_free(&A), fbuf_free(&B), fbuf_free(&C), fbuf_free(&A0), fbuf_free(&B0);
}

/* ------------------------------------------------------------------ update */

static void test_update(const hdrnn_kernels *K, size_t m, size_t n, size_t k) {
  const size_t ldd = pick_ld(n), lda = pick_ld(k), ldw = pick_ld(k);
  const float alpha = -3.0f / (float)m * (0.5f + 0.5f * fabsf(rng_float()));
  fbuf D = mat_new(m, n, ldd, pick_off()), A = mat_new(m, k, lda, pick_off());
  fbuf W = mat_new(n, k, ldw, pick_off());
  mat_fill_random(D.p, m, n, ldd);
  mat_fill_random(A.p, m, k, lda);
  mat_fill_random(W.p, n, k, ldw);
  fbuf W0 = fbuf_clone(&W), D0 = fbuf_clone(&D), A0 = fbuf_clone(&A);

  K->update(m, n, k, alpha, D.p, ldd, A.p, lda, W.p, ldw);

  int ok = 1;
  for (size_t j = 0; j < n && ok; j++)
    for (size_t p = 0; p < k && ok; p++) {
      double sum = 0.0, mag = 0.0;
      for (size_t i = 0; i < m; i++) {
        const double t = (double)D.p[i * ldd + j] * (double)A.p[i * lda + p];
        sum += t;
        mag += fabs(t);
      }
      const double w = W0.p[j * ldw + p];
      const double ref = w + (double)alpha * sum;
      const double tol = (double)(m + 3) * U_ROUND * (fabs(w) + fabs((double)alpha) * mag) +
                         (double)(m + 3) * FLT_MIN;
      ok = check_value(K_UPDATE, W.p[j * ldw + p], ref, tol, "value", m, n, k, j, p);
    }
  check_untouched(&W, n, k, ldw, "weights", K_UPDATE, m, n, k);
  check(memcmp(D.base, D0.base, D.total * sizeof(float)) == 0 &&
            memcmp(A.base, A0.base, A.total * sizeof(float)) == 0,
        "update m=%zu n=%zu k=%zu changed an input", m, n, k);

  /* Column slices (inputs p, as train.c splits), at 8s and odd places. */
  for (int aligned = 0; aligned < 2; aligned++) {
    const size_t s = pick_split(k, aligned);
    if (s == 0) continue;
    fbuf W2 = fbuf_clone(&W0);
    K->update(m, n, s, alpha, D.p, ldd, A.p, lda, W2.p, ldw);
    K->update(m, n, k - s, alpha, D.p, ldd, A.p + s, lda, W2.p + s, ldw);
    check(fbuf_same(&W, &W2), "update determinism: m=%zu n=%zu k=%zu split at input %zu "
          "differs from one call", m, n, k, s);
    fbuf_free(&W2);
  }
  /* Neuron slices. */
  if (n > 1) {
    const size_t s = pick_split(n, 0);
    fbuf W2 = fbuf_clone(&W0);
    K->update(m, s, k, alpha, D.p, ldd, A.p, lda, W2.p, ldw);
    K->update(m, n - s, k, alpha, D.p + s, ldd, A.p, lda, W2.p + s * ldw, ldw);
    check(fbuf_same(&W, &W2), "update determinism: m=%zu n=%zu k=%zu split at neuron %zu "
          "differs from one call", m, n, k, s);
    fbuf_free(&W2);
  }
  {
    const size_t ldd2 = pick_ld(n), lda2 = pick_ld(k), ldw2 = pick_ld(k);
    const size_t off = rng_below(2) ? 0 : pick_off();
    fbuf D2 = mat_new(m, n, ldd2, off), A2 = mat_new(m, k, lda2, off);
    fbuf W2 = mat_new(n, k, ldw2, off);
    mat_copy(D2.p, ldd2, D.p, ldd, m, n);
    mat_copy(A2.p, lda2, A.p, lda, m, k);
    mat_copy(W2.p, ldw2, W0.p, ldw, n, k);
    K->update(m, n, k, alpha, D2.p, ldd2, A2.p, lda2, W2.p, ldw2);
    check_same_bits(W.p, ldw, W2.p, ldw2, n, k, "other alignment and ld", K_UPDATE, m, n, k);
    fbuf_free(&D2), fbuf_free(&A2), fbuf_free(&W2);
  }
  for (int t = 0; t < 3; t++) {
    const size_t j = rng_below(n), p = rng_below(k);
    float w[3] = {bits_float(NAN_BITS), W0.p[j * ldw + p],
                  bits_float(NAN_BITS)};
    K->update(m, 1, 1, alpha, D.p + j, ldd, A.p + p, lda, w + 1, 1);
    check(float_bits(w[1]) == float_bits(W.p[j * ldw + p]) && is_fill(w[0]) && is_fill(w[2]),
          "update determinism: m=%zu n=%zu k=%zu element (%zu,%zu) alone gives %.9g, "
          "in the whole call %.9g", m, n, k, j, p, (double)w[1], (double)W.p[j * ldw + p]);
  }
  fbuf_free(&D), fbuf_free(&A), fbuf_free(&W), fbuf_free(&W0), fbuf_free(&D0), fbuf_free(&A0);
}

/* ----------------------------------------------------- element-wise kernels */

static double ulps_of(float got, double ref) {
  const double r = fabs(ref);
  if (r < FLT_MIN) return fabs((double)got - ref) / ((double)FLT_MIN * FLT_EPSILON);
  int e;
  frexp(r, &e);                                /* r in [2^(e-1), 2^e) */
  return fabs((double)got - ref) / ldexp(1.0, e - 24); /* ulp of a float in that binade */
}

static void check_sigmoid_value(float x, float got) {
  if (x != x) {
    check(got != got, "sigmoid(NaN) = %.9g, want NaN", (double)got);
    return;
  }
  const double ref = 1.0 / (1.0 + exp(-(double)x));
  const double tol = 8.0 * FLT_EPSILON * ref + 2.0 * FLT_MIN;
  if (!check(got == got && got >= 0.0f && got <= 1.0f,
             "sigmoid(%.9g) = %.9g: not in [0, 1]", (double)x, (double)got))
    return;
  if (ref >= FLT_MIN) {
    const double u = ulps_of(got, ref);
    if (u > st->sigmoid_ulps) st->sigmoid_ulps = u;
  }
  check_value(K_SIGMOID, got, ref, tol, "value", 1, 1, 0, 0, 0);
  if (x >= 100.0f) check(got == 1.0f, "sigmoid(%.9g) = %.9g, want exactly 1", (double)x, (double)got);
  if (x <= -1e30f) check(got == 0.0f, "sigmoid(%.9g) = %.9g, want exactly 0", (double)x, (double)got);
}

static void test_sigmoid(const hdrnn_kernels *K) {
  static const float specials[] = {
      0.0f, -0.0f, 1e-45f, -1e-45f, 1e-40f, -1e-40f, FLT_MIN, -FLT_MIN, 1e-10f, -1e-10f,
      0.5f, -0.5f, 1.0f, -1.0f, 2.0f, -2.0f, 8.0f, -8.0f, 15.9f, -15.9f, 16.7f, -16.7f,
      17.0f, -17.0f, 20.0f, -20.0f, 30.0f, -30.0f, 80.0f, -80.0f, 87.0f, -87.0f, 87.3f,
      -87.3f, 87.4f, -87.4f, 88.0f, -88.0f, 88.72f, -88.72f, 89.0f, -89.0f, 100.0f, -100.0f,
      103.0f, -103.0f, 104.0f, -104.0f, 1e10f, -1e10f, 1e30f, -1e30f, FLT_MAX, -FLT_MAX,
      INFINITY, -INFINITY, NAN, -NAN};
  const size_t ns = sizeof specials / sizeof specials[0];
  /* 1. Special values, each alone and at every position of a vector. */
  for (size_t s = 0; s < ns; s++) {
    float x = specials[s];
    K->sigmoid(&x, 1);
    check_sigmoid_value(specials[s], x);
  }
  {
    fbuf xs = fbuf_new(ns, pick_off());
    memcpy(xs.p, specials, sizeof specials);
    K->sigmoid(xs.p, ns);
    for (size_t s = 0; s < ns; s++) check_sigmoid_value(specials[s], xs.p[s]);
    check_untouched(&xs, 1, ns, ns, "specials", K_SIGMOID, 1, ns, 0);
    fbuf_free(&xs);
  }
  /* 2. A sweep over every 4099th float bit pattern (all signs and exponents,
   *    incl. denormals, infinities and NaNs), in vectors of random lengths
   *    at random offsets; then the same values one slice at a time must give
   *    the same bits (determinism). */
  const size_t total = (size_t)(4294967296.0 / 4099.0) + 1;
  const size_t chunk = 1000;
  float *in = malloc(chunk * sizeof(float));
  for (size_t start = 0; start < total; start += chunk) {
    const size_t len = total - start < chunk ? total - start : chunk;
    for (size_t i = 0; i < len; i++) in[i] = bits_float((uint32_t)((start + i) * 4099u));
    fbuf xs = fbuf_new(len, pick_off()), ys = fbuf_new(len, pick_off());
    memcpy(xs.p, in, len * sizeof(float));
    memcpy(ys.p, in, len * sizeof(float));
    K->sigmoid(xs.p, len);
    for (size_t i = 0; i < len; i++) check_sigmoid_value(in[i], xs.p[i]);
    check_untouched(&xs, 1, len, len, "sweep", K_SIGMOID, 1, len, 0);
    for (size_t i = 0; i < len;) {
      const size_t piece = 1 + rng_below(len - i < 37 ? len - i : 37);
      K->sigmoid(ys.p + i, piece);
      i += piece;
    }
    for (size_t i = 0; i < len; i++)
      if (!check(float_bits(xs.p[i]) == float_bits(ys.p[i]) || (xs.p[i] != xs.p[i] && ys.p[i] != ys.p[i]),
                 "sigmoid determinism: sigmoid(%.9g) gives %.9g in one call, %.9g in slices",
                 (double)in[i], (double)xs.p[i], (double)ys.p[i]))
        break;
    fbuf_free(&xs), fbuf_free(&ys);
  }
  /* 3. Dense over [-110, 110], where the values matter. */
  for (int rep = 0; rep < 200; rep++) {
    const size_t len = 1 + rng_below(600);
    fbuf xs = fbuf_new(len, pick_off());
    for (size_t i = 0; i < len; i++) in[i] = xs.p[i] = 110.0f * rng_float() * (rep % 2 ? 1.0f : 0.1f);
    K->sigmoid(xs.p, len);
    for (size_t i = 0; i < len; i++) check_sigmoid_value(in[i], xs.p[i]);
    check_untouched(&xs, 1, len, len, "dense", K_SIGMOID, 1, len, 0);
    fbuf_free(&xs);
  }
  K->sigmoid(NULL, 0); /* n = 0 must not touch memory */
  free(in);
}

static void test_sigmoid_backward(const hdrnn_kernels *K) {
  for (int rep = 0; rep < 300; rep++) {
    const size_t len = rep < 40 ? (size_t)rep : 1 + rng_below(rep % 10 == 0 ? 2000 : 100);
    fbuf D = fbuf_new(len, pick_off()), A = fbuf_new(len, pick_off());
    fbuf D2 = fbuf_new(len, pick_off());
    float *d0 = malloc((len + 1) * sizeof(float));
    for (size_t i = 0; i < len; i++) {
      const size_t kind = rng_below(10);
      A.p[i] = kind == 0 ? 0.0f : kind == 1 ? 1.0f : kind == 2 ? 1e-30f : kind == 3 ? 1.0f - 6e-8f
                                                                         : 0.5f * (rng_float() + 1.0f);
      D.p[i] = d0[i] = 2.0f * rng_float();
      D2.p[i] = D.p[i];
    }
    K->sigmoid_backward(D.p, A.p, len);
    for (size_t i = 0; i < len; i++) {
      const double ref = (double)d0[i] * (double)A.p[i] * (1.0 - (double)A.p[i]);
      const double tol = 4.0 * U_ROUND * fabs(ref) + FLT_MIN;
      if (!check_value(K_SIGMOID_BACKWARD, D.p[i], ref, tol, "value", 1, len, 0, 0, i)) break;
    }
    check_untouched(&D, 1, len, len, "d", K_SIGMOID_BACKWARD, 1, len, 0);
    check_untouched(&A, 1, len, len, "a", K_SIGMOID_BACKWARD, 1, len, 0);
    for (size_t i = 0; i < len;) {
      const size_t piece = 1 + rng_below(len - i < 21 ? len - i : 21);
      K->sigmoid_backward(D2.p + i, A.p + i, piece);
      i += piece;
    }
    check_same_bits(D.p, len, D2.p, len, 1, len, "slices", K_SIGMOID_BACKWARD, 1, len, 0);
    fbuf_free(&D), fbuf_free(&A), fbuf_free(&D2);
    free(d0);
  }
}

static void test_scale_bytes(const hdrnn_kernels *K) {
  float expect[256];
  for (int v = 0; v < 256; v++) {
    volatile float f = (float)v, q = f / 255.0f; /* the correctly rounded float division */
    expect[v] = q;
    /* v/255 has a period-8 binary expansion, so rounding the double quotient
     * to float cannot suffer double rounding: a second, independent reference. */
    check(float_bits(expect[v]) == float_bits((float)((double)v / 255.0)),
          "scale_bytes reference disagrees with itself for %d", v);
  }
  /* All 256 values, in one call and one at a time. */
  {
    uint8_t all[256 + 1];
    for (int v = 0; v < 256; v++) all[v + 1] = (uint8_t)v;
    fbuf xs = fbuf_new(256, pick_off());
    K->scale_bytes(xs.p, all + 1, 256);
    for (int v = 0; v < 256; v++) {
      float one = bits_float(NAN_BITS);
      K->scale_bytes(&one, all + 1 + v, 1);
      check(float_bits(xs.p[v]) == float_bits(expect[v]) && float_bits(one) == float_bits(expect[v]),
            "scale_bytes(%d) = %.9g (alone %.9g), want exactly %.9g", v, (double)xs.p[v],
            (double)one, (double)expect[v]);
    }
    check_untouched(&xs, 1, 256, 256, "all", K_SCALE, 1, 256, 0);
    fbuf_free(&xs);
  }
  /* Random lengths (every tail) at every byte offset, plus 784 (an image). */
  for (int rep = 0; rep < 300; rep++) {
    const size_t len = rep < 70 ? (size_t)rep : rep % 7 == 0 ? 784 : 1 + rng_below(300);
    const size_t boff = rng_below(16);
    uint8_t *bytes = malloc(len + boff + 1);
    for (size_t i = 0; i < len; i++) bytes[boff + i] = (uint8_t)rng_next();
    fbuf xs = fbuf_new(len, pick_off());
    K->scale_bytes(xs.p, bytes + boff, len);
    for (size_t i = 0; i < len; i++)
      if (!check(float_bits(xs.p[i]) == float_bits(expect[bytes[boff + i]]),
                 "scale_bytes len %zu at %zu: %d gives %.9g, want %.9g", len, i,
                 bytes[boff + i], (double)xs.p[i], (double)expect[bytes[boff + i]]))
        break;
    check_untouched(&xs, 1, len, len, "dst", K_SCALE, 1, len, 0);
    fbuf_free(&xs);
    free(bytes);
  }
}

/* Empty sizes: m = 0 or n = 0 write nothing; k = 0 is an empty sum. */
static void test_empty(const hdrnn_kernels *K) {
  fbuf A = fbuf_new(64, 1), B = fbuf_new(64, 1), C = fbuf_new(64, 1), bias = fbuf_new(4, 1);
  mat_fill_random(A.p, 1, 64, 64);
  mat_fill_random(B.p, 1, 64, 64);
  mat_fill_random(bias.p, 1, 4, 4);
  K->forward(0, 4, 5, A.p, 5, B.p, 5, bias.p, C.p, 4);
  K->forward(3, 0, 5, A.p, 5, B.p, 5, bias.p, C.p, 4);
  K->backward(0, 4, 5, A.p, 5, B.p, 4, C.p, 4);
  K->backward(3, 0, 5, A.p, 5, B.p, 4, C.p, 4);
  K->update(3, 0, 5, -0.5f, A.p, 4, B.p, 5, C.p, 5);
  K->update(3, 4, 0, -0.5f, A.p, 4, B.p, 5, C.p, 5);
  K->sigmoid(C.p, 0);
  K->sigmoid_backward(C.p, A.p, 0);
  K->scale_bytes(C.p, (const uint8_t *)A.p, 0);
  check_untouched(&C, 0, 0, 1, "empty sizes", K_FORWARD, 0, 0, 0);
  /* k = 0: forward gives the bias, backward 0; m = 0: update leaves w. */
  K->forward(2, 3, 0, A.p, 1, B.p, 1, bias.p, C.p, 3);
  int ok = 1;
  for (size_t i = 0; i < 2; i++)
    for (size_t j = 0; j < 3; j++) ok &= float_bits(C.p[i * 3 + j]) == float_bits(bias.p[j]);
  check(ok, "forward with k = 0 must give the bias");
  K->backward(2, 3, 0, A.p, 1, B.p, 3, C.p, 3);
  ok = 1;
  for (size_t x = 0; x < 6; x++) ok &= C.p[x] == 0.0f;
  check(ok, "backward with k = 0 must give 0");
  fbuf W = fbuf_new(6, 1);
  mat_fill_random(W.p, 1, 6, 6);
  fbuf W0 = fbuf_clone(&W);
  K->update(0, 2, 3, -0.5f, A.p, 2, B.p, 3, W.p, 3);
  ok = 1;
  for (size_t x = 0; x < 6; x++) ok &= W.p[x] == W0.p[x];
  check(ok, "update with m = 0 must leave the weights");
  fbuf_free(&A), fbuf_free(&B), fbuf_free(&C), fbuf_free(&bias), fbuf_free(&W), fbuf_free(&W0);
}

/* ----------------------------------------------------------------- driver */

static const size_t Ms[] = {1, 3, 10, 17, 64, 100};
static const size_t Ns[] = {1, 3, 5, 10, 16, 17, 32, 33};
static const size_t Ks[] = {1, 3, 5, 17, 32, 784};
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static int run_table(const hdrnn_kernels *K) {
  table_stats stats;
  memset(&stats, 0, sizeof stats);
  stats.table = K->name;
  st = &stats;
  for (size_t a = 0; a < COUNT(Ms); a++)
    for (size_t b = 0; b < COUNT(Ns); b++)
      for (size_t c = 0; c < COUNT(Ks); c++) {
        test_forward(K, Ms[a], Ns[b], Ks[c]);
        test_backward(K, Ms[a], Ns[b], Ks[c]);
        test_update(K, Ms[a], Ns[b], Ks[c]);
      }
  /* Random shapes, and the shapes training uses (k = 10, 32, 128, 256). */
  for (int rep = 0; rep < 60; rep++) {
    const size_t m = 1 + rng_below(rep % 4 == 0 ? 300 : 70), n = 1 + rng_below(70);
    const size_t k = rep % 3 == 0 ? 1 + rng_below(900) : 1 + rng_below(80);
    test_forward(K, m, n, k);
    test_backward(K, m, n, k);
    test_update(K, m, n, k);
  }
  static const size_t train_k[] = {10, 32, 128, 256};
  for (size_t t = 0; t < COUNT(train_k); t++) {
    test_forward(K, 10, 16, train_k[t]);
    test_backward(K, 10, 16, train_k[t]);
    test_update(K, 10, train_k[t], 392);
  }
  test_empty(K);
  test_sigmoid(K);
  test_sigmoid_backward(K);
  test_scale_bytes(K);
  printf("[%s] %s: %lu checks, %lu failed; worst error/tolerance: forward %.3f, backward %.3f, "
         "update %.3f, sigmoid %.3f (%.2f ulp), sigmoid_backward %.3f\n",
         K->name, stats.failures == 0 ? "PASS" : "FAIL", stats.checks, stats.failures,
         stats.worst[K_FORWARD], stats.worst[K_BACKWARD], stats.worst[K_UPDATE],
         stats.worst[K_SIGMOID], stats.sigmoid_ulps, stats.worst[K_SIGMOID_BACKWARD]);
  fflush(stdout);
  return stats.failures == 0;
}

/* ------------------------------------------------------------------ bench */

/* CPU time of this (single-threaded) process, not wall time: the machine may
 * be shared, and time the process spends descheduled must not count. */
static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void bench_table(const hdrnn_kernels *K, double seconds) {
  /* The seed's layer (batch 10, 32 neurons), one of two threads' half of it,
   * and larger batches and layers. */
  static const size_t shapes[][3] = {{10, 32, 784},  {10, 16, 784},  {100, 32, 784},
                                     {100, 128, 784}, {100, 256, 784}};
  for (size_t s = 0; s < COUNT(shapes); s++) {
    const size_t m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
    fbuf A = mat_new(m, k, k, 0), B = mat_new(n, k, k, 0), bias = fbuf_new(n, 0);
    fbuf C = mat_new(m, n, n, 0), D = mat_new(m, n, n, 0);
    mat_fill_random(A.p, m, k, k);
    mat_fill_random(B.p, n, k, k);
    mat_fill_random(bias.p, 1, n, n);
    mat_fill_random(D.p, m, n, n);
    double rate[2];
    for (int which = 0; which < 2; which++) {
      /* Best of 5 timed runs: the machine may be shared, so the best is the
       * least disturbed. */
      rate[which] = 0.0;
      for (int trial = 0; trial < 5; trial++) {
        size_t reps = 1, done = 0;
        const double start = now_seconds();
        double elapsed = 0.0;
        while (elapsed < seconds / 5) {
          for (size_t r = 0; r < reps; r++) {
            if (which == 0)
              K->forward(m, n, k, A.p, k, B.p, k, bias.p, C.p, n);
            else
              K->update(m, n, k, -1e-7f, D.p, n, A.p, k, B.p, k);
          }
          done += reps;
          reps *= 2;
          elapsed = now_seconds() - start;
        }
        const double r = 2.0 * (double)m * (double)n * (double)k * (double)done / elapsed * 1e-9;
        if (r > rate[which]) rate[which] = r;
      }
    }
    printf("%-9s m=%-4zu n=%-4zu k=%-4zu forward %7.2f GFLOP/s   update %7.2f GFLOP/s\n",
           K->name, m, n, k, rate[0], rate[1]);
    fflush(stdout);
    fbuf_free(&A), fbuf_free(&B), fbuf_free(&bias), fbuf_free(&C), fbuf_free(&D);
  }
}

int main(int argc, char **argv) {
  const char *names[] = {"portable", "avx2", "avx512", "neon"};
  const char *only = NULL; /* --table NAME: only that table */
  int bench = 0;
  double seconds = 1.0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--bench") == 0)
      bench = 1;
    else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
      seconds = atof(argv[++i]);
    else if (strcmp(argv[i], "--table") == 0 && i + 1 < argc)
      only = argv[++i];
    else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc)
      rng_state = strtoull(argv[++i], NULL, 0);
    else {
      fprintf(stderr, "usage: %s [--bench [--seconds S]] [--table NAME] [--seed N]\n", argv[0]);
      return 2;
    }
  }
  printf("kernels: best on this CPU is \"%s\"; tables runnable here:",
         hdrnn_kernels_name(hdrnn_kernels_best()));
  for (size_t t = 0; t < COUNT(names); t++)
    if (hdrnn_kernels_find(names[t]) != NULL) printf(" %s", names[t]);
  printf("\n");
  if (bench) {
    for (size_t t = 0; t < COUNT(names); t++) {
      const hdrnn_kernels *K = hdrnn_kernels_find(names[t]);
      if (K != NULL && (only == NULL || strcmp(only, names[t]) == 0)) bench_table(K, seconds);
    }
    return 0;
  }
  printf("seed %#llx\n", (unsigned long long)rng_state);
  int all_ok = 1;
  for (size_t t = 0; t < COUNT(names); t++) {
    const hdrnn_kernels *K = hdrnn_kernels_find(names[t]);
    if (only != NULL && strcmp(only, names[t]) != 0) continue;
    if (K == NULL) {
      printf("[%s] not runnable on this CPU (or not in this build): skipped\n", names[t]);
      continue;
    }
    if (!run_table(K)) all_ok = 0;
  }
  /* find() and best() agree with each other. */
  if (hdrnn_kernels_find("best") != hdrnn_kernels_best() ||
      hdrnn_kernels_find("portable") != hdrnn_kernels_portable() ||
      hdrnn_kernels_find("no-such-table") != NULL) {
    printf("FAIL hdrnn_kernels_find/best disagree\n");
    all_ok = 0;
  }
  /* "neon" is kernels_neon64.c on aarch64 and kernels_neon.c elsewhere, never both. */
#if defined(__aarch64__)
  const int neon_ok = hdrnn_kernels_neon64_table() != NULL && hdrnn_kernels_neon_table() == NULL &&
                      hdrnn_kernels_find("neon") == hdrnn_kernels_neon64_table();
#else
  const int neon_ok = hdrnn_kernels_neon64_table() == NULL;
#endif
  if (!neon_ok) {
    printf("FAIL the \"neon\" table is not the one for this architecture\n");
    all_ok = 0;
  }
  printf("test_kernels: %s\n", all_ok ? "all tables passed" : "FAILED");
  return all_ok ? 0 : 1;
}
