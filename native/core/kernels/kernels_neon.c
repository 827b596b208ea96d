/*
 * kernels_neon.c - the kernels of kernels.h with NEON (Advanced SIMD)
 * intrinsics, for armv7 (the Cortex-A9 of the i.MX6Quad). AArch64 has its
 * own file, kernels_neon64.c (fused multiply-add, 32 registers).
 *
 * On 32-bit Arm only this file is compiled with -mfpu=neon (see
 * CMakeLists.txt); the rest of the library stays at the VFPv3-D16 baseline, and
 * kernels_select.c hands this table out only when the kernel reports NEON
 * (HWCAP_NEON), so one binary runs on armv7 cores with and without NEON.
 * Compiled without NEON available, the file is a stub whose table is NULL.
 *
 * Arithmetic: the Cortex-A9 has no fused multiply-add (VFPv3/NEONv1), so
 * every multiply-accumulate is vmlaq_f32, a rounded product then a
 * rounded sum. NEON on armv7 always
 * flushes denormals to zero; that is why tails are computed with vectors too
 * (partial loads and stores) instead of scalar VFP code, which keeps
 * denormals: every element sees exactly the same operations.
 *
 * Layout of the work (as in kernels_avx2.c, 4 lanes instead of 8):
 *   forward   dot products along k: a tile of FWD_MR rows x FWD_NR neurons
 *             keeps one 4-lane accumulator per output element; lane l sums
 *             the products with p = l (mod 4) in increasing p, the k % 4 tail
 *             is one more step with zero-padded vectors, then the lanes are
 *             reduced as (l0+l2)+(l1+l3) and the bias is added.
 *   update    a tile of UPD_NR neurons x UPD_PV vectors of 4 inputs:
 *             acc += d[i][j] * a[i][p] over i = 0..m-1, then w += alpha * acc.
 *   backward  a tile of BWD_MR rows x BWD_JV vectors of 4 columns:
 *             acc += a[i][p] * b[p][j] over p = 0..k-1.
 * Stores never touch anything outside the n (or k) columns of a row: other
 * threads may be writing the neighbouring columns at the same time.
 * The Cortex-A9 has 16 q registers, a 64-bit NEON datapath (a q-register
 * vmla takes 2 cycles) and a 32 KB L1 data cache: the main tiles hold 12
 * accumulators and leave 4 registers for operands, the loops walk memory
 * contiguously, and a training epoch's instructions per q vmla went from 4.2
 * to 2.2 by counting them under qemu (npm run bench:armv7):
 * moving pointers instead of rebuilt addresses, deltas used by lane, no
 * library division per tile, and the hottest update tile in assembly.
 */
#include "kernels.h"
#include "kernels_common.h"

#if defined(__arm__) && (defined(__ARM_NEON) || defined(__ARM_NEON__))

#include <arm_neon.h>

#define HDRNN_INLINE static inline __attribute__((always_inline))
/* Tile loops have compile-time bounds; unrolling them early lets the
 * compiler keep every accumulator in a register. */
#define UNROLL _Pragma("GCC unroll 8")

#define MLA(acc, x, y) vmlaq_f32((acc), (x), (y))
/* Makes a pointer opaque to the optimiser, so that a loop keeps one moving
 * pointer per operand (post-incremented vld1) instead of rebuilding every
 * address from a base and a shared index (an extra add per load). */
#define OPAQUE(ptr) __asm__("" : "+r"(ptr))

/*
 * Tile shapes, chosen by counting executed instructions under qemu
 * (npm run bench:armv7; the A9's 16 q registers bound them): a 3 x 4
 * forward tile and a 4 neuron x 3 vector update tile hold 12 accumulators
 * and leave 4 q registers for operands. -D overrides are for trying others.
 */
#ifndef FWD_MR
#define FWD_MR 3 /* rows of a forward tile (at most 4) */
#endif
#define FWD_NR 4 /* neurons of a forward tile (at most 4: reduce4) */
#define UPD_NR 4 /* neurons of an update tile (at most 4: one vector of deltas) */
#ifndef UPD_PV
#define UPD_PV 3 /* vectors of 4 inputs of an update tile (at most 3) */
#endif
#define BWD_MR 4 /* rows of a backward tile */
#define BWD_JV 2 /* vectors of 4 columns of a backward tile */

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

