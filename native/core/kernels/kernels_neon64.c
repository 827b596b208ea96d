/*
 * kernels_neon64.c - the kernels of kernels.h with AArch64 Advanced SIMD
 * (the Cortex-A53 and A72 of 64-bit Arm boards: Raspberry Pi 3/4, i.MX8).
 *
 * Advanced SIMD is part of AArch64, so this file needs no flags and the table
 * is always runnable there; kernels_select.c hands it out under the name
 * "neon", the same name as the armv7 table (kernels_neon.c): users ask for
 * "NEON" on either Arm and get the right code. Elsewhere the file is a stub
 * whose table is NULL.
 *
 * What differs from armv7, and why this is a file of its own: every
 * multiply-accumulate is the fused vfmaq_f32 (one rounding); there are 32
 * q registers instead of 16, so the tiles are twice as large (16
 * accumulators, fewer loads per FMA); there is a vector division
 * (sigmoid, scale_bytes); and denormals are kept (FPCR.FZ is 0 on Linux),
 * so scalar and vector code agree, but the tails are still vectors with
 * zero-padded partial loads, which keeps one code path per element.
 *
 * Layout of the work (as in kernels_avx2.c, 4 lanes instead of 8):
 *   forward   dot products along k: a tile of FWD_MR rows x FWD_NR neurons
 *             keeps one 4-lane accumulator per output element; lane l sums
 *             the products with p = l (mod 4) in increasing p by FMA, the
 *             k % 4 tail is one more FMA with zero-padded vectors, then the
 *             lanes are reduced as (l0+l1)+(l2+l3) (pairwise adds, whose
 *             lanes are independent of the other accumulators) and the bias
 *             is added last.
 *   update    a tile of UPD_NR neurons x UPD_PV vectors of 4 inputs:
 *             acc = fma(acc, a[i][p], d[i][j]) over i = 0..m-1, then
 *             w = fma(w, acc, alpha); lane-wise.
 *   backward  a tile of BWD_MR rows x BWD_JV vectors of 4 columns:
 *             acc = fma(acc, b[p][j], a[i][p]) over p = 0..k-1; lane-wise.
 * So every output element sees the same operations wherever it falls
 * (kernels.h determinism). Stores never touch anything outside the n (or k)
 * columns of a row: other threads may be writing the neighbouring columns.
 */
#include "kernels.h"
#include "kernels_common.h"

#if defined(__aarch64__)

#include <arm_neon.h>

#define HDRNN_INLINE static inline __attribute__((always_inline))
/* Tile loops have compile-time bounds; unrolling them early lets the
 * compiler keep every accumulator in a register. */
#define UNROLL _Pragma("GCC unroll 8")

/* 16 accumulators + 4 + 4 operands = 24 of the 32 v registers. */
#define FWD_MR 4 /* rows of a forward tile */
#define FWD_NR 4 /* neurons of a forward tile (at most 4: reduce4) */
#define UPD_NR 4 /* neurons of an update tile (at most 4: one vector of d) */
#define UPD_PV 4 /* vectors of 4 inputs of an update tile */
#define BWD_MR 4 /* rows of a backward tile (at most 4: one vector of a) */
#define BWD_JV 4 /* vectors of 4 columns of a backward tile */

/* The r (1..4) first floats at p, the other lanes 0. */
HDRNN_INLINE float32x4_t load_partial(const float *p, size_t r) {
  if (r >= 4) return vld1q_f32(p);
  float32x4_t v = vdupq_n_f32(0.0f);
  v = vld1q_lane_f32(p, v, 0);
  if (r > 1) v = vld1q_lane_f32(p + 1, v, 1);
  if (r > 2) v = vld1q_lane_f32(p + 2, v, 2);
  return v;
}

/* Stores the r (1..4) first lanes of v at p. */
HDRNN_INLINE void store_partial(float *p, float32x4_t v, size_t r) {
  if (r >= 4) {
    vst1q_f32(p, v);
    return;
  }
  vst1q_lane_f32(p, v, 0);
  if (r > 1) vst1q_lane_f32(p + 1, v, 1);
  if (r > 2) vst1q_lane_f32(p + 2, v, 2);
}

/* acc + x * v[lane], fused; lane is a constant once inlined and unrolled. */
HDRNN_INLINE float32x4_t fma_lane(float32x4_t acc, float32x4_t x, float32x4_t v, size_t lane) {
  switch (lane) {
    case 0: return vfmaq_laneq_f32(acc, x, v, 0);
    case 1: return vfmaq_laneq_f32(acc, x, v, 1);
    case 2: return vfmaq_laneq_f32(acc, x, v, 2);
    default: return vfmaq_laneq_f32(acc, x, v, 3);
  }
}

