/*
 * status.c - error reporting and the small shared helpers.
 */
#define _POSIX_C_SOURCE 200112L
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

const char *hdrnn_code_name(hdrnn_code code) {
  switch (code) {
    case HDRNN_OK: return "ok";
    case HDRNN_ERR_ARGUMENT: return "argument";
    case HDRNN_ERR_NO_MEMORY: return "no_memory";
    case HDRNN_ERR_LIMIT: return "limit";
    case HDRNN_ERR_FORMAT: return "format";
    case HDRNN_ERR_TRUNCATED: return "truncated";
    case HDRNN_ERR_CHECKSUM: return "checksum";
    case HDRNN_ERR_UNSUPPORTED: return "unsupported";
    case HDRNN_ERR_MISMATCH: return "mismatch";
    case HDRNN_ERR_SYSTEM: return "system";
    case HDRNN_ERR_DIVERGED: return "diverged";
    case HDRNN_ERR_CANCELLED: return "cancelled";
  }
  return "unknown";
}

hdrnn_code hdrnn_fail(hdrnn_status *status, hdrnn_code code, const char *format, ...) {
  if (status != NULL) {
    va_list args;
    va_start(args, format);
    status->code = code;
    /* vsnprintf formats into the caller's buffer; nothing is printed. */
    vsnprintf(status->message, sizeof status->message, format, args);
    va_end(args);
  }
  return code;
}

hdrnn_code hdrnn_ok(hdrnn_status *status) {
  if (status != NULL) {
    status->code = HDRNN_OK;
    status->message[0] = '\0';
  }
  return HDRNN_OK;
}

void *hdrnn_aligned_alloc(size_t count, size_t size) {
  size_t bytes;
  if (!hdrnn_mul_size(count, size, &bytes)) return NULL;
  if (bytes == 0) bytes = 64; /* a valid pointer even for empty arrays */
  void *p = NULL;
  if (posix_memalign(&p, 64, bytes) != 0) return NULL;
  return p;
}

void hdrnn_aligned_free(void *p) { free(p); }

uint32_t hdrnn_float_bits(float f) {
  uint32_t bits;
  memcpy(&bits, &f, sizeof bits);
  return bits;
}

float hdrnn_bits_float(uint32_t bits) {
  float f;
  memcpy(&f, &bits, sizeof f);
  return f;
}

size_t hdrnn_argmax(const float *values, size_t n) {
  size_t best = 0;
  for (size_t i = 1; i < n; i++)
    if (values[i] > values[best] || (values[best] != values[best] && values[i] == values[i])) best = i;
  return best;
}

void hdrnn_limits_resolve(const hdrnn_limits *in, hdrnn_limits *out) {
  hdrnn_limits l;
  memset(&l, 0, sizeof l);
  if (in != NULL) l = *in;
  if (l.max_parameters == 0) l.max_parameters = HDRNN_DEFAULT_MAX_PARAMETERS;
  if (l.max_layers == 0) l.max_layers = HDRNN_DEFAULT_MAX_LAYERS;
  if (l.max_layer_size == 0) l.max_layer_size = HDRNN_DEFAULT_MAX_LAYER_SIZE;
  if (l.max_items == 0) l.max_items = HDRNN_DEFAULT_MAX_ITEMS;
  if (l.max_pixels == 0) l.max_pixels = HDRNN_DEFAULT_MAX_PIXELS;
  if (l.max_working_bytes == 0) l.max_working_bytes = HDRNN_DEFAULT_MAX_WORKING_BYTES;
  *out = l;
}
