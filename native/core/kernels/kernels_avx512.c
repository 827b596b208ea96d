/*
 * kernels_avx512.c - the kernels of kernels.h with AVX-512F intrinsics.
 *
 * Only this file is compiled with -mavx512f (see CMakeLists.txt and
 * binding.gyp), and the table is handed out only after a run-time check of
 * the CPU and of the OS's saving of the zmm and mask registers
 * (kernels_select.c). Only AVX-512 Foundation instructions are used (no DQ,
 * BW or VL), so any AVX-512 CPU runs it.
 *
 * The layout follows kernels_avx2.c with 16 lanes instead of 8 and the 32
 * zmm registers instead of 16, which allows larger register tiles:
 *
 *   forward   dot products along k: a tile of FWD_MR rows x FWD_NR neurons,
 *             one 16-lane accumulator per output element, reduced once.
 *   update    rank-m update: UPD_NR neurons x UPD_PV vectors of 16 inputs
 *             accumulate sum_i d[i][j] * a[i][p] over all m rows in
 *             registers, then w = fma(alpha, acc, w) once.
 *   backward  broadcast-FMA along j: BWD_MR rows x BWD_JV vectors of 16
 *             columns accumulate a[i][p] * b[p][j] over p.
 *
 * Tails use the mask registers: a masked load gives 0 in the missing lanes
 * and a masked store leaves memory outside the row untouched (other threads
 * may be writing the neighbouring columns).
 *
 * Determinism (kernels.h): every output element gets the same sequence of
 * operations whatever its position or tile:
 *   forward  lane l sums the products with p = l (mod 16) in increasing p by
 *            FMA, the k % 16 tail is one more masked FMA; the 16 lanes are
 *            reduced as s_l = lane l + lane l+8 (l < 8), then
 *            ((s0+s1)+(s2+s3)) + ((s4+s5)+(s6+s7)); the bias is added last.
 *   update   acc = fma(d[i][j], a[i][p], acc) for i = 0..m-1, then
 *            w = fma(alpha, acc, w).
 *   backward acc = fma(a[i][p], b[p][j], acc) for p = 0..k-1.
 */
#include "kernels.h"
#include "kernels_common.h"

#if defined(__x86_64__) && defined(__AVX512F__)

#include <immintrin.h>

#define HDRNN_INLINE static inline __attribute__((always_inline))
#define UNROLL _Pragma("GCC unroll 8")

/* Register tiles: 4 x 6 forward and 6 x 3 update tiles use 24 and 18 of the
 * 32 zmm registers for accumulators, leaving room for the operands. */
#define FWD_MR 4 /* rows of a forward tile, at most 4 */
#define FWD_NR 6 /* neurons of a forward tile, at most 8 */
#define UPD_NR 6 /* neurons of an update tile, at most 6 */
#define UPD_PV 3 /* vectors of 16 inputs of an update tile, at most 3 */
#define BWD_MR 6 /* rows of a backward tile */
#define BWD_JV 2 /* vectors of 16 columns of a backward tile */

/* The r first lanes, 0 <= r <= 16. */
HDRNN_INLINE __mmask16 mask_for(size_t r) { return (__mmask16)((1u << r) - 1u); }

/*
 * The 16 lanes of up to 8 accumulators summed, as lanes 0..7 of the result:
 * for each, ((s0+s1)+(s2+s3)) + ((s4+s5)+(s6+s7)) with s_l = lane l + lane
 * l+8. Each output lane depends only on its own accumulator.
 */