/* Lane sums of four accumulators, each (l0+l1)+(l2+l3) whatever the others. */
HDRNN_INLINE float32x4_t reduce4(float32x4_t v0, float32x4_t v1, float32x4_t v2,
                                 float32x4_t v3) {
  return vpaddq_f32(vpaddq_f32(v0, v1), vpaddq_f32(v2, v3));
}

/* ------------------------------------------------------------- forward */

HDRNN_INLINE void forward_tile(const size_t MR, const size_t NR, size_t k, const float *a,
                               size_t lda, const float *b, size_t ldb, const float *bias,
                               float *c, size_t ldc) {
  float32x4_t acc[FWD_MR][FWD_NR];
  UNROLL
  for (size_t i = 0; i < MR; i++)
    UNROLL
    for (size_t j = 0; j < NR; j++) acc[i][j] = vdupq_n_f32(0.0f);
  const size_t kv = k & ~(size_t)3;
  for (size_t p = 0; p < kv; p += 4) {
    float32x4_t av[FWD_MR], bv[FWD_NR];
    UNROLL
    for (size_t i = 0; i < MR; i++) av[i] = vld1q_f32(a + i * lda + p);
    UNROLL
    for (size_t j = 0; j < NR; j++) bv[j] = vld1q_f32(b + j * ldb + p);
    UNROLL
    for (size_t j = 0; j < NR; j++)
      UNROLL
      for (size_t i = 0; i < MR; i++) acc[i][j] = vfmaq_f32(acc[i][j], av[i], bv[j]);
  }
  if (kv < k) {
    float32x4_t av[FWD_MR], bv[FWD_NR];
    UNROLL
    for (size_t i = 0; i < MR; i++) av[i] = load_partial(a + i * lda + kv, k - kv);
    UNROLL
    for (size_t j = 0; j < NR; j++) bv[j] = load_partial(b + j * ldb + kv, k - kv);
    UNROLL
    for (size_t j = 0; j < NR; j++)
      UNROLL
      for (size_t i = 0; i < MR; i++) acc[i][j] = vfmaq_f32(acc[i][j], av[i], bv[j]);
  }
  const float32x4_t bias4 = load_partial(bias, NR);
  UNROLL
  for (size_t i = 0; i < MR; i++) {
    /* Missing neurons repeat neuron 0: reduce4's lanes are independent. */
    const float32x4_t sum = reduce4(acc[i][0], acc[i][NR > 1 ? 1 : 0], acc[i][NR > 2 ? 2 : 0],
                                    acc[i][NR > 3 ? 3 : 0]);
    store_partial(c + i * ldc, vaddq_f32(sum, bias4), NR);
  }
}

#define FORWARD_TILE_FN(MR, NR)                                                          \
  static void forward_##MR##x##NR(size_t k, const float *a, size_t lda, const float *b, \
                                  size_t ldb, const float *bias, float *c, size_t ldc) { \
    forward_tile(MR, NR, k, a, lda, b, ldb, bias, c, ldc);                               \
  }
#define FORWARD_TILE_ROW(MR) \
  FORWARD_TILE_FN(MR, 1) FORWARD_TILE_FN(MR, 2) FORWARD_TILE_FN(MR, 3) FORWARD_TILE_FN(MR, 4)
FORWARD_TILE_ROW(1)
FORWARD_TILE_ROW(2)
FORWARD_TILE_ROW(3)
FORWARD_TILE_ROW(4)

typedef void (*forward_tile_fn)(size_t, const float *, size_t, const float *, size_t,
                                const float *, float *, size_t);
static const forward_tile_fn forward_tiles[FWD_MR][FWD_NR] = {
    {forward_1x1, forward_1x2, forward_1x3, forward_1x4},
    {forward_2x1, forward_2x2, forward_2x3, forward_2x4},
    {forward_3x1, forward_3x2, forward_3x3, forward_3x4},
    {forward_4x1, forward_4x2, forward_4x3, forward_4x4}};

static void neon64_forward(size_t m, size_t n, size_t k, const float *a, size_t lda,
                           const float *b, size_t ldb, const float *bias, float *c,
                           size_t ldc) {
  /* Neurons outside (their FWD_NR x k weights stay in L1), rows inside. */
  size_t nr, mr;
  for (size_t j = 0; j < n; j += nr) {
    nr = hdrnn_even_tile(n, j, FWD_NR);
    for (size_t i = 0; i < m; i += mr) {
      mr = hdrnn_even_tile(m, i, FWD_MR);
      forward_tiles[mr - 1][nr - 1](k, a + i * lda, lda, b + j * ldb, ldb, bias + j,
                                    c + i * ldc + j, ldc);
    }
  }
}