/* acc + x * v[lane] (vmla by scalar: the same roundings as vmlaq_f32 with
 * the lane broadcast); lane is a constant once inlined and unrolled. */
HDRNN_INLINE float32x4_t mla_lane(float32x4_t acc, float32x4_t x, float32x4_t v, size_t lane) {
  switch (lane) {
    case 0: return vmlaq_lane_f32(acc, x, vget_low_f32(v), 0);
    case 1: return vmlaq_lane_f32(acc, x, vget_low_f32(v), 1);
    case 2: return vmlaq_lane_f32(acc, x, vget_high_f32(v), 0);
    default: return vmlaq_lane_f32(acc, x, vget_high_f32(v), 1);
  }
}

/* Lane sums of four accumulators, each (l0+l2)+(l1+l3) whatever the others. */
HDRNN_INLINE float32x4_t reduce4(float32x4_t v0, float32x4_t v1, float32x4_t v2,
                                 float32x4_t v3) {
  const float32x2_t s0 = vadd_f32(vget_low_f32(v0), vget_high_f32(v0));
  const float32x2_t s1 = vadd_f32(vget_low_f32(v1), vget_high_f32(v1));
  const float32x2_t s2 = vadd_f32(vget_low_f32(v2), vget_high_f32(v2));
  const float32x2_t s3 = vadd_f32(vget_low_f32(v3), vget_high_f32(v3));
  return vcombine_f32(vpadd_f32(s0, s1), vpadd_f32(s2, s3));
}

/*
 * Even tiles of at most max along n (as hdrnn_even_tile), with the
 * divisions done once per call: armv7-a on the A9 has no divide
 * instruction, and a library division per tile cost more than the tile's
 * bookkeeping.
 */
typedef struct even_tiles {
  size_t big, base; /* the first `big` tiles have base + 1 elements */
} even_tiles;

HDRNN_INLINE even_tiles even_tiles_of(size_t n, size_t max) {
  even_tiles t = {0, 0};
  if (n == 0) return t;
  const size_t tiles = (n + max - 1) / max;
  t.base = n / tiles;
  t.big = n % tiles;
  return t;
}

/* ------------------------------------------------------------- forward */