HDRNN_INLINE __m256 fold(__m512 v) {
  return _mm256_add_ps(_mm512_castps512_ps256(v),
                       _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
}

HDRNN_INLINE __m128 reduce4(__m512 v0, __m512 v1, __m512 v2, __m512 v3) {
  const __m256 h01 = _mm256_hadd_ps(fold(v0), fold(v1)); /* v0:01 23, v1:01 23 | 45 67 */
  const __m256 h23 = _mm256_hadd_ps(fold(v2), fold(v3));
  const __m256 h = _mm256_hadd_ps(h01, h23); /* v0..v3 : 0123 | 4567 */
  return _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
}

/* ------------------------------------------------------------- forward */

HDRNN_INLINE void forward_tile(const size_t MR, const size_t NR, size_t k, const float *a,
                               size_t lda, const float *b, size_t ldb, const float *bias,
                               float *c, size_t ldc) {
  __m512 acc[FWD_MR][FWD_NR];
  UNROLL
  for (size_t i = 0; i < MR; i++)
    UNROLL
    for (size_t j = 0; j < NR; j++) acc[i][j] = _mm512_setzero_ps();
  const size_t kv = k & ~(size_t)15;
  for (size_t p = 0; p < kv; p += 16) {
    __m512 av[FWD_MR];
    UNROLL
    for (size_t i = 0; i < MR; i++) av[i] = _mm512_loadu_ps(a + i * lda + p);
    UNROLL
    for (size_t j = 0; j < NR; j++) {
      const __m512 bv = _mm512_loadu_ps(b + j * ldb + p);
      UNROLL
      for (size_t i = 0; i < MR; i++) acc[i][j] = _mm512_fmadd_ps(av[i], bv, acc[i][j]);
    }
  }
  if (kv < k) {
    const __mmask16 mask = mask_for(k - kv);
    __m512 av[FWD_MR];
    UNROLL
    for (size_t i = 0; i < MR; i++) av[i] = _mm512_maskz_loadu_ps(mask, a + i * lda + kv);
    UNROLL
    for (size_t j = 0; j < NR; j++) {
      const __m512 bv = _mm512_maskz_loadu_ps(mask, b + j * ldb + kv);
      UNROLL
      for (size_t i = 0; i < MR; i++) acc[i][j] = _mm512_fmadd_ps(av[i], bv, acc[i][j]);
    }
  }
  /* Neurons in groups of 4 (reduce4); a short group repeats its first
   * neuron, whose lanes are independent of the others'. The bias is added
   * after the reduction, as a scalar: the same single rounding as a vector
   * add, and no masked 128-bit load (which would need AVX-512VL). */
  UNROLL
  for (size_t j0 = 0; j0 < NR; j0 += 4) {
    const size_t g = NR - j0 < 4 ? NR - j0 : 4;
    UNROLL
    for (size_t i = 0; i < MR; i++) {
      const __m128 sum = reduce4(acc[i][j0], acc[i][j0 + (g > 1 ? 1 : 0)],
                                 acc[i][j0 + (g > 2 ? 2 : 0)], acc[i][j0 + (g > 3 ? 3 : 0)]);
      float lanes[4];
      _mm_storeu_ps(lanes, sum);
      for (size_t q = 0; q < g; q++) c[i * ldc + j0 + q] = lanes[q] + bias[j0 + q];
    }
  }
}

#define FORWARD_TILE_FN(MR, NR)                                                          \
  static void forward_##MR##x##NR(size_t k, const float *a, size_t lda, const float *b, \
                                  size_t ldb, const float *bias, float *c, size_t ldc) { \
    forward_tile(MR, NR, k, a, lda, b, ldb, bias, c, ldc);                               \
  }
#define FORWARD_TILE_ROW(MR)                                                           \
  FORWARD_TILE_FN(MR, 1) FORWARD_TILE_FN(MR, 2) FORWARD_TILE_FN(MR, 3) FORWARD_TILE_FN(MR, 4) \
  FORWARD_TILE_FN(MR, 5) FORWARD_TILE_FN(MR, 6)
FORWARD_TILE_ROW(1)
FORWARD_TILE_ROW(2)
FORWARD_TILE_ROW(3)
FORWARD_TILE_ROW(4)

typedef void (*forward_tile_fn)(size_t, const float *, size_t, const float *, size_t,
                                const float *, float *, size_t);
static const forward_tile_fn forward_tiles[FWD_MR][FWD_NR] = {
    {forward_1x1, forward_1x2, forward_1x3, forward_1x4, forward_1x5, forward_1x6},
    {forward_2x1, forward_2x2, forward_2x3, forward_2x4, forward_2x5, forward_2x6},
    {forward_3x1, forward_3x2, forward_3x3, forward_3x4, forward_3x5, forward_3x6},
    {forward_4x1, forward_4x2, forward_4x3, forward_4x4, forward_4x5, forward_4x6}};

