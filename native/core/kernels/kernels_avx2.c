/*
 * kernels_avx2.c - the kernels of kernels.h with AVX2 and FMA intrinsics.
 *
 * Only this file is compiled with -mavx2 -mfma (see CMakeLists.txt), and the
 * table is handed out only after a run-time check of the CPU
 * (kernels_select.c), so the rest of the library stays at the x86-64 baseline.
 *
 * Layout of the work (shapes: m = batch rows, up to ~1000; n = neurons or a
 * thread's slice of them; k = 784, 32, 128, 256 ...):
 *
 *   forward   dot products along k, contiguous in both operands. A tile of
 *             FWD_MR rows x FWD_NR neurons keeps one 8-lane accumulator per
 *             output element; each element is reduced horizontally once, at
 *             the end.
 *   update    rank-m update: a tile of UPD_NR neurons x UPD_PV vectors of 8
 *             inputs accumulates sum_i d[i][j] * a[i][p] in registers over
 *             all m rows, then w = fma(alpha, acc, w) once.
 *   backward  broadcast-FMA along j: a tile of BWD_MR rows x BWD_JV vectors
 *             of 8 columns accumulates a[i][p] * b[p][j] over p.
 *
 * Determinism (kernels.h): every output element gets exactly the same
 * sequence of operations whatever its position or the tile it falls in:
 *   forward  lane l of the element's accumulator sums the products with
 *            p = l (mod 8) in increasing p by FMA; the k % 8 tail is one more
 *            FMA with masked loads (the missing lanes add 0 * 0); then the
 *            8 lanes are reduced as ((l0+l1)+(l2+l3)) + ((l4+l5)+(l6+l7))
 *            (hadd_reduce4, whose lanes are independent of each other, so a
 *            tile of 1 neuron gives the same bits as a tile of 4) and the
 *            bias is added last.
 *   update   acc = fma(d[i][j], a[i][p], acc) for i = 0..m-1, then
 *            w = fma(alpha, acc, w); lane-wise, tails by masked loads/stores.
 *   backward acc = fma(a[i][p], b[p][j], acc) for p = 0..k-1; lane-wise.
 *   element-wise kernels: the same vector code for tails (masked).
 * Stores never touch anything outside the n (or k) columns of a row: other
 * threads may be writing the neighbouring columns at the same time.
 */
#include "kernels.h"
#include "kernels_common.h"

#if defined(__x86_64__) || defined(__i386__)

#include <immintrin.h>

#define HDRNN_INLINE static inline __attribute__((always_inline))
/* Tile loops have compile-time bounds; unrolling them early lets the
 * compiler keep every accumulator in a register. */
#define UNROLL _Pragma("GCC unroll 8")

/* Tile shapes, chosen by measurement on Zen 3 (test_kernels --bench); the
 * -D overrides are for trying others. 3 x 4 forward and 4 x 3 update tiles
 * use 12 accumulators, leaving 4 of the 16 ymm registers for operands. */
#ifndef FWD_MR
#define FWD_MR 3 /* rows of a forward tile, at most 6 */
#endif
#ifndef FWD_NR
#define FWD_NR 4 /* neurons of a forward tile, at most 4 (hadd_reduce4) */
#endif
#ifndef UPD_NR
#define UPD_NR 4 /* neurons of an update tile, at most 6 */
#endif
#ifndef UPD_PV
#define UPD_PV 3 /* vectors of 8 inputs of an update tile, at most 3 */
#endif
#define BWD_MR 6 /* rows of a backward tile */
#define BWD_JV 2 /* vectors of 8 columns of a backward tile */

/* Lane masks: mask_for(r) has the r first lanes set, 0 <= r <= 8. */
static const int32_t mask_table[16] = {-1, -1, -1, -1, -1, -1, -1, -1,
                                       0,  0,  0,  0,  0,  0,  0,  0};

HDRNN_INLINE __m256i mask_for(size_t r) {
  return _mm256_loadu_si256((const __m256i *)(const void *)(mask_table + 8 - r));
}

HDRNN_INLINE __m128i mask4_for(size_t r) {
  return _mm_loadu_si128((const __m128i *)(const void *)(mask_table + 8 - r));
}

/*
 * Sums of the 8 lanes of four accumulators, as lanes 0..3 of the result:
 * each one ((l0+l1)+(l2+l3)) + ((l4+l5)+(l6+l7)), whatever the other inputs.
 */
