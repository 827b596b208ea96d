/*
 * idx.c - MNIST's IDX files (big-endian header, unsigned bytes).
 *
 *   images: 00 00 08 03, count, rows, cols (u32 BE), then count*rows*cols bytes
 *   labels: 00 00 08 01, count (u32 BE), then count bytes
 *
 * The parse returns views into the caller's bytes: nothing is allocated, so a
 * header that lies about its size can do no more than fail the length check.
 */
#include "internal.h"

static hdrnn_code check_magic(const uint8_t *bytes, size_t length, uint8_t dims,
                              const char *what, hdrnn_status *status) {
  if (bytes == NULL && length > 0) return hdrnn_fail(status, HDRNN_ERR_ARGUMENT, "missing bytes");
  if (length < 4)
    return hdrnn_fail(status, HDRNN_ERR_TRUNCATED, "IDX %s file is truncated: %zu bytes", what,
                      length);
  if (bytes[0] != 0 || bytes[1] != 0)
    return hdrnn_fail(status, HDRNN_ERR_FORMAT,
                      "not an IDX file: it starts 0x%02x%02x, expected 0x0000 (gzipped? "
                      "gunzip it first)",
                      bytes[0], bytes[1]);
  if (bytes[2] != 0x08)
    return hdrnn_fail(status, HDRNN_ERR_UNSUPPORTED,
                      "IDX %s file has element type 0x%02x; only unsigned bytes (0x08) are "
                      "supported",
                      what, bytes[2]);
  if (bytes[3] != dims)
    return hdrnn_fail(status, HDRNN_ERR_FORMAT,
                      "IDX %s file has %u dimensions, expected %u (is it the %s file?)", what,
                      bytes[3], dims, dims == 3 ? "labels" : "images");
  if (length < 4 + 4 * (size_t)dims)
    return hdrnn_fail(status, HDRNN_ERR_TRUNCATED, "IDX %s file is truncated in its header",
                      what);
  return HDRNN_OK;
}

static hdrnn_code check_length(size_t length, size_t header, uint64_t items, uint64_t item_size,
                               const char *what, hdrnn_status *status) {
  const size_t available = length - header;
  /* items < 2^32 and item_size < 2^64 / 2^32 is checked by the caller. */
  if (item_size != 0 && items > (uint64_t)available / item_size)
    return hdrnn_fail(status, HDRNN_ERR_TRUNCATED,
                      "IDX %s file is truncated: its header promises %llu x %llu bytes, "
                      "%zu follow it",
                      what, (unsigned long long)items, (unsigned long long)item_size,
                      available);
  if (items * item_size != (uint64_t)available)
    return hdrnn_fail(status, HDRNN_ERR_FORMAT,
                      "IDX %s file has %llu bytes more than its header promises", what,
                      (unsigned long long)((uint64_t)available - items * item_size));
  return HDRNN_OK;
}

hdrnn_code hdrnn_idx_parse_images(const uint8_t *bytes, size_t length,
                                  const hdrnn_limits *limits, hdrnn_idx_images *out,
                                  hdrnn_status *status) {
  if (out == NULL) return hdrnn_fail(status, HDRNN_ERR_ARGUMENT, "missing output");
  hdrnn_limits lim;
  hdrnn_limits_resolve(limits, &lim);
  hdrnn_code code = check_magic(bytes, length, 3, "images", status);
  if (code != HDRNN_OK) return code;
  const uint32_t count = hdrnn_load_be32(bytes + 4), rows = hdrnn_load_be32(bytes + 8),
                 cols = hdrnn_load_be32(bytes + 12);
  if (count > lim.max_items)
    return hdrnn_fail(status, HDRNN_ERR_LIMIT,
                      "IDX images file holds %u images, more than the limit of %llu",
                      (unsigned)count, (unsigned long long)lim.max_items);
  if (rows == 0 || cols == 0)
    return hdrnn_fail(status, HDRNN_ERR_FORMAT, "IDX images are %ux%u", (unsigned)rows,
                      (unsigned)cols);
  const uint64_t pixels = (uint64_t)rows * cols; /* < 2^64 */
  if (pixels > lim.max_pixels)
    return hdrnn_fail(status, HDRNN_ERR_LIMIT, "IDX images of %ux%u exceed the pixel limit",
                      (unsigned)rows, (unsigned)cols);
  code = check_length(length, 16, count, pixels, "images", status);
  if (code != HDRNN_OK) return code;
  out->pixels = bytes + 16;
  out->count = count;
  out->rows = rows;
  out->cols = cols;
  return hdrnn_ok(status);
}

hdrnn_code hdrnn_idx_parse_labels(const uint8_t *bytes, size_t length,
                                  const hdrnn_limits *limits, hdrnn_idx_labels *out,
                                  hdrnn_status *status) {
  if (out == NULL) return hdrnn_fail(status, HDRNN_ERR_ARGUMENT, "missing output");
  hdrnn_limits lim;
  hdrnn_limits_resolve(limits, &lim);
  hdrnn_code code = check_magic(bytes, length, 1, "labels", status);
  if (code != HDRNN_OK) return code;
  const uint32_t count = hdrnn_load_be32(bytes + 4);
  if (count > lim.max_items)
    return hdrnn_fail(status, HDRNN_ERR_LIMIT,
                      "IDX labels file holds %u labels, more than the limit of %llu",
                      (unsigned)count, (unsigned long long)lim.max_items);
  code = check_length(length, 8, count, 1, "labels", status);
  if (code != HDRNN_OK) return code;
  out->labels = bytes + 8;
  out->count = count;
  return hdrnn_ok(status);
}
