/*
 * kernels_common.h - what the instruction-set kernel files share: how a
 * dimension is cut into register tiles, and the constants of the exp
 * approximation their sigmoids use. Plain C, so every kernel file (whatever
 * its ISA flags) can include it.
 */
#ifndef HDRNN_KERNELS_COMMON_H
#define HDRNN_KERNELS_COMMON_H

#include <stddef.h>

/*
 * Tiles of at most max along a dimension of n, as even as possible (10 rows
 * by 4 give 4, 3, 3 rather than 4, 4, 2), so that no tile is much smaller
 * than the others. Returns the size of the tile starting at i.
 */
static inline size_t hdrnn_even_tile(size_t n, size_t i, size_t max) {
  const size_t tiles = (n + max - 1) / max, base = n / tiles, extra = n % tiles;
  /* The first `extra` tiles have base + 1 elements. */
  return i < extra * (base + 1) ? base + 1 : base;
}

/*
 * Cephes' expf, as the SIMD sigmoids use it on t <= 0: t is clamped to
 * EXP_LO = ln(2^-126) so that 2^n stays normal; n = round(t * EXP_LOG2E);
 * r = t - n ln2 with ln2 split as EXP_LN2_HI + EXP_LN2_LO (HI has few
 * mantissa bits, so n * HI is exact); exp(r) = 1 + r + r^2 (P0 r^5 + P1 r^4
 * + ... + P5), relative error about 1e-7.
 */
#define HDRNN_EXP_LO (-87.33654f)
#define HDRNN_EXP_LOG2E 1.44269504088896341f
#define HDRNN_EXP_LN2_HI 0.693359375f
#define HDRNN_EXP_LN2_LO (-2.12194440e-4f)
#define HDRNN_EXP_P0 1.9875691500e-4f
#define HDRNN_EXP_P1 1.3981999507e-3f
#define HDRNN_EXP_P2 8.3334519073e-3f
#define HDRNN_EXP_P3 4.1665795894e-2f
#define HDRNN_EXP_P4 1.6666665459e-1f
#define HDRNN_EXP_P5 5.0000001201e-1f

#endif /* HDRNN_KERNELS_COMMON_H */