HDRNN_INLINE __m128 hadd_reduce4(__m256 v0, __m256 v1, __m256 v2, __m256 v3) {
  const __m256 h01 = _mm256_hadd_ps(v0, v1); /* v0:01 23, v1:01 23 | v0:45 67, v1:45 67 */
  const __m256 h23 = _mm256_hadd_ps(v2, v3);
  const __m256 h = _mm256_hadd_ps(h01, h23); /* v0..v3 :0123 | v0..v3 :4567 */
  return _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
}

/* ------------------------------------------------------------- forward */

/*
 * One tile of MR rows x NR neurons (compile-time constants after inlining):
 * full vectors of 8 along k, then the k % 8 tail with masked loads.
 */
HDRNN_INLINE void forward_tile(const size_t MR, const size_t NR, size_t k, const float *a,
                               size_t lda, const float *b, size_t ldb, const float *bias,
                               float *c, size_t ldc) {
  __m256 acc[6][4];
  UNROLL
  for (size_t i = 0; i < MR; i++)
    UNROLL
    for (size_t j = 0; j < NR; j++) acc[i][j] = _mm256_setzero_ps();
  const size_t kv = k & ~(size_t)7;
  for (size_t p = 0; p < kv; p += 8) {
    __m256 av[6];
    UNROLL
    for (size_t i = 0; i < MR; i++) av[i] = _mm256_loadu_ps(a + i * lda + p);
    UNROLL
    for (size_t j = 0; j < NR; j++) {
      const __m256 bv = _mm256_loadu_ps(b + j * ldb + p);
      UNROLL
      for (size_t i = 0; i < MR; i++) acc[i][j] = _mm256_fmadd_ps(av[i], bv, acc[i][j]);
    }
  }
  if (kv < k) {
    const __m256i mask = mask_for(k - kv);
    __m256 av[6];
    UNROLL
    for (size_t i = 0; i < MR; i++) av[i] = _mm256_maskload_ps(a + i * lda + kv, mask);
    UNROLL
    for (size_t j = 0; j < NR; j++) {
      const __m256 bv = _mm256_maskload_ps(b + j * ldb + kv, mask);
      UNROLL
      for (size_t i = 0; i < MR; i++) acc[i][j] = _mm256_fmadd_ps(av[i], bv, acc[i][j]);
    }
  }
  const __m128 bias4 =
      NR == 4 ? _mm_loadu_ps(bias) : _mm_maskload_ps(bias, mask4_for(NR));
  UNROLL
  for (size_t i = 0; i < MR; i++) {
    /* Missing neurons repeat neuron 0: hadd_reduce4's lanes are independent. */
    const __m128 sum = hadd_reduce4(acc[i][0], acc[i][NR > 1 ? 1 : 0],
                                    acc[i][NR > 2 ? 2 : 0], acc[i][NR > 3 ? 3 : 0]);
    const __m128 out = _mm_add_ps(sum, bias4);
    if (NR == 4)
      _mm_storeu_ps(c + i * ldc, out);
    else
      _mm_maskstore_ps(c + i * ldc, mask4_for(NR), out);
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
FORWARD_TILE_ROW(5)
FORWARD_TILE_ROW(6)

typedef void (*forward_tile_fn)(size_t, const float *, size_t, const float *, size_t,
                                const float *, float *, size_t);
static const forward_tile_fn forward_tiles[6][4] = {
    {forward_1x1, forward_1x2, forward_1x3, forward_1x4},
    {forward_2x1, forward_2x2, forward_2x3, forward_2x4},
    {forward_3x1, forward_3x2, forward_3x3, forward_3x4},
    {forward_4x1, forward_4x2, forward_4x3, forward_4x4},
    {forward_5x1, forward_5x2, forward_5x3, forward_5x4},
    {forward_6x1, forward_6x2, forward_6x3, forward_6x4}};

static void avx2_forward(size_t m, size_t n, size_t k, const float *a, size_t lda,
                         const float *b, size_t ldb, const float *bias, float *c, size_t ldc) {
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

/* MR rows x JV vectors of 8 columns; if masked, the last vector has mask. */
HDRNN_INLINE void backward_tile(const size_t MR, const size_t JV, const int masked,
                                __m256i mask, size_t k, const float *a, size_t lda,
                                const float *b, size_t ldb, float *c, size_t ldc) {
  __m256 acc[BWD_MR][BWD_JV];
  UNROLL
  for (size_t i = 0; i < MR; i++)
    UNROLL
    for (size_t v = 0; v < JV; v++) acc[i][v] = _mm256_setzero_ps();
  for (size_t p = 0; p < k; p++) {
    __m256 bv[BWD_JV];
    UNROLL
    for (size_t v = 0; v < JV; v++)
      bv[v] = masked && v == JV - 1 ? _mm256_maskload_ps(b + p * ldb + 8 * v, mask)
                                    : _mm256_loadu_ps(b + p * ldb + 8 * v);
    UNROLL
    for (size_t i = 0; i < MR; i++) {
      const __m256 ai = _mm256_broadcast_ss(a + i * lda + p);
      UNROLL
      for (size_t v = 0; v < JV; v++) acc[i][v] = _mm256_fmadd_ps(ai, bv[v], acc[i][v]);
    }
  }
  UNROLL
  for (size_t i = 0; i < MR; i++)
    UNROLL
    for (size_t v = 0; v < JV; v++) {
      if (masked && v == JV - 1)
        _mm256_maskstore_ps(c + i * ldc + 8 * v, mask, acc[i][v]);
      else
        _mm256_storeu_ps(c + i * ldc + 8 * v, acc[i][v]);
    }
}

#define BACKWARD_TILE_FN(MR)                                                                \
  static void backward_##MR(size_t jv, int masked, __m256i mask, size_t k, const float *a, \
                            size_t lda, const float *b, size_t ldb, float *c, size_t ldc) { \
    if (jv == 2)                                                                            \
      backward_tile(MR, 2, masked, mask, k, a, lda, b, ldb, c, ldc);                        \
    else                                                                                    \
      backward_tile(MR, 1, masked, mask, k, a, lda, b, ldb, c, ldc);                        \
  }
BACKWARD_TILE_FN(1)
BACKWARD_TILE_FN(2)
BACKWARD_TILE_FN(3)
BACKWARD_TILE_FN(4)
BACKWARD_TILE_FN(5)
BACKWARD_TILE_FN(6)

typedef void (*backward_tile_fn)(size_t, int, __m256i, size_t, const float *, size_t,
                                 const float *, size_t, float *, size_t);
static const backward_tile_fn backward_tiles[BWD_MR] = {backward_1, backward_2, backward_3,
                                                        backward_4, backward_5, backward_6};

static void avx2_backward(size_t m, size_t n, size_t k, const float *a, size_t lda,
                          const float *b, size_t ldb, float *c, size_t ldc) {
  for (size_t j = 0; j < n; j += 8 * BWD_JV) {
    const size_t cols = n - j < 8 * BWD_JV ? n - j : 8 * BWD_JV;
    const size_t jv = (cols + 7) / 8;
    const int masked = (cols & 7) != 0;
    const __m256i mask = mask_for(cols & 7);
    for (size_t i = 0; i < m; i += BWD_MR) {
      const size_t mr = m - i < BWD_MR ? m - i : BWD_MR;
      backward_tiles[mr - 1](jv, masked, mask, k, a + i * lda, lda, b + j, ldb,
                             c + i * ldc + j, ldc);
    }
  }
}

/* -------------------------------------------------------------- update */

/* NR neurons x PV vectors of 8 inputs; if masked, the last vector has mask. */
HDRNN_INLINE void update_tile(const size_t NR, const size_t PV, const int masked, __m256i mask,
                              size_t m, float alpha, const float *d, size_t ldd,
                              const float *a, size_t lda, float *w, size_t ldw) {
  __m256 acc[6][3];
  UNROLL
  for (size_t j = 0; j < NR; j++)
    UNROLL
    for (size_t v = 0; v < PV; v++) acc[j][v] = _mm256_setzero_ps();
  for (size_t i = 0; i < m; i++) {
    __m256 av[3];
    UNROLL
    for (size_t v = 0; v < PV; v++)
      av[v] = masked && v == PV - 1 ? _mm256_maskload_ps(a + i * lda + 8 * v, mask)
                                    : _mm256_loadu_ps(a + i * lda + 8 * v);
    UNROLL
    for (size_t j = 0; j < NR; j++) {
      const __m256 dj = _mm256_broadcast_ss(d + i * ldd + j);
      UNROLL
      for (size_t v = 0; v < PV; v++) acc[j][v] = _mm256_fmadd_ps(dj, av[v], acc[j][v]);
    }
  }
  const __m256 alphav = _mm256_set1_ps(alpha);
  UNROLL
  for (size_t j = 0; j < NR; j++)
    UNROLL
    for (size_t v = 0; v < PV; v++) {
      float *wp = w + j * ldw + 8 * v;
      if (masked && v == PV - 1) {
        const __m256 wv = _mm256_maskload_ps(wp, mask);
        _mm256_maskstore_ps(wp, mask, _mm256_fmadd_ps(alphav, acc[j][v], wv));
      } else {
        const __m256 wv = _mm256_loadu_ps(wp);
        _mm256_storeu_ps(wp, _mm256_fmadd_ps(alphav, acc[j][v], wv));
      }
    }
}

/* One function per tile shape, so that each keeps its accumulators in registers. */
#define UPDATE_TILE_FN(NR, PV)                                                              \
  static void update_##NR##x##PV(size_t m, float alpha, const float *d, size_t ldd,        \
                                 const float *a, size_t lda, float *w, size_t ldw) {       \
    update_tile(NR, PV, 0, _mm256_setzero_si256(), m, alpha, d, ldd, a, lda, w, ldw);      \
  }                                                                                         \
  static void update_##NR##x##PV##m(__m256i mask, size_t m, float alpha, const float *d,   \
                                    size_t ldd, const float *a, size_t lda, float *w,      \
                                    size_t ldw) {                                           \
    update_tile(NR, PV, 1, mask, m, alpha, d, ldd, a, lda, w, ldw);                         \
  }