HDRNN_INLINE void forward_tile(const size_t MR, const size_t NR, size_t k, const float *a,
                               size_t lda, const float *b, size_t ldb, const float *bias,
                               float *c, size_t ldc) {
  float32x4_t acc[4][FWD_NR];
  /* One moving pointer per operand row: post-incremented vld1, no index arithmetic. */
  const float *ap[4], *bp[FWD_NR];
  UNROLL
  for (size_t i = 0; i < MR; i++) ap[i] = a + i * lda;
  UNROLL
  for (size_t j = 0; j < NR; j++) bp[j] = b + j * ldb;
  UNROLL
  for (size_t i = 0; i < MR; i++)
    UNROLL
    for (size_t j = 0; j < NR; j++) acc[i][j] = vdupq_n_f32(0.0f);
  /* Two steps per loop test (the order of each element's sum is unchanged). */
  _Pragma("GCC unroll 2")
  for (size_t steps = k / 4; steps > 0; steps--) {
    float32x4_t av[4];
    UNROLL
    for (size_t i = 0; i < MR; i++) {
      av[i] = vld1q_f32(ap[i]);
      ap[i] += 4;
      OPAQUE(ap[i]);
    }
    UNROLL
    for (size_t j = 0; j < NR; j++) {
      const float32x4_t bv = vld1q_f32(bp[j]);
      bp[j] += 4;
      OPAQUE(bp[j]);
      UNROLL
      for (size_t i = 0; i < MR; i++) acc[i][j] = MLA(acc[i][j], av[i], bv);
    }
  }
  const size_t rest = k % 4;
  if (rest > 0) {
    float32x4_t av[4];
    UNROLL
    for (size_t i = 0; i < MR; i++) av[i] = load_partial(ap[i], rest);
    UNROLL
    for (size_t j = 0; j < NR; j++) {
      const float32x4_t bv = load_partial(bp[j], rest);
      UNROLL
      for (size_t i = 0; i < MR; i++) acc[i][j] = MLA(acc[i][j], av[i], bv);
    }
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
static const forward_tile_fn forward_tiles[4][FWD_NR] = {
    {forward_1x1, forward_1x2, forward_1x3, forward_1x4},
    {forward_2x1, forward_2x2, forward_2x3, forward_2x4},
    {forward_3x1, forward_3x2, forward_3x3, forward_3x4},
    {forward_4x1, forward_4x2, forward_4x3, forward_4x4}};

static void neon_forward(size_t m, size_t n, size_t k, const float *a, size_t lda,
                         const float *b, size_t ldb, const float *bias, float *c, size_t ldc) {
  /* Neurons outside (their FWD_NR x k weights stay in L1), rows inside. */
  const even_tiles nt = even_tiles_of(n, FWD_NR), mt = even_tiles_of(m, FWD_MR);
  for (size_t j = 0, tj = 0; j < n; tj++) {
    const size_t nr = nt.base + (tj < nt.big);
    for (size_t i = 0, ti = 0; i < m; ti++) {
      const size_t mr = mt.base + (ti < mt.big);
      forward_tiles[mr - 1][nr - 1](k, a + i * lda, lda, b + j * ldb, ldb, bias + j,
                                    c + i * ldc + j, ldc);
      i += mr;
    }
    j += nr;
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
      /* Broadcast by vld1 to all lanes, not through a core register. */
      const float32x4_t ai = vld1q_dup_f32(a + i * lda + p);
      UNROLL
      for (size_t v = 0; v < JV; v++) acc[i][v] = MLA(acc[i][v], bv[v], ai);
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

#define BACKWARD_TILE_FN(MR, JV)                                                             \
  static void backward_##MR##x##JV(size_t last, size_t k, const float *a, size_t lda,       \
                                   const float *b, size_t ldb, float *c, size_t ldc) {      \
    backward_tile(MR, JV, last, k, a, lda, b, ldb, c, ldc);                                  \
  }
#define BACKWARD_TILE_ROW(MR) BACKWARD_TILE_FN(MR, 1) BACKWARD_TILE_FN(MR, 2)
BACKWARD_TILE_ROW(1)
BACKWARD_TILE_ROW(2)
BACKWARD_TILE_ROW(3)
BACKWARD_TILE_ROW(4)

typedef void (*backward_tile_fn)(size_t, size_t, const float *, size_t, const float *, size_t,
                                 float *, size_t);
static const backward_tile_fn backward_tiles[BWD_MR][BWD_JV] = {
    {backward_1x1, backward_1x2},
    {backward_2x1, backward_2x2},
    {backward_3x1, backward_3x2},
    {backward_4x1, backward_4x2}};

static void neon_backward(size_t m, size_t n, size_t k, const float *a, size_t lda,
                          const float *b, size_t ldb, float *c, size_t ldc) {
  const even_tiles mt = even_tiles_of(m, BWD_MR);
  for (size_t j = 0; j < n; j += 4 * BWD_JV) {
    const size_t cols = n - j < 4 * BWD_JV ? n - j : 4 * BWD_JV;
    const size_t jv = (cols + 3) / 4, last = cols - 4 * (jv - 1);
    for (size_t i = 0, ti = 0; i < m; ti++) {
      const size_t mr = mt.base + (ti < mt.big);
      backward_tiles[mr - 1][jv - 1](last, k, a + i * lda, lda, b + j, ldb, c + i * ldc + j,
                                     ldc);
      i += mr;
    }
  }
}

/* -------------------------------------------------------------- update */

/*
 * NR neurons x PV vectors of 4 inputs, the last one holding last (1..4)
 * inputs. Per row i: PV vectors of a, one vector of the NR deltas, and
 * NR x PV vmla by scalar (lane).
 */
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
      av[v] = v == PV - 1 ? load_partial(a + 4 * v, last) : vld1q_f32(a + 4 * v);
    const float32x4_t dv = load_partial(d, NR);
    UNROLL
    for (size_t j = 0; j < NR; j++)
      UNROLL
      for (size_t v = 0; v < PV; v++) acc[j][v] = mla_lane(acc[j][v], av[v], dv, j);
    a += lda;
    d += ldd;
    OPAQUE(a);
    OPAQUE(d);
  }
  const float32x2_t alpha2 = vdup_n_f32(alpha);
  UNROLL
  for (size_t j = 0; j < NR; j++)
    UNROLL
    for (size_t v = 0; v < PV; v++) {
      float *wp = w + j * ldw + 4 * v;
      if (v == PV - 1)
        store_partial(wp, vmlaq_lane_f32(load_partial(wp, last), acc[j][v], alpha2, 0), last);
      else
        vst1q_f32(wp, vmlaq_lane_f32(vld1q_f32(wp), acc[j][v], alpha2, 0));
    }
}

/*
 * The tile nearly every update runs (4 neurons x 12 inputs, all full), in
 * assembly: GCC spills one of the 12 accumulators here or rebuilds
 * addresses, 21-30 instructions per row where 18 do (3 + 1 vld1, 12 vmla,
 * subs, bne). The same operations as update_tile(4, 3, 4, ...), so its
 * results are bit-identical to the C tiles: acc starts at 0, acc += a *
 * d[lane] by vmla by scalar (product rounded, then sum), w += acc * alpha
 * the same way. q0 holds the deltas (by-scalar operands must be in d0-d15),
 * q1-q3 the inputs, q4-q15 the accumulators.
 */
static void update_4x3_full(size_t tiles, size_t m_rows, float alpha, const float *d_tile,
                            size_t ldd, const float *a_panel, size_t lda, float *w_tile,
                            size_t ldw) {
  /* Strides in bytes; a row of a (and of w) is read as 32 bytes + 16 bytes. */
  const size_t a_step = lda * sizeof(float) - 32, d_step = ldd * sizeof(float);
  const size_t w_step = ldw * sizeof(float) - 32;
  /* `tiles` tiles side by side: neurons 4t..4t+3, the same 12 inputs. */
  for (size_t t = 0; t < tiles; t++, d_tile += 4, w_tile += 4 * ldw) {
  size_t m = m_rows;
  const float *a = a_panel, *d = d_tile;
  float *w = w_tile, *w_in = w_tile;
  __asm__ volatile(
      "vmov.i32 q4, #0\n\t"
      "vmov.i32 q5, #0\n\t"
      "vmov.i32 q6, #0\n\t"
      "vmov.i32 q7, #0\n\t"
      "vmov.i32 q8, #0\n\t"
      "vmov.i32 q9, #0\n\t"
      "vmov.i32 q10, #0\n\t"
      "vmov.i32 q11, #0\n\t"
      "vmov.i32 q12, #0\n\t"
      "vmov.i32 q13, #0\n\t"
      "vmov.i32 q14, #0\n\t"
      "vmov.i32 q15, #0\n\t"
      "cmp %[m], #0\n\t"
      "beq 2f\n"
      "1:\n\t"
      "vld1.32 {d2-d5}, [%[a]]!\n\t"
      "vld1.32 {d6-d7}, [%[a]], %[a_step]\n\t"
      "vld1.32 {d0-d1}, [%[d]], %[d_step]\n\t"
      "vmla.f32 q4, q1, d0[0]\n\t"
      "vmla.f32 q5, q2, d0[0]\n\t"
      "vmla.f32 q6, q3, d0[0]\n\t"
      "vmla.f32 q7, q1, d0[1]\n\t"
      "vmla.f32 q8, q2, d0[1]\n\t"
      "vmla.f32 q9, q3, d0[1]\n\t"
      "vmla.f32 q10, q1, d1[0]\n\t"
      "vmla.f32 q11, q2, d1[0]\n\t"
      "vmla.f32 q12, q3, d1[0]\n\t"
      "vmla.f32 q13, q1, d1[1]\n\t"
      "vmla.f32 q14, q2, d1[1]\n\t"
      "vmla.f32 q15, q3, d1[1]\n\t"
      "subs %[m], %[m], #1\n\t"
      "bne 1b\n"
      "2:\n\t"
      "vdup.32 d0, %[alpha]\n\t"
#define HDRNN_UPDATE_ROW(A, B, C)                     \
      "vld1.32 {d2-d5}, [%[w_in]]!\n\t"              \
      "vld1.32 {d6-d7}, [%[w_in]], %[w_step]\n\t"    \
      "vmla.f32 q1, " A ", d0[0]\n\t"                \
      "vmla.f32 q2, " B ", d0[0]\n\t"                \
      "vmla.f32 q3, " C ", d0[0]\n\t"                \
      "vst1.32 {d2-d5}, [%[w]]!\n\t"                 \
      "vst1.32 {d6-d7}, [%[w]], %[w_step]\n\t"
      HDRNN_UPDATE_ROW("q4", "q5", "q6")
      HDRNN_UPDATE_ROW("q7", "q8", "q9")
      HDRNN_UPDATE_ROW("q10", "q11", "q12")
      HDRNN_UPDATE_ROW("q13", "q14", "q15")
#undef HDRNN_UPDATE_ROW
      : [m] "+r"(m), [a] "+r"(a), [d] "+r"(d), [w] "+r"(w), [w_in] "+r"(w_in)
      : [a_step] "r"(a_step), [d_step] "r"(d_step), [w_step] "r"(w_step), [alpha] "r"(alpha)
      : "cc", "memory", "d0", "d1", "d2", "d3", "d4", "d5", "d6", "d7", "d8", "d9", "d10",
        "d11", "d12", "d13", "d14", "d15", "d16", "d17", "d18", "d19", "d20", "d21", "d22",
        "d23", "d24", "d25", "d26", "d27", "d28", "d29", "d30", "d31");
  }
}

/* Two functions per shape: the last vector full (last = 4, no lane loads) or partial. */
#define UPDATE_TILE_FN(NR, PV)                                                               \
  static void update_##NR##x##PV(size_t last, size_t m, float alpha, const float *d,        \
                                 size_t ldd, const float *a, size_t lda, float *w,          \
                                 size_t ldw) {                                               \
    if (last == 4)                                                                           \
      update_tile(NR, PV, 4, m, alpha, d, ldd, a, lda, w, ldw);                              \
    else                                                                                     \
      update_tile(NR, PV, last, m, alpha, d, ldd, a, lda, w, ldw);                           \
  }
