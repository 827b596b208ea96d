/*
 * pgm.c - greyscale Netpbm images: plain (P2, decimal text) and raw (P5,
 * bytes; two big-endian bytes per sample when maxval > 255), '#' comments,
 * any maxval from 1 to 65535. Pixels come out as value / maxval in [0, 1].
 * Anything after the first image is ignored (Netpbm allows several images in
 * one file).
 */
#include "internal.h"

typedef struct reader {
  const uint8_t *p, *end;
} reader;

static int is_space(uint8_t c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Skips whitespace and comments (from '#' to the end of the line). */
static void skip_space(reader *r) {
  while (r->p < r->end) {
    if (is_space(*r->p)) {
      r->p++;
    } else if (*r->p == '#') {
      while (r->p < r->end && *r->p != '\n' && *r->p != '\r') r->p++;
    } else {
      break;
    }
  }
}

/* Reads an unsigned decimal no larger than max; 0 on success, else a code. */
static hdrnn_code read_number(reader *r, uint32_t max, const char *what, uint32_t *out,
                              hdrnn_status *status) {
  skip_space(r);
  if (r->p >= r->end)
    return hdrnn_fail(status, HDRNN_ERR_TRUNCATED, "PGM file ends before its %s", what);
  if (*r->p < '0' || *r->p > '9')
    return hdrnn_fail(status, HDRNN_ERR_FORMAT, "PGM file: expected a number for the %s, found '%c'",
                      what, (*r->p >= 32 && *r->p < 127) ? *r->p : '?');
  uint64_t value = 0;
  while (r->p < r->end && *r->p >= '0' && *r->p <= '9') {
    value = value * 10 + (uint64_t)(*r->p - '0');
    if (value > max)
      return hdrnn_fail(status, HDRNN_ERR_FORMAT, "PGM file: the %s is larger than %u", what,
                        (unsigned)max);
    r->p++;
  }
  if (r->p < r->end && !is_space(*r->p) && *r->p != '#')
    return hdrnn_fail(status, HDRNN_ERR_FORMAT, "PGM file: the %s is followed by '%c'", what,
                      (*r->p >= 32 && *r->p < 127) ? *r->p : '?');
  *out = (uint32_t)value;
  return HDRNN_OK;
}

hdrnn_code hdrnn_pgm_decode(const uint8_t *bytes, size_t length, const hdrnn_limits *limits,
                            hdrnn_pgm_info *info, float *pixels, size_t capacity,
                            hdrnn_status *status) {
  if (info == NULL || (bytes == NULL && length > 0))
    return hdrnn_fail(status, HDRNN_ERR_ARGUMENT, "PGM: missing argument");
  hdrnn_limits lim;
  hdrnn_limits_resolve(limits, &lim);
  if (length < 2) return hdrnn_fail(status, HDRNN_ERR_TRUNCATED, "PGM file is truncated");
  if (bytes[0] != 'P' || (bytes[1] != '2' && bytes[1] != '5'))
    return hdrnn_fail(status, HDRNN_ERR_FORMAT,
                      "not a greyscale PGM image: it must start with P2 or P5");
  reader r = {bytes + 2, bytes + length};
  const int binary = bytes[1] == '5';
  if (r.p < r.end && !is_space(*r.p) && *r.p != '#')
    return hdrnn_fail(status, HDRNN_ERR_FORMAT, "PGM file: no space after the magic number");
  uint32_t width, height, maxval;
  hdrnn_code code;
  if ((code = read_number(&r, UINT32_MAX, "width", &width, status)) != HDRNN_OK ||
      (code = read_number(&r, UINT32_MAX, "height", &height, status)) != HDRNN_OK ||
      (code = read_number(&r, 65535, "maxval", &maxval, status)) != HDRNN_OK)
    return code;
  if (width == 0 || height == 0)
    return hdrnn_fail(status, HDRNN_ERR_FORMAT, "PGM image is %ux%u", (unsigned)width,
                      (unsigned)height);
  if (maxval == 0) return hdrnn_fail(status, HDRNN_ERR_FORMAT, "PGM maxval is 0");
  const uint64_t count = (uint64_t)width * height;
  if (count > lim.max_pixels)
    return hdrnn_fail(status, HDRNN_ERR_LIMIT, "PGM image of %ux%u exceeds the pixel limit",
                      (unsigned)width, (unsigned)height);
  if (pixels != NULL && capacity < count)
    return hdrnn_fail(status, HDRNN_ERR_ARGUMENT, "PGM: room for %zu pixels, need %llu",
                      capacity, (unsigned long long)count);
  const float scale = (float)maxval;
  if (binary) {
    /* Exactly one whitespace byte separates maxval from the raster; a comment
     * right after maxval runs to the end of its line, and that line end is
     * the separator (as Netpbm's own reader has it). */
    if (r.p >= r.end) return hdrnn_fail(status, HDRNN_ERR_TRUNCATED, "PGM file has no pixels");
    if (*r.p == '#')
      while (r.p < r.end && *r.p != '\n' && *r.p != '\r') r.p++;
    if (r.p >= r.end) return hdrnn_fail(status, HDRNN_ERR_TRUNCATED, "PGM file has no pixels");
    r.p++;
    const size_t sample = maxval > 255 ? 2 : 1;
    if ((uint64_t)(r.end - r.p) / sample < count)
      return hdrnn_fail(status, HDRNN_ERR_TRUNCATED,
                        "PGM file is truncated: %ux%u pixels of %zu byte(s) each, %zu bytes "
                        "remain",
                        (unsigned)width, (unsigned)height, sample, (size_t)(r.end - r.p));
    for (uint64_t i = 0; i < count; i++) {
      const uint32_t v = sample == 1 ? r.p[i] : (uint32_t)r.p[2 * i] << 8 | r.p[2 * i + 1];
      if (v > maxval)
        return hdrnn_fail(status, HDRNN_ERR_FORMAT, "PGM pixel %llu is %u, above maxval %u",
                          (unsigned long long)i, (unsigned)v, (unsigned)maxval);
      if (pixels != NULL) pixels[i] = (float)v / scale;
    }
  } else {
    for (uint64_t i = 0; i < count; i++) {
      uint32_t v;
      if ((code = read_number(&r, 65535, "pixel value", &v, status)) != HDRNN_OK) {
        if (code == HDRNN_ERR_TRUNCATED)
          return hdrnn_fail(status, code, "PGM file is truncated: %llu of %llu pixels",
                            (unsigned long long)i, (unsigned long long)count);
        return code;
      }
      if (v > maxval)
        return hdrnn_fail(status, HDRNN_ERR_FORMAT, "PGM pixel %llu is %u, above maxval %u",
                          (unsigned long long)i, (unsigned)v, (unsigned)maxval);
      if (pixels != NULL) pixels[i] = (float)v / scale;
    }
  }
  info->width = width;
  info->height = height;
  info->maxval = maxval;
  info->binary = binary;
  return hdrnn_ok(status);
}