#define UPDATE_TILE_ROW(NR) UPDATE_TILE_FN(NR, 1) UPDATE_TILE_FN(NR, 2) UPDATE_TILE_FN(NR, 3)
UPDATE_TILE_ROW(1)
UPDATE_TILE_ROW(2)
UPDATE_TILE_ROW(3)
UPDATE_TILE_ROW(4)
UPDATE_TILE_ROW(5)
UPDATE_TILE_ROW(6)

typedef void (*update_tile_fn)(size_t, float, const float *, size_t, const float *, size_t,
                               float *, size_t);
typedef void (*update_masked_fn)(__m256i, size_t, float, const float *, size_t, const float *,
                                 size_t, float *, size_t);
static const update_tile_fn update_tiles[6][3] = {
    {update_1x1, update_1x2, update_1x3}, {update_2x1, update_2x2, update_2x3},
    {update_3x1, update_3x2, update_3x3}, {update_4x1, update_4x2, update_4x3},
    {update_5x1, update_5x2, update_5x3}, {update_6x1, update_6x2, update_6x3}};
static const update_masked_fn update_masked_tiles[6][3] = {
    {update_1x1m, update_1x2m, update_1x3m}, {update_2x1m, update_2x2m, update_2x3m},
    {update_3x1m, update_3x2m, update_3x3m}, {update_4x1m, update_4x2m, update_4x3m},
    {update_5x1m, update_5x2m, update_5x3m}, {update_6x1m, update_6x2m, update_6x3m}};