#define UPDATE_TILE_ROW(NR) UPDATE_TILE_FN(NR, 1) UPDATE_TILE_FN(NR, 2) UPDATE_TILE_FN(NR, 3)
UPDATE_TILE_ROW(1)
UPDATE_TILE_ROW(2)
UPDATE_TILE_ROW(3)
UPDATE_TILE_FN(4, 1)
UPDATE_TILE_FN(4, 2)
static void update_4x3(size_t last, size_t m, float alpha, const float *d, size_t ldd,
                       const float *a, size_t lda, float *w, size_t ldw) {
  if (last == 4)
    update_4x3_full(1, m, alpha, d, ldd, a, lda, w, ldw);
  else
    update_tile(4, 3, last, m, alpha, d, ldd, a, lda, w, ldw);
}

typedef void (*update_tile_fn)(size_t, size_t, float, const float *, size_t, const float *,
                               size_t, float *, size_t);
static const update_tile_fn update_tiles[UPD_NR][3] = {
    {update_1x1, update_1x2, update_1x3},
    {update_2x1, update_2x2, update_2x3},
    {update_3x1, update_3x2, update_3x3},
    {update_4x1, update_4x2, update_4x3}};

static void neon_update(size_t m, size_t n, size_t k, float alpha, const float *d, size_t ldd,
                        const float *a, size_t lda, float *w, size_t ldw) {
  /* Inputs outside (the m x 4*UPD_PV panel of a stays in L1), neurons inside. */
  const even_tiles nt = even_tiles_of(n, UPD_NR);
  /* The leading tiles of 4 neurons (even tiles: all of them, or the first `big`). */
  const size_t fours = nt.base == 4 ? (n + 3) / 4 : nt.base == 3 ? nt.big : 0;
  for (size_t p = 0; p < k; p += 4 * UPD_PV) {
    const size_t cols = k - p < 4 * UPD_PV ? k - p : 4 * UPD_PV;
    const size_t pv = (cols + 3) / 4, last = cols - 4 * (pv - 1);
    size_t j = 0, tj = 0;
    if (cols == 12 && fours > 0) { /* the common tiles, in one call */
      update_4x3_full(fours, m, alpha, d, ldd, a + p, lda, w + p, ldw);
      j = 4 * fours, tj = fours;
    }
    for (; j < n; tj++) {
      const size_t nr = nt.base + (tj < nt.big);
      update_tiles[nr - 1][pv - 1](last, m, alpha, d + j, ldd, a + p, lda, w + j * ldw + p,
                                   ldw);
      j += nr;
    }
  }
}

