/*
 * bench/kernels.c - the matrix kernels alone, on the products one training
 * mini-batch makes (784-256-128-10 at batch 100, as one of two threads sees
 * it, and 784-32-10 at batch 10), timed in a loop: how close each kernel
 * table is to the machine's single-core matmul peak, apart from everything
 * else a training step does. Built and run by `npm run bench:kernels`
 * (bench/kernels.sh), which also prints OpenBLAS's one-thread sgemm.
 */
#define _POSIX_C_SOURCE 200112L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels.h"

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* 64-byte aligned, as the trainer's workspaces and weights are (a 16-byte
 * aligned buffer splits every AVX-512 load over two cache lines: ~30 %
 * slower here). */
static float *filled(size_t n) {
  void *v = NULL;
  if (posix_memalign(&v, 64, n * sizeof(float)) != 0) exit(1);
  float *p = v;
  for (size_t i = 0; i < n; i++) p[i] = (float)((i * 7919) % 1000) / 1000.0f - 0.5f;
  return p;
}

typedef enum { FORWARD, BACKWARD, UPDATE } kind;

static void run(const hdrnn_kernels *K, kind what, size_t m, size_t n, size_t k, const char *label) {
  /* forward: m x k by (n x k)^T; backward: m x k (deltas) by k x n; update: n x k += (m x n)^T m x k */
  float *a = filled(m * k), *b = filled(n * k), *bias = filled(n), *c = filled(m * n);
  double best = 1e30;
  for (int rep = 0; rep < 7; rep++) {
    const int iters = 100;
    const double t0 = now();
    for (int i = 0; i < iters; i++) {
      if (what == FORWARD) K->forward(m, n, k, a, k, b, k, bias, c, n);
      else if (what == BACKWARD) K->backward(m, n, k, a, k, b, n, c, n);
      else K->update(m, n, k, -1e-9f, c, n, a, k, b, k);
    }
    const double t = (now() - t0) / iters;
    if (t < best) best = t;
  }
  printf("%-8s %-46s %8.2f us %7.1f GFLOP/s\n", hdrnn_kernels_name(K), label, best * 1e6,
         2.0 * (double)m * (double)n * (double)k / best / 1e9);
  free(a), free(b), free(bias), free(c);
}

int main(int argc, char **argv) {
  const char *only = argc > 1 ? argv[1] : NULL;
  const hdrnn_kernels *tables[] = {hdrnn_kernels_avx512_table(), hdrnn_kernels_avx2_table(),
                                   hdrnn_kernels_neon_table(), hdrnn_kernels_neon64_table(),
                                   hdrnn_kernels_portable_table()};
  for (size_t i = 0; i < sizeof tables / sizeof *tables; i++) {
    const hdrnn_kernels *K = tables[i];
    if (K == NULL || (only != NULL && strcmp(only, hdrnn_kernels_name(K)) != 0)) continue;
    if (strcmp(hdrnn_kernels_name(K), "avx512") == 0 && !hdrnn_cpu_has_avx512f()) continue;
    if (strcmp(hdrnn_kernels_name(K), "avx2") == 0 && !hdrnn_cpu_has_avx2_fma()) continue;
    run(K, FORWARD, 100, 128, 784, "forward, layer 1, half of 256 neurons, b100");
    run(K, UPDATE, 100, 128, 784, "update, layer 1, half of 256 neurons, b100");
    run(K, FORWARD, 100, 64, 256, "forward, layer 2, half of 128 neurons, b100");
    run(K, UPDATE, 100, 64, 256, "update, layer 2, half of 128 neurons, b100");
    run(K, BACKWARD, 100, 128, 128, "backward, deltas 2 -> 1, half, b100");
    run(K, FORWARD, 100, 10, 128, "forward, output layer (10), b100");
    run(K, FORWARD, 10, 32, 784, "forward, 784-32-10 layer 1, b10");
    run(K, UPDATE, 10, 32, 784, "update, 784-32-10 layer 1, b10");
  }
  return 0;
}