/* The tile of nr neurons starting at j and the inputs [p, p + cols). */
HDRNN_INLINE void update_block(size_t nr, size_t cols, size_t m, float alpha, const float *d,
                               size_t ldd, const float *a, size_t lda, float *w, size_t ldw) {
  const size_t pv = (cols + 7) / 8;
  if ((cols & 7) != 0)
    update_masked_tiles[nr - 1][pv - 1](mask_for(cols & 7), m, alpha, d, ldd, a, lda, w, ldw);
  else
    update_tiles[nr - 1][pv - 1](m, alpha, d, ldd, a, lda, w, ldw);
}

static void avx2_update(size_t m, size_t n, size_t k, float alpha, const float *d, size_t ldd,
                        const float *a, size_t lda, float *w, size_t ldw) {
  size_t nr;
  /* Inputs outside (the m x 8*UPD_PV panel of a stays in L1), neurons inside. */
  for (size_t p = 0; p < k; p += 8 * UPD_PV) {
    const size_t cols = k - p < 8 * UPD_PV ? k - p : 8 * UPD_PV;
    for (size_t j = 0; j < n; j += nr) {
      nr = hdrnn_even_tile(n, j, UPD_NR);
      update_block(nr, cols, m, alpha, d + j, ldd, a + p, lda, w + j * ldw + p, ldw);
    }
  }
}

/* --------------------------------------------------- element-wise kernels */

/*
 * Logistic function of 8 lanes. With t = -|x| and e = exp(t) in (0, 1]:
 * x >= 0 gives 1 / (1 + e), x < 0 gives e / (1 + e); neither can overflow.
 * exp is Cephes' expf: t = n ln2 + r with |r| <= ln2/2, a degree-7 polynomial
 * for exp(r) (relative error about 1e-7), times 2^n built in the exponent
 * bits. t is clamped so that 2^n stays normal; below that exp(t) < 2^-126 and
 * is taken as 0, so sigmoid saturates to exactly 0 and 1. NaN stays NaN.
 */
