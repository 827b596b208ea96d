/*
 * test_util.h - what the C test programs share besides check.h: their own
 * random generator (splitmix64, so test data do not depend on the core's
 * generator) and an allocation that ends the test program when it fails
 * (a test may exit; the core never does).
 */
#ifndef HDRNN_TEST_UTIL_H
#define HDRNN_TEST_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct test_rng {
  uint64_t x;
} test_rng;

static inline uint64_t rng_next(test_rng *r) {
  uint64_t z = (r->x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
static inline double rng_unit(test_rng *r) { return (double)(rng_next(r) >> 11) / 9007199254740992.0; }
static inline uint32_t rng_below(test_rng *r, uint32_t n) { return (uint32_t)(rng_next(r) % n); }

static inline void *xmalloc(size_t n) {
  void *p = malloc(n > 0 ? n : 1);
  if (p == NULL) {
    fprintf(stderr, "out of memory (%zu bytes)\n", n);
    exit(2);
  }
  return p;
}

#endif /* HDRNN_TEST_UTIL_H */