/* --------------------------------------------------- element-wise kernels */

/* num / den for den in [1, 2]: armv7 NEON has no division, so the
 * reciprocal estimate refined by two Newton steps (~1-2 ulp). */
HDRNN_INLINE float32x4_t divide(float32x4_t num, float32x4_t den) {
  float32x4_t r = vrecpeq_f32(den);
  r = vmulq_f32(r, vrecpsq_f32(den, r));
  r = vmulq_f32(r, vrecpsq_f32(den, r));
  return vmulq_f32(num, r);
}

/*
 * Logistic function of 4 lanes. With t = -|x| and e = exp(t) in (0, 1]:
 * x >= 0 gives 1 / (1 + e), x < 0 gives e / (1 + e); neither can overflow.
 * exp is Cephes' expf: t = n ln2 + r, n = floor(t log2(e) + 1/2), a degree-7
 * polynomial for exp(r) (relative error about 1e-7), times 2^n built in the
 * exponent bits. t is clamped so that 2^n stays normal; below that exp(t) <
 * 2^-126 and is taken as 0, so sigmoid saturates to exactly 0 and 1. NaN
 * stays NaN.
 */
HDRNN_INLINE float32x4_t sigmoid4(float32x4_t x) {
  const float32x4_t one = vdupq_n_f32(1.0f);
  const float32x4_t lo = vdupq_n_f32(HDRNN_EXP_LO); /* ln(2^-126) */
  const float32x4_t t =
      vreinterpretq_f32_u32(vorrq_u32(vreinterpretq_u32_f32(x), vdupq_n_u32(0x80000000u)));
  const float32x4_t tc = vmaxq_f32(t, lo);
  /* n = floor(tc log2(e) + 1/2): truncation, minus 1 where that rounded up. */
  const float32x4_t f = vmlaq_f32(vdupq_n_f32(0.5f), tc, vdupq_n_f32(HDRNN_EXP_LOG2E));
  int32x4_t n = vcvtq_s32_f32(f);
  float32x4_t fx = vcvtq_f32_s32(n);
  const uint32x4_t up = vcgtq_f32(fx, f);
  n = vaddq_s32(n, vreinterpretq_s32_u32(up)); /* up is all ones (-1) where set */
  fx = vcvtq_f32_s32(n);
  float32x4_t r = vmlsq_f32(tc, fx, vdupq_n_f32(HDRNN_EXP_LN2_HI));
  r = vmlsq_f32(r, fx, vdupq_n_f32(HDRNN_EXP_LN2_LO));
  float32x4_t y = vdupq_n_f32(HDRNN_EXP_P0);
  y = vmlaq_f32(vdupq_n_f32(HDRNN_EXP_P1), y, r);
  y = vmlaq_f32(vdupq_n_f32(HDRNN_EXP_P2), y, r);
  y = vmlaq_f32(vdupq_n_f32(HDRNN_EXP_P3), y, r);
  y = vmlaq_f32(vdupq_n_f32(HDRNN_EXP_P4), y, r);
  y = vmlaq_f32(vdupq_n_f32(HDRNN_EXP_P5), y, r);
  y = vmlaq_f32(r, y, vmulq_f32(r, r));
  y = vaddq_f32(y, one);
  const int32x4_t bits = vshlq_n_s32(vaddq_s32(n, vdupq_n_s32(127)), 23); /* n in -126..0 */
  float32x4_t e = vmulq_f32(y, vreinterpretq_f32_s32(bits));
  e = vreinterpretq_f32_u32(
      vbicq_u32(vreinterpretq_u32_f32(e), vcltq_f32(t, lo))); /* exp(t) < 2^-126: 0 */
  const float32x4_t num = vbslq_f32(vcltq_f32(x, vdupq_n_f32(0.0f)), e, one);
  const float32x4_t s = divide(num, vaddq_f32(one, e));
  return vbslq_f32(vceqq_f32(x, x), s, x); /* NaN in, NaN out */
}