static void avx512_forward(size_t m, size_t n, size_t k, const float *a, size_t lda,
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

/* MR rows x JV vectors of 16 columns; the last vector has mask. */
HDRNN_INLINE void backward_tile(const size_t MR, const size_t JV, __mmask16 mask, size_t k,
                                const float *a, size_t lda, const float *b, size_t ldb, float *c,
                                size_t ldc) {
  __m512 acc[BWD_MR][BWD_JV];
  UNROLL
  for (size_t i = 0; i < MR; i++)
    UNROLL
    for (size_t v = 0; v < JV; v++) acc[i][v] = _mm512_setzero_ps();
  for (size_t p = 0; p < k; p++) {
    __m512 bv[BWD_JV];
    UNROLL
    for (size_t v = 0; v < JV; v++)
      bv[v] = v == JV - 1 ? _mm512_maskz_loadu_ps(mask, b + p * ldb + 16 * v)
                          : _mm512_loadu_ps(b + p * ldb + 16 * v);
    UNROLL
    for (size_t i = 0; i < MR; i++) {
      const __m512 ai = _mm512_set1_ps(a[i * lda + p]);
      UNROLL
      for (size_t v = 0; v < JV; v++) acc[i][v] = _mm512_fmadd_ps(ai, bv[v], acc[i][v]);
    }
  }
  UNROLL
  for (size_t i = 0; i < MR; i++)
    UNROLL
    for (size_t v = 0; v < JV; v++) {
      if (v == JV - 1)
        _mm512_mask_storeu_ps(c + i * ldc + 16 * v, mask, acc[i][v]);
      else
        _mm512_storeu_ps(c + i * ldc + 16 * v, acc[i][v]);
    }
}

#define BACKWARD_TILE_FN(MR)                                                                  \
  static void backward_##MR(size_t jv, __mmask16 mask, size_t k, const float *a, size_t lda, \
                            const float *b, size_t ldb, float *c, size_t ldc) {               \
    if (jv == 2)                                                                              \
      backward_tile(MR, 2, mask, k, a, lda, b, ldb, c, ldc);                                  \
    else                                                                                      \
      backward_tile(MR, 1, mask, k, a, lda, b, ldb, c, ldc);                                  \
  }
BACKWARD_TILE_FN(1)
BACKWARD_TILE_FN(2)
BACKWARD_TILE_FN(3)
BACKWARD_TILE_FN(4)
BACKWARD_TILE_FN(5)
BACKWARD_TILE_FN(6)

typedef void (*backward_tile_fn)(size_t, __mmask16, size_t, const float *, size_t, const float *,
                                 size_t, float *, size_t);
static const backward_tile_fn backward_tiles[BWD_MR] = {backward_1, backward_2, backward_3,
                                                        backward_4, backward_5, backward_6};

static void avx512_backward(size_t m, size_t n, size_t k, const float *a, size_t lda,
                            const float *b, size_t ldb, float *c, size_t ldc) {
  for (size_t j = 0; j < n; j += 16 * BWD_JV) {
    const size_t cols = n - j < 16 * BWD_JV ? n - j : 16 * BWD_JV;
    const size_t jv = (cols + 15) / 16;
    /* The last vector's lanes: all 16 unless cols is not a multiple of 16. */
    const __mmask16 mask = mask_for(cols - 16 * (jv - 1));
    for (size_t i = 0; i < m; i += BWD_MR) {
      const size_t mr = m - i < BWD_MR ? m - i : BWD_MR;
      backward_tiles[mr - 1](jv, mask, k, a + i * lda, lda, b + j, ldb, c + i * ldc + j, ldc);
    }
  }
}

/* -------------------------------------------------------------- update */