/* ------------------------------------------------------------ backward */

/* MR rows x JV vectors of 4 columns, the last one holding last (1..4) columns. */
HDRNN_INLINE void backward_tile(const size_t MR, const size_t JV, size_t last, size_t k,
                                const float *a, size_t lda, const float *b, size_t ldb,
                                float *c, size_t ldc) {
  float32x4_t acc[BWD_MR][BWD_JV];
  UNROLL
  for (size_t i = 0; i < MR; i++)
    UNROLL
    for (size_t v = 0; v < JV; v++) acc[i][v] = vdupq_n_f32(0.0f);
  for (size_t p = 0; p < k; p++) {
    float32x4_t bv[BWD_JV];
    UNROLL
    for (size_t v = 0; v < JV; v++)
      bv[v] = v == JV - 1 ? load_partial(b + p * ldb + 4 * v, last) : vld1q_f32(b + p * ldb + 4 * v);
    UNROLL
    for (size_t i = 0; i < MR; i++) {
      const float32x4_t ai = vld1q_dup_f32(a + i * lda + p);
      UNROLL
      for (size_t v = 0; v < JV; v++) acc[i][v] = vfmaq_f32(acc[i][v], bv[v], ai);
    }
  }
  UNROLL
  for (size_t i = 0; i < MR; i++)
    UNROLL
    for (size_t v = 0; v < JV; v++) {
      if (v == JV - 1)
        store_partial(c + i * ldc + 4 * v, acc[i][v], last);
      else
        vst1q_f32(c + i * ldc + 4 * v, acc[i][v]);
    }
}

#define BACKWARD_TILE_FN(MR, JV)                                                        \
  static void backward_##MR##x##JV(size_t last, size_t k, const float *a, size_t lda,  \
                                   const float *b, size_t ldb, float *c, size_t ldc) { \
    backward_tile(MR, JV, last, k, a, lda, b, ldb, c, ldc);                             \
  }
#define BACKWARD_TILE_ROW(MR) \
  BACKWARD_TILE_FN(MR, 1) BACKWARD_TILE_FN(MR, 2) BACKWARD_TILE_FN(MR, 3) BACKWARD_TILE_FN(MR, 4)
BACKWARD_TILE_ROW(1)
BACKWARD_TILE_ROW(2)
BACKWARD_TILE_ROW(3)
BACKWARD_TILE_ROW(4)

typedef void (*backward_tile_fn)(size_t, size_t, const float *, size_t, const float *, size_t,
                                 float *, size_t);
static const backward_tile_fn backward_tiles[BWD_MR][BWD_JV] = {
    {backward_1x1, backward_1x2, backward_1x3, backward_1x4},
    {backward_2x1, backward_2x2, backward_2x3, backward_2x4},
    {backward_3x1, backward_3x2, backward_3x3, backward_3x4},
    {backward_4x1, backward_4x2, backward_4x3, backward_4x4}};

static void neon64_backward(size_t m, size_t n, size_t k, const float *a, size_t lda,
                            const float *b, size_t ldb, float *c, size_t ldc) {
  for (size_t j = 0; j < n; j += 4 * BWD_JV) {
    const size_t cols = n - j < 4 * BWD_JV ? n - j : 4 * BWD_JV;
    const size_t jv = (cols + 3) / 4, last = cols - 4 * (jv - 1);
    size_t mr;
    for (size_t i = 0; i < m; i += mr) {
      mr = hdrnn_even_tile(m, i, BWD_MR);
      backward_tiles[mr - 1][jv - 1](last, k, a + i * lda, lda, b + j, ldb, c + i * ldc + j,
                                     ldc);
    }
  }
}

/* -------------------------------------------------------------- update */