static void neon_sigmoid(float *x, size_t n) {
  size_t i = 0;
  for (; i + 4 <= n; i += 4) vst1q_f32(x + i, sigmoid4(vld1q_f32(x + i)));
  if (i < n) store_partial(x + i, sigmoid4(load_partial(x + i, n - i)), n - i);
}

/* d * (a * (1 - a)), three roundings as in the portable kernel. */
HDRNN_INLINE float32x4_t sigmoid_backward4(float32x4_t d, float32x4_t a) {
  return vmulq_f32(d, vmulq_f32(a, vsubq_f32(vdupq_n_f32(1.0f), a)));
}

static void neon_sigmoid_backward(float *d, const float *a, size_t n) {
  size_t i = 0;
  for (; i + 4 <= n; i += 4)
    vst1q_f32(d + i, sigmoid_backward4(vld1q_f32(d + i), vld1q_f32(a + i)));
  if (i < n)
    store_partial(d + i,
                  sigmoid_backward4(load_partial(d + i, n - i), load_partial(a + i, n - i)),
                  n - i);
}

/*
 * (float)v / 255.0f, correctly rounded, without a division (armv7 NEON has
 * none). 1/255 = 2^-8 + LO with LO = (float)(1/255 - 2^-8): v * 2^-8 is
 * exact, v * LO is rounded once, and their rounded sum (vmla: product, then
 * sum) is the correctly rounded v / 255 for every v in 0..255 - checked for
 * all 256 by test_kernels (v / 255 is never near a tie: its binary expansion
 * repeats v's 8 bits). 16 bytes per step; the tail uses a table of the 256
 * quotients, each folded by the compiler from that exact expression.
 */