/* NR neurons x PV vectors of 16 inputs; the last vector has mask. */
HDRNN_INLINE void update_tile(const size_t NR, const size_t PV, __mmask16 mask, size_t m,
                              float alpha, const float *d, size_t ldd, const float *a,
                              size_t lda, float *w, size_t ldw) {
  __m512 acc[UPD_NR][UPD_PV];
  UNROLL
  for (size_t j = 0; j < NR; j++)
    UNROLL
    for (size_t v = 0; v < PV; v++) acc[j][v] = _mm512_setzero_ps();
  for (size_t i = 0; i < m; i++) {
    __m512 av[UPD_PV];
    UNROLL
    for (size_t v = 0; v < PV; v++)
      av[v] = v == PV - 1 ? _mm512_maskz_loadu_ps(mask, a + i * lda + 16 * v)
                          : _mm512_loadu_ps(a + i * lda + 16 * v);
    UNROLL
    for (size_t j = 0; j < NR; j++) {
      const __m512 dj = _mm512_set1_ps(d[i * ldd + j]);
      UNROLL
      for (size_t v = 0; v < PV; v++) acc[j][v] = _mm512_fmadd_ps(dj, av[v], acc[j][v]);
    }
  }
  const __m512 alphav = _mm512_set1_ps(alpha);
  UNROLL
  for (size_t j = 0; j < NR; j++)
    UNROLL
    for (size_t v = 0; v < PV; v++) {
      float *wp = w + j * ldw + 16 * v;
      if (v == PV - 1) {
        const __m512 wv = _mm512_maskz_loadu_ps(mask, wp);
        _mm512_mask_storeu_ps(wp, mask, _mm512_fmadd_ps(alphav, acc[j][v], wv));
      } else {
        _mm512_storeu_ps(wp, _mm512_fmadd_ps(alphav, acc[j][v], _mm512_loadu_ps(wp)));
      }
    }
}

#define UPDATE_TILE_FN(NR, PV)                                                            \
  static void update_##NR##x##PV(__mmask16 mask, size_t m, float alpha, const float *d,  \
                                 size_t ldd, const float *a, size_t lda, float *w,       \
                                 size_t ldw) {                                           \
    update_tile(NR, PV, mask, m, alpha, d, ldd, a, lda, w, ldw);                          \
  }
#define UPDATE_TILE_ROW(NR) UPDATE_TILE_FN(NR, 1) UPDATE_TILE_FN(NR, 2) UPDATE_TILE_FN(NR, 3)
UPDATE_TILE_ROW(1)
UPDATE_TILE_ROW(2)
UPDATE_TILE_ROW(3)
UPDATE_TILE_ROW(4)
UPDATE_TILE_ROW(5)
UPDATE_TILE_ROW(6)

typedef void (*update_tile_fn)(__mmask16, size_t, float, const float *, size_t, const float *,
                               size_t, float *, size_t);
static const update_tile_fn update_tiles[UPD_NR][UPD_PV] = {
    {update_1x1, update_1x2, update_1x3}, {update_2x1, update_2x2, update_2x3},
    {update_3x1, update_3x2, update_3x3}, {update_4x1, update_4x2, update_4x3},
    {update_5x1, update_5x2, update_5x3}, {update_6x1, update_6x2, update_6x3}};

static void avx512_update(size_t m, size_t n, size_t k, float alpha, const float *d, size_t ldd,
                          const float *a, size_t lda, float *w, size_t ldw) {
  size_t nr;
  /* Inputs outside (the m x 16*UPD_PV panel of a stays in L1), neurons inside. */
  for (size_t p = 0; p < k; p += 16 * UPD_PV) {
    const size_t cols = k - p < 16 * UPD_PV ? k - p : 16 * UPD_PV;
    const size_t pv = (cols + 15) / 16;
    const __mmask16 mask = mask_for(cols - 16 * (pv - 1));
    for (size_t j = 0; j < n; j += nr) {
      nr = hdrnn_even_tile(n, j, UPD_NR);
      update_tiles[nr - 1][pv - 1](mask, m, alpha, d + j, ldd, a + p, lda, w + j * ldw + p, ldw);
    }
  }
}

/* --------------------------------------------------- element-wise kernels */

/*
 * Logistic function of 16 lanes, the same method as kernels_avx2.c's
 * sigmoid8 (Cephes expf of t = -|x|, clamped so that 2^n stays normal, then
 * 1/(1+e) or e/(1+e)), written with Foundation instructions only: integer
 * or/and instead of the float ones (AVX-512DQ), mask registers for the
 * selections.
 */