/* NR neurons x PV vectors of 4 inputs, the last one holding last (1..4) inputs. */
HDRNN_INLINE void update_tile(const size_t NR, const size_t PV, size_t last, size_t m,
                              float alpha, const float *d, size_t ldd, const float *a,
                              size_t lda, float *w, size_t ldw) {
  float32x4_t acc[UPD_NR][UPD_PV];
  UNROLL
  for (size_t j = 0; j < NR; j++)
    UNROLL
    for (size_t v = 0; v < PV; v++) acc[j][v] = vdupq_n_f32(0.0f);
  for (size_t i = 0; i < m; i++) {
    float32x4_t av[UPD_PV];
    UNROLL
    for (size_t v = 0; v < PV; v++)
      av[v] = v == PV - 1 ? load_partial(a + i * lda + 4 * v, last) : vld1q_f32(a + i * lda + 4 * v);
    /* The NR deltas of row i in one vector, used lane by lane. */
    const float32x4_t dv = load_partial(d + i * ldd, NR);
    UNROLL
    for (size_t j = 0; j < NR; j++)
      UNROLL
      for (size_t v = 0; v < PV; v++) acc[j][v] = fma_lane(acc[j][v], av[v], dv, j);
  }
  const float32x4_t alpha4 = vdupq_n_f32(alpha);
  UNROLL
  for (size_t j = 0; j < NR; j++)
    UNROLL
    for (size_t v = 0; v < PV; v++) {
      float *wp = w + j * ldw + 4 * v;
      if (v == PV - 1)
        store_partial(wp, vfmaq_f32(load_partial(wp, last), acc[j][v], alpha4), last);
      else
        vst1q_f32(wp, vfmaq_f32(vld1q_f32(wp), acc[j][v], alpha4));
    }
}

#define UPDATE_TILE_FN(NR, PV)                                                        \
  static void update_##NR##x##PV(size_t last, size_t m, float alpha, const float *d, \
                                 size_t ldd, const float *a, size_t lda, float *w,   \
                                 size_t ldw) {                                        \
    update_tile(NR, PV, last, m, alpha, d, ldd, a, lda, w, ldw);                      \
  }
#define UPDATE_TILE_ROW(NR) \
  UPDATE_TILE_FN(NR, 1) UPDATE_TILE_FN(NR, 2) UPDATE_TILE_FN(NR, 3) UPDATE_TILE_FN(NR, 4)
UPDATE_TILE_ROW(1)
UPDATE_TILE_ROW(2)
UPDATE_TILE_ROW(3)
UPDATE_TILE_ROW(4)

typedef void (*update_tile_fn)(size_t, size_t, float, const float *, size_t, const float *,
                               size_t, float *, size_t);
static const update_tile_fn update_tiles[UPD_NR][UPD_PV] = {
    {update_1x1, update_1x2, update_1x3, update_1x4},
    {update_2x1, update_2x2, update_2x3, update_2x4},
    {update_3x1, update_3x2, update_3x3, update_3x4},
    {update_4x1, update_4x2, update_4x3, update_4x4}};

static void neon64_update(size_t m, size_t n, size_t k, float alpha, const float *d,
                          size_t ldd, const float *a, size_t lda, float *w, size_t ldw) {
  /* Inputs outside (the m x 4*UPD_PV panel of a stays in L1), neurons inside. */
  for (size_t p = 0; p < k; p += 4 * UPD_PV) {
    const size_t cols = k - p < 4 * UPD_PV ? k - p : 4 * UPD_PV;
    const size_t pv = (cols + 3) / 4, last = cols - 4 * (pv - 1);
    size_t nr;
    for (size_t j = 0; j < n; j += nr) {
      nr = hdrnn_even_tile(n, j, UPD_NR);
      update_tiles[nr - 1][pv - 1](last, m, alpha, d + j, ldd, a + p, lda, w + j * ldw + p,
                                   ldw);
    }
  }
}

/* --------------------------------------------------- element-wise kernels */

/*
 * Logistic function of 4 lanes. With t = -|x| and e = exp(t) in (0, 1]:
 * x >= 0 gives 1 / (1 + e), x < 0 gives e / (1 + e); neither can overflow.
 * exp is Cephes' expf (kernels_common.h) with fused multiply-adds, times 2^n
 * built in the exponent bits; t is clamped so that 2^n stays normal, below
 * that exp(t) < 2^-126 is taken as 0, so sigmoid saturates to exactly 0 and
 * 1. The division is IEEE (vdivq_f32). NaN stays NaN.
 */