#define SCALE_LO ((float)(1.0 / 255.0 - 1.0 / 256.0)) /* 1.5318628e-05f */
#define SCALE1(v) ((float)(v) / 255.0f)
#define SCALE4(v) SCALE1(v), SCALE1((v) + 1), SCALE1((v) + 2), SCALE1((v) + 3)
#define SCALE16(v) SCALE4(v), SCALE4((v) + 4), SCALE4((v) + 8), SCALE4((v) + 12)
#define SCALE64(v) SCALE16(v), SCALE16((v) + 16), SCALE16((v) + 32), SCALE16((v) + 48)
static const float byte_scale[256] = {SCALE64(0), SCALE64(64), SCALE64(128), SCALE64(192)};

HDRNN_INLINE float32x4_t scale4(uint16x4_t v) {
  const float32x4_t f = vcvtq_f32_u32(vmovl_u16(v));
  return vmlaq_f32(vmulq_f32(f, vdupq_n_f32(0.00390625f)), f, vdupq_n_f32(SCALE_LO));
}

static void neon_scale_bytes(float *dst, const uint8_t *src, size_t n) {
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const uint8x16_t v = vld1q_u8(src + i);
    const uint16x8_t lo = vmovl_u8(vget_low_u8(v)), hi = vmovl_u8(vget_high_u8(v));
    vst1q_f32(dst + i, scale4(vget_low_u16(lo)));
    vst1q_f32(dst + i + 4, scale4(vget_high_u16(lo)));
    vst1q_f32(dst + i + 8, scale4(vget_low_u16(hi)));
    vst1q_f32(dst + i + 12, scale4(vget_high_u16(hi)));
  }
  for (; i < n; i++) dst[i] = byte_scale[src[i]];
}

static const hdrnn_kernels neon_kernels = {
    "neon",       neon_forward, neon_backward,         neon_update,
    neon_sigmoid, neon_sigmoid_backward, neon_scale_bytes};

const hdrnn_kernels *hdrnn_kernels_neon_table(void) { return &neon_kernels; }

#else /* no armv7 NEON in this build */

const hdrnn_kernels *hdrnn_kernels_neon_table(void) { return NULL; }

#endif
