/*
 * rng.c - xoshiro256** with splitmix64 seeding; see rng.h.
 */
#include <math.h>

#include "rng.h"

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

void hdrnn_rng_seed(hdrnn_rng *rng, uint64_t seed) {
  uint64_t x = seed;
  for (int i = 0; i < 4; i++) rng->s[i] = splitmix64(&x);
}

uint64_t hdrnn_rng_next(hdrnn_rng *rng) {
  uint64_t *s = rng->s;
  const uint64_t result = rotl(s[1] * 5, 7) * 9;
  const uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

uint64_t hdrnn_rng_below(hdrnn_rng *rng, uint64_t bound) {
  /* Reject the top sliver that would make some values more likely. */
  const uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
  uint64_t x;
  do x = hdrnn_rng_next(rng);
  while (x >= limit);
  return x % bound;
}

double hdrnn_rng_open01(hdrnn_rng *rng) {
  /* 53 random bits, shifted half a step so neither 0 nor 1 can come out. */
  return ((double)(hdrnn_rng_next(rng) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

void hdrnn_rng_normals(hdrnn_rng *rng, float *out, size_t n) {
  const double two_pi = 6.283185307179586476925286766559;
  size_t i = 0;
  while (i < n) {
    const double u1 = hdrnn_rng_open01(rng), u2 = hdrnn_rng_open01(rng);
    const double r = sqrt(-2.0 * log(u1));
    out[i++] = (float)(r * cos(two_pi * u2));
    if (i < n) out[i++] = (float)(r * sin(two_pi * u2));
  }
}

void hdrnn_rng_shuffle(hdrnn_rng *rng, uint32_t *order, size_t n) {
  for (size_t i = n; i > 1; i--) {
    const size_t j = (size_t)hdrnn_rng_below(rng, (uint64_t)i);
    const uint32_t t = order[i - 1];
    order[i - 1] = order[j];
    order[j] = t;
  }
}