HDRNN_INLINE __m256 sigmoid8(__m256 x) {
  const __m256 one = _mm256_set1_ps(1.0f);
  const __m256 lo = _mm256_set1_ps(HDRNN_EXP_LO); /* ln(2^-126) */
  const __m256 t = _mm256_or_ps(x, _mm256_set1_ps(-0.0f));
  const __m256 tc = _mm256_max_ps(t, lo);
  const __m256 fx = _mm256_round_ps(_mm256_mul_ps(tc, _mm256_set1_ps(HDRNN_EXP_LOG2E)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(fx, _mm256_set1_ps(HDRNN_EXP_LN2_HI), tc);
  r = _mm256_fnmadd_ps(fx, _mm256_set1_ps(HDRNN_EXP_LN2_LO), r);
  __m256 y = _mm256_set1_ps(HDRNN_EXP_P0);
  y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(HDRNN_EXP_P1));
  y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(HDRNN_EXP_P2));
  y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(HDRNN_EXP_P3));
  y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(HDRNN_EXP_P4));
  y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(HDRNN_EXP_P5));
  y = _mm256_fmadd_ps(y, _mm256_mul_ps(r, r), r);
  y = _mm256_add_ps(y, one);
  const __m256i n = _mm256_cvtps_epi32(fx); /* -126..0 */
  const __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(n, _mm256_set1_epi32(127)), 23);
  __m256 e = _mm256_mul_ps(y, _mm256_castsi256_ps(bits));
  e = _mm256_andnot_ps(_mm256_cmp_ps(t, lo, _CMP_LT_OQ), e); /* exp(t) < 2^-126: 0 */
  const __m256 negative = _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_LT_OQ);
  const __m256 s = _mm256_div_ps(_mm256_blendv_ps(one, e, negative), _mm256_add_ps(one, e));
  return _mm256_blendv_ps(s, x, _mm256_cmp_ps(x, x, _CMP_UNORD_Q));
}

static void avx2_sigmoid(float *x, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, sigmoid8(_mm256_loadu_ps(x + i)));
  if (i < n) {
    const __m256i mask = mask_for(n - i);
    _mm256_maskstore_ps(x + i, mask, sigmoid8(_mm256_maskload_ps(x + i, mask)));
  }
}

/* d * (a * (1 - a)), the same three roundings as the portable kernel. */
HDRNN_INLINE __m256 sigmoid_backward8(__m256 d, __m256 a) {
  return _mm256_mul_ps(d, _mm256_mul_ps(a, _mm256_sub_ps(_mm256_set1_ps(1.0f), a)));
}

static void avx2_sigmoid_backward(float *d, const float *a, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(d + i, sigmoid_backward8(_mm256_loadu_ps(d + i), _mm256_loadu_ps(a + i)));
  if (i < n) {
    const __m256i mask = mask_for(n - i);
    _mm256_maskstore_ps(
        d + i, mask,
        sigmoid_backward8(_mm256_maskload_ps(d + i, mask), _mm256_maskload_ps(a + i, mask)));
  }
}

/* A real division (correctly rounded), so exactly (float)v / 255.0f. */
/*
 * x / 255 for bytes, exactly as the division rounds but without dividing
 * (vdivps is the slowest instruction here, and this runs over every pixel
 * of every batch): q = x * (1/255) is off by one ulp for about half the
 * bytes; one Newton step with fused multiply-adds, q + (x - q*255) * (1/255),
 * lands on the correctly rounded quotient for all 256 of them (checked for
 * every value by test_kernels).
 */
static void avx2_scale_bytes(float *dst, const uint8_t *src, size_t n) {
  const __m256 d255 = _mm256_set1_ps(255.0f);
  const __m256 r255 = _mm256_set1_ps(1.0f / 255.0f);
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m128i bytes = _mm_loadu_si128((const __m128i *)(const void *)(src + i));
    const __m256 x0 = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(bytes));
    const __m256 x1 = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(bytes, 8)));
    const __m256 q0 = _mm256_mul_ps(x0, r255), q1 = _mm256_mul_ps(x1, r255);
    _mm256_storeu_ps(dst + i, _mm256_fmadd_ps(_mm256_fnmadd_ps(q0, d255, x0), r255, q0));
    _mm256_storeu_ps(dst + i + 8, _mm256_fmadd_ps(_mm256_fnmadd_ps(q1, d255, x1), r255, q1));
  }
  for (; i < n; i++) dst[i] = (float)src[i] / 255.0f;
}

static const hdrnn_kernels avx2_kernels = {
    "avx2",      avx2_forward, avx2_backward,         avx2_update,
    avx2_sigmoid, avx2_sigmoid_backward, avx2_scale_bytes};

const hdrnn_kernels *hdrnn_kernels_avx2_table(void) { return &avx2_kernels; }

#else /* not x86 */

const hdrnn_kernels *hdrnn_kernels_avx2_table(void) { return NULL; }

#endif
