/*
 * internal.h - what the core's source files share and callers never see.
 */
#ifndef HDRNN_INTERNAL_H
#define HDRNN_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "hdrnn.h"

/*
 * A network owns one allocation of parameters: for each layer its weight
 * matrix ([out][in], row-major, contiguous) followed by its biases. One block
 * makes a consistent snapshot a single memcpy.
 */
struct hdrnn_network {
  size_t layer_count;      /* sizes, including the input layer (>= 2) */
  uint32_t *sizes;         /* layer_count entries */
  size_t *weight_offsets;  /* layer_count - 1 entries, in floats into params */
  size_t *bias_offsets;    /* layer_count - 1 entries */
  size_t parameter_count;
  float *params;           /* parameter_count floats, 64-byte aligned */
  /* Model options (issue 10); a new network is the seed's model. */
  uint8_t *activations;    /* layer_count - 1 entries, hdrnn_activation */
  hdrnn_loss loss;
  float *mean, *std;       /* sizes[0] each, or both NULL: no standardisation */
  char **classes;          /* outputs names, or NULL */
  uint64_t max_working_bytes; /* cap on the workspace of any run on it (limits) */
};

/* 1 when bytes[0..n) is valid UTF-8 (no overlongs, surrogates or NUL). */
int hdrnn_utf8_valid(const uint8_t *bytes, size_t n);

/* Adds n * size bytes to *total; 0 when that overflows. For working-memory sums. */
static inline int hdrnn_add_bytes(uint64_t *total, uint64_t n, uint64_t size) {
  if (size != 0 && n > UINT64_MAX / size) return 0;
  if (*total > UINT64_MAX - n * size) return 0;
  *total += n * size;
  return 1;
}

/* Records a failure in status (may be NULL) and returns code. printf-style. */
hdrnn_code hdrnn_fail(hdrnn_status *status, hdrnn_code code, const char *format, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* Marks status as success and returns HDRNN_OK. */
hdrnn_code hdrnn_ok(hdrnn_status *status);

/* Overflow-checked size arithmetic: return 0 on overflow, 1 on success. */
static inline int hdrnn_mul_size(size_t a, size_t b, size_t *out) {
  if (a != 0 && b > SIZE_MAX / a) return 0;
  *out = a * b;
  return 1;
}
static inline int hdrnn_add_size(size_t a, size_t b, size_t *out) {
  if (b > SIZE_MAX - a) return 0;
  *out = a + b;
  return 1;
}

/* Cache-line aligned allocation of count elements of size bytes; NULL on
 * overflow or failure. Free with hdrnn_aligned_free. */
void *hdrnn_aligned_alloc(size_t count, size_t size);
void hdrnn_aligned_free(void *p);

/* Little-endian loads and stores (the file formats are little-endian). */
static inline uint32_t hdrnn_load_le32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
         (uint32_t)p[3] << 24;
}
static inline uint32_t hdrnn_load_be32(const uint8_t *p) {
  return (uint32_t)p[3] | (uint32_t)p[2] << 8 | (uint32_t)p[1] << 16 |
         (uint32_t)p[0] << 24;
}
static inline void hdrnn_store_le32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
  p[2] = (uint8_t)(v >> 16);
  p[3] = (uint8_t)(v >> 24);
}
uint32_t hdrnn_float_bits(float f);
float hdrnn_bits_float(uint32_t bits);

/* Label of example i (the dataset has been checked to carry labels). */
static inline uint32_t hdrnn_dataset_label(const hdrnn_dataset *d, size_t i) {
  return d->labels8 != NULL ? d->labels8[i] : d->labels32[i];
}

/* What example i should produce: its float targets, or the one-hot row of
 * its label. */
typedef struct hdrnn_target {
  const float *values; /* NULL: one-hot of label */
  uint32_t label;
} hdrnn_target;

static inline hdrnn_target hdrnn_dataset_target(const hdrnn_dataset *d, size_t i) {
  hdrnn_target t;
  t.values = d->targets != NULL ? d->targets + i * d->target_size : NULL;
  t.label = d->targets != NULL ? 0 : hdrnn_dataset_label(d, i);
  return t;
}

static inline float hdrnn_target_at(const hdrnn_target *t, size_t j) {
  return t->values != NULL ? t->values[j] : (j == t->label ? 1.0f : 0.0f);
}

/* x = (x - mean) / std over rows of n inputs, when the network standardises. */
void hdrnn_standardize_rows(const hdrnn_network *net, float *x, size_t rows);

/* Index of the largest of n values, the first on ties (NaN never wins). */
size_t hdrnn_argmax(const float *values, size_t n);

#endif /* HDRNN_INTERNAL_H */