HDRNN_INLINE float32x4_t sigmoid4(float32x4_t x) {
  const float32x4_t one = vdupq_n_f32(1.0f);
  const float32x4_t lo = vdupq_n_f32(HDRNN_EXP_LO);
  const float32x4_t t =
      vreinterpretq_f32_u32(vorrq_u32(vreinterpretq_u32_f32(x), vdupq_n_u32(0x80000000u)));
  const float32x4_t tc = vmaxq_f32(t, lo);
  /* n = round(tc log2(e)), to nearest (ties away; either is exact enough). */
  const float32x4_t fx = vrndaq_f32(vmulq_f32(tc, vdupq_n_f32(HDRNN_EXP_LOG2E)));
  const int32x4_t n = vcvtq_s32_f32(fx);
  float32x4_t r = vfmsq_f32(tc, fx, vdupq_n_f32(HDRNN_EXP_LN2_HI));
  r = vfmsq_f32(r, fx, vdupq_n_f32(HDRNN_EXP_LN2_LO));
  float32x4_t y = vdupq_n_f32(HDRNN_EXP_P0);
  y = vfmaq_f32(vdupq_n_f32(HDRNN_EXP_P1), y, r);
  y = vfmaq_f32(vdupq_n_f32(HDRNN_EXP_P2), y, r);
  y = vfmaq_f32(vdupq_n_f32(HDRNN_EXP_P3), y, r);
  y = vfmaq_f32(vdupq_n_f32(HDRNN_EXP_P4), y, r);
  y = vfmaq_f32(vdupq_n_f32(HDRNN_EXP_P5), y, r);
  y = vfmaq_f32(r, y, vmulq_f32(r, r));
  y = vaddq_f32(y, one);
  const int32x4_t bits = vshlq_n_s32(vaddq_s32(n, vdupq_n_s32(127)), 23); /* n in -126..0 */
  float32x4_t e = vmulq_f32(y, vreinterpretq_f32_s32(bits));
  e = vreinterpretq_f32_u32(
      vbicq_u32(vreinterpretq_u32_f32(e), vcltq_f32(t, lo))); /* exp(t) < 2^-126: 0 */
  const float32x4_t num = vbslq_f32(vcltzq_f32(x), e, one);
  const float32x4_t s = vdivq_f32(num, vaddq_f32(one, e));
  return vbslq_f32(vceqq_f32(x, x), s, x); /* NaN in, NaN out */
}

static void neon64_sigmoid(float *x, size_t n) {
  size_t i = 0;
  for (; i + 4 <= n; i += 4) vst1q_f32(x + i, sigmoid4(vld1q_f32(x + i)));
  if (i < n) store_partial(x + i, sigmoid4(load_partial(x + i, n - i)), n - i);
}

/* d * (a * (1 - a)), three roundings as in the portable kernel. */
HDRNN_INLINE float32x4_t sigmoid_backward4(float32x4_t d, float32x4_t a) {
  return vmulq_f32(d, vmulq_f32(a, vsubq_f32(vdupq_n_f32(1.0f), a)));
}

static void neon64_sigmoid_backward(float *d, const float *a, size_t n) {
  size_t i = 0;
  for (; i + 4 <= n; i += 4)
    vst1q_f32(d + i, sigmoid_backward4(vld1q_f32(d + i), vld1q_f32(a + i)));
  if (i < n)
    store_partial(d + i,
                  sigmoid_backward4(load_partial(d + i, n - i), load_partial(a + i, n - i)),
                  n - i);
}

/*
 * (float)v / 255.0f, correctly rounded: the bytes widened to floats (exact)
 * and divided by IEEE vector division, 16 at a time; the tail by the same
 * division in scalar, which rounds identically.
 */
static void neon64_scale_bytes(float *dst, const uint8_t *src, size_t n) {
  const float32x4_t d255 = vdupq_n_f32(255.0f);
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const uint8x16_t v = vld1q_u8(src + i);
    const uint16x8_t lo = vmovl_u8(vget_low_u8(v)), hi = vmovl_high_u8(v);
    vst1q_f32(dst + i, vdivq_f32(vcvtq_f32_u32(vmovl_u16(vget_low_u16(lo))), d255));
    vst1q_f32(dst + i + 4, vdivq_f32(vcvtq_f32_u32(vmovl_high_u16(lo)), d255));
    vst1q_f32(dst + i + 8, vdivq_f32(vcvtq_f32_u32(vmovl_u16(vget_low_u16(hi))), d255));
    vst1q_f32(dst + i + 12, vdivq_f32(vcvtq_f32_u32(vmovl_high_u16(hi)), d255));
  }
  for (; i < n; i++) dst[i] = (float)src[i] / 255.0f;
}

static const hdrnn_kernels neon64_kernels = {
    "neon",         neon64_forward,          neon64_backward,   neon64_update,
    neon64_sigmoid, neon64_sigmoid_backward, neon64_scale_bytes};

const hdrnn_kernels *hdrnn_kernels_neon64_table(void) { return &neon64_kernels; }

#else /* not AArch64 */

const hdrnn_kernels *hdrnn_kernels_neon64_table(void) { return NULL; }

#endif
