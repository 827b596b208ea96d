/*
 * rng.h - the seedable generator behind initial weights and shuffling.
 *
 * xoshiro256** seeded through splitmix64 (both public domain algorithms by
 * Blackman and Vigna). The state is a value the caller owns, so two trainers
 * never share one and the same seed always gives the same numbers on every
 * platform: everything here is exact integer arithmetic, and the normal
 * deviates go through double-precision libm calls only.
 */
#ifndef HDRNN_RNG_H
#define HDRNN_RNG_H

#include <stddef.h>
#include <stdint.h>

typedef struct hdrnn_rng {
  uint64_t s[4];
} hdrnn_rng;

void hdrnn_rng_seed(hdrnn_rng *rng, uint64_t seed);
uint64_t hdrnn_rng_next(hdrnn_rng *rng);
/* Uniform in [0, bound), bound >= 1, without modulo bias. */
uint64_t hdrnn_rng_below(hdrnn_rng *rng, uint64_t bound);
/* Uniform in (0, 1): never 0, so log() is safe. */
double hdrnn_rng_open01(hdrnn_rng *rng);
/* Fills out[0..n) with N(0, 1) deviates (Box-Muller, both halves used). */
void hdrnn_rng_normals(hdrnn_rng *rng, float *out, size_t n);
/* Fisher-Yates shuffle of order[0..n). */
void hdrnn_rng_shuffle(hdrnn_rng *rng, uint32_t *order, size_t n);

#endif /* HDRNN_RNG_H */
