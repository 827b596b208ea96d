/*
 * trainer_state.c - a trainer's state as bytes, for checkpoints: what a
 * resumed run needs to continue exactly as an uninterrupted one would.
 *
 *   offset  size  content (little-endian)
 *   0       4     magic 'H' 'T' 'S' 1
 *   4       4     optimizer (hdrnn_optimizer)
 *   8       4     epochs begun
 *   12      4     moment arrays that follow (0, 1 or 2)
 *   16      8     parameter count P
 *   24      8     example count N
 *   32      32    the shuffle generator (4 x u64)
 *   64      4N    the current order of the examples
 *   ...     4P    first moment (momentum's velocity, adam's m), if any
 *   ...     4P    second moment (adam's v), if any
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "trainer.h"

#define STATE_HEADER 64
static const uint8_t state_magic[4] = {'H', 'T', 'S', 1};

static void store_le64(uint8_t *p, uint64_t v) {
  hdrnn_store_le32(p, (uint32_t)v);
  hdrnn_store_le32(p + 4, (uint32_t)(v >> 32));
}
static uint64_t load_le64(const uint8_t *p) {
  return (uint64_t)hdrnn_load_le32(p) | (uint64_t)hdrnn_load_le32(p + 4) << 32;
}

size_t hdrnn_trainer_state_size(const hdrnn_trainer *t) {
  if (t == NULL) return 0;
  size_t order, moments, total;
  if (!hdrnn_mul_size(t->data.count, 4, &order) ||
      !hdrnn_mul_size(t->net->parameter_count, 4 * (size_t)t->optimizer->moments, &moments) ||
      !hdrnn_add_size(STATE_HEADER, order, &total) || !hdrnn_add_size(total, moments, &total))
    return 0;
  return total;
}

uint32_t hdrnn_trainer_epoch(const hdrnn_trainer *t) { return t != NULL ? t->epoch : 0; }

static uint8_t *put_floats(uint8_t *p, const float *x, size_t n) {
  for (size_t i = 0; i < n; i++, p += 4) hdrnn_store_le32(p, hdrnn_float_bits(x[i]));
  return p;
}

hdrnn_code hdrnn_trainer_get_state(const hdrnn_trainer *t, uint8_t *bytes, size_t length,
                                   hdrnn_status *status) {
  if (t == NULL || bytes == NULL) return hdrnn_fail(status, HDRNN_ERR_ARGUMENT, "missing argument");
  const size_t size = hdrnn_trainer_state_size(t);
  if (size == 0) return hdrnn_fail(status, HDRNN_ERR_LIMIT, "trainer state too large");
  if (length < size)
    return hdrnn_fail(status, HDRNN_ERR_ARGUMENT, "state buffer of %zu bytes, need %zu", length, size);
  memcpy(bytes, state_magic, 4);
  hdrnn_store_le32(bytes + 4, (uint32_t)t->options.optimizer);
  hdrnn_store_le32(bytes + 8, t->epoch);
  hdrnn_store_le32(bytes + 12, t->optimizer->moments);
  store_le64(bytes + 16, t->net->parameter_count);
  store_le64(bytes + 24, t->data.count);
  for (int i = 0; i < 4; i++) store_le64(bytes + 32 + 8 * i, t->rng.s[i]);
  uint8_t *p = bytes + STATE_HEADER;
  for (size_t i = 0; i < t->data.count; i++, p += 4) hdrnn_store_le32(p, t->order[i]);
  if (t->moment1 != NULL) p = put_floats(p, t->moment1, t->net->parameter_count);
  if (t->moment2 != NULL) put_floats(p, t->moment2, t->net->parameter_count);
  return hdrnn_ok(status);
}

hdrnn_code hdrnn_trainer_set_state(hdrnn_trainer *t, const uint8_t *bytes, size_t length,
                                   hdrnn_status *status) {
  if (t == NULL || (bytes == NULL && length > 0))
    return hdrnn_fail(status, HDRNN_ERR_ARGUMENT, "missing argument");
  const size_t size = hdrnn_trainer_state_size(t);
  if (length < STATE_HEADER || memcmp(bytes, state_magic, 4) != 0)
    return hdrnn_fail(status, HDRNN_ERR_FORMAT, "not a trainer state");
  if (hdrnn_load_le32(bytes + 4) != (uint32_t)t->options.optimizer ||
      hdrnn_load_le32(bytes + 12) != t->optimizer->moments)
    return hdrnn_fail(status, HDRNN_ERR_MISMATCH, "the state is of another optimizer");
  if (load_le64(bytes + 16) != t->net->parameter_count || load_le64(bytes + 24) != t->data.count)
    return hdrnn_fail(status, HDRNN_ERR_MISMATCH,
                      "the state is of another network shape or dataset size");
  if (length != size)
    return hdrnn_fail(status, HDRNN_ERR_FORMAT, "trainer state has %zu bytes, expected %zu", length,
                      size);
  /* Check the order is a permutation before taking anything. */
  const size_t n = t->data.count;
  uint8_t *seen = calloc(n, 1);
  if (seen == NULL) return hdrnn_fail(status, HDRNN_ERR_NO_MEMORY, "out of memory");
  const uint8_t *p = bytes + STATE_HEADER;
  for (size_t i = 0; i < n; i++) {
    const uint32_t e = hdrnn_load_le32(p + 4 * i);
    if (e >= n || seen[e]) {
      free(seen);
      return hdrnn_fail(status, HDRNN_ERR_FORMAT, "trainer state: the order is not a permutation");
    }
    seen[e] = 1;
  }
  free(seen);
  const size_t params = t->net->parameter_count;
  const uint8_t *m = p + 4 * n;
  for (size_t i = 0; i < params * t->optimizer->moments; i++)
    if (!isfinite(hdrnn_bits_float(hdrnn_load_le32(m + 4 * i))))
      return hdrnn_fail(status, HDRNN_ERR_FORMAT, "trainer state: a moment is not finite");
  for (size_t i = 0; i < n; i++) t->order[i] = hdrnn_load_le32(p + 4 * i);
  for (int i = 0; i < 4; i++) t->rng.s[i] = load_le64(bytes + 32 + 8 * i);
  t->epoch = hdrnn_load_le32(bytes + 8);
  t->epoch_rate = hdrnn_schedule_rate(&t->options, t->epoch);
  for (size_t i = 0; t->moment1 != NULL && i < params; i++)
    t->moment1[i] = hdrnn_bits_float(hdrnn_load_le32(m + 4 * i));
  for (size_t i = 0; t->moment2 != NULL && i < params; i++)
    t->moment2[i] = hdrnn_bits_float(hdrnn_load_le32(m + 4 * (params + i)));
  return hdrnn_ok(status);
}