HDRNN_INLINE __m512 sigmoid16(__m512 x) {
  const __m512 one = _mm512_set1_ps(1.0f);
  const __m512 lo = _mm512_set1_ps(HDRNN_EXP_LO); /* ln(2^-126) */
  const __m512 t = _mm512_castsi512_ps(
      _mm512_or_si512(_mm512_castps_si512(x), _mm512_set1_epi32((int32_t)0x80000000u)));
  const __m512 tc = _mm512_max_ps(t, lo);
  const __m512 fx = _mm512_roundscale_ps(_mm512_mul_ps(tc, _mm512_set1_ps(HDRNN_EXP_LOG2E)),
                                         _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(fx, _mm512_set1_ps(HDRNN_EXP_LN2_HI), tc);
  r = _mm512_fnmadd_ps(fx, _mm512_set1_ps(HDRNN_EXP_LN2_LO), r);
  __m512 y = _mm512_set1_ps(HDRNN_EXP_P0);
  y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(HDRNN_EXP_P1));
  y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(HDRNN_EXP_P2));
  y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(HDRNN_EXP_P3));
  y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(HDRNN_EXP_P4));
  y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(HDRNN_EXP_P5));
  y = _mm512_fmadd_ps(y, _mm512_mul_ps(r, r), r);
  y = _mm512_add_ps(y, one);
  const __m512i n = _mm512_cvtps_epi32(fx); /* -126..0 */
  const __m512i bits = _mm512_slli_epi32(_mm512_add_epi32(n, _mm512_set1_epi32(127)), 23);
  __m512 e = _mm512_mul_ps(y, _mm512_castsi512_ps(bits));
  e = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(t, lo, _CMP_NLT_UQ), e); /* exp(t) < 2^-126: 0 */
  const __mmask16 negative = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ);
  const __m512 s = _mm512_div_ps(_mm512_mask_blend_ps(negative, one, e), _mm512_add_ps(one, e));
  return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q), s, x);
}

static void avx512_sigmoid(float *x, size_t n) {
  size_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(x + i, sigmoid16(_mm512_loadu_ps(x + i)));
  if (i < n) {
    const __mmask16 mask = mask_for(n - i);
    _mm512_mask_storeu_ps(x + i, mask, sigmoid16(_mm512_maskz_loadu_ps(mask, x + i)));
  }
}

/* d * (a * (1 - a)), the same three roundings as the portable kernel. */
HDRNN_INLINE __m512 sigmoid_backward16(__m512 d, __m512 a) {
  return _mm512_mul_ps(d, _mm512_mul_ps(a, _mm512_sub_ps(_mm512_set1_ps(1.0f), a)));
}

static void avx512_sigmoid_backward(float *d, const float *a, size_t n) {
  size_t i = 0;
  for (; i + 16 <= n; i += 16)
    _mm512_storeu_ps(d + i,
                     sigmoid_backward16(_mm512_loadu_ps(d + i), _mm512_loadu_ps(a + i)));
  if (i < n) {
    const __mmask16 mask = mask_for(n - i);
    _mm512_mask_storeu_ps(d + i, mask,
                          sigmoid_backward16(_mm512_maskz_loadu_ps(mask, d + i),
                                             _mm512_maskz_loadu_ps(mask, a + i)));
  }
}

/* x / 255 exactly, by the FMA-corrected reciprocal of kernels_avx2.c. */
static void avx512_scale_bytes(float *dst, const uint8_t *src, size_t n) {
  const __m512 d255 = _mm512_set1_ps(255.0f);
  const __m512 r255 = _mm512_set1_ps(1.0f / 255.0f);
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m128i bytes = _mm_loadu_si128((const __m128i *)(const void *)(src + i));
    const __m512 x = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(bytes));
    const __m512 q = _mm512_mul_ps(x, r255);
    _mm512_storeu_ps(dst + i, _mm512_fmadd_ps(_mm512_fnmadd_ps(q, d255, x), r255, q));
  }
  for (; i < n; i++) dst[i] = (float)src[i] / 255.0f;
}

static const hdrnn_kernels avx512_kernels = {
    "avx512",       avx512_forward,          avx512_backward,   avx512_update,
    avx512_sigmoid, avx512_sigmoid_backward, avx512_scale_bytes};

const hdrnn_kernels *hdrnn_kernels_avx512_table(void) { return &avx512_kernels; }

#else /* not x86-64, or compiled without -mavx512f */

const hdrnn_kernels *hdrnn_kernels_avx512_table(void) { return NULL; }

#endif
