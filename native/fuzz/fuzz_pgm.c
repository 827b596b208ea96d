/*
 * fuzz_pgm.c - libFuzzer harness for hdrnn_pgm_decode. The input is the
 * file itself (on an exact-size copy, so ASan sees any read past its end).
 *
 * 1. header only (pixels NULL), default limits;
 * 2. if that succeeds and width*height is modest: exactly width*height floats
 *    are allocated and decoded into; both calls must agree (code and info),
 *    every value must be in [0, 1] and of the form v / maxval;
 * 3. a buffer one float short is refused with HDRNN_ERR_ARGUMENT (and, being
 *    exact-size, ASan sees any write past it);
 * 4. the image is written again as canonical P5 and P2 and decoded: the same
 *    info (but for P2/P5) and bit-identical pixels;
 * 5. max_pixels exactly width*height passes, one below gives HDRNN_ERR_LIMIT;
 *    max_pixels at its maximum gives the same result as the defaults;
 * and no call allocates anything; failures carry their code and a message.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hdrnn.h"
#include "fuzz_common.h"

#define MODEST_PIXELS ((uint64_t)1 << 22)
#define REWRITE_PIXELS ((uint64_t)1 << 16)

static hdrnn_code decode(const uint8_t *bytes, size_t length, const hdrnn_limits *limits,
                         hdrnn_pgm_info *info, float *pixels, size_t capacity) {
  hdrnn_status st;
  memset(info, 0, sizeof *info);
  watch_begin();
  const hdrnn_code rc = hdrnn_pgm_decode(bytes, length, limits, info, pixels, capacity, &st);
  watch_end();
  CHECK(watched_allocations == 0);
  CHECK(st.code == rc);
  if (rc != HDRNN_OK) {
    CHECK(st.message[0] != '\0');
    CHECK(memchr(st.message, '\0', sizeof st.message) != NULL);
    CHECK(rc == HDRNN_ERR_FORMAT || rc == HDRNN_ERR_TRUNCATED || rc == HDRNN_ERR_LIMIT ||
          (rc == HDRNN_ERR_ARGUMENT && pixels != NULL));
  } else {
    CHECK(info->width >= 1 && info->height >= 1);
    CHECK(info->maxval >= 1 && info->maxval <= 65535);
    CHECK(info->binary == (bytes[1] == '5'));
  }
  return rc;
}

static int same_info(const hdrnn_pgm_info *a, const hdrnn_pgm_info *b) {
  return a->width == b->width && a->height == b->height && a->maxval == b->maxval &&
         a->binary == b->binary;
}

/* Writes pixels (values v / maxval) as a canonical P5 or P2 file. */
static uint8_t *rewrite(const hdrnn_pgm_info *info, const uint32_t *values, size_t count,
                        int binary, size_t *length) {
  char head[64];
  const int h = snprintf(head, sizeof head, "P%c\n%u %u\n%u\n", binary ? '5' : '2',
                         (unsigned)info->width, (unsigned)info->height,
                         (unsigned)info->maxval);
  CHECK(h > 0 && (size_t)h < sizeof head);
  const size_t per = binary ? (info->maxval > 255 ? 2 : 1) : 6; /* "65535 " */
  uint8_t *out = malloc((size_t)h + count * per + 1);
  CHECK(out != NULL);
  memcpy(out, head, (size_t)h);
  uint8_t *p = out + h;
  for (size_t i = 0; i < count; i++) {
    if (binary && per == 1) {
      *p++ = (uint8_t)values[i];
    } else if (binary) {
      *p++ = (uint8_t)(values[i] >> 8);
      *p++ = (uint8_t)values[i];
    } else {
      p += sprintf((char *)p, "%u%c", (unsigned)values[i], i + 1 == count ? '\n' : ' ');
    }
  }
  *length = (size_t)(p - out);
  /* Shrink to the exact size so ASan sees reads past the end. */
  uint8_t *exact = malloc(*length);
  CHECK(exact != NULL);
  memcpy(exact, out, *length);
  free(out);
  return exact;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  uint8_t *bytes = malloc(size > 0 ? size : 1);
  CHECK(bytes != NULL);
  if (size > 0) memcpy(bytes, data, size);

  hdrnn_pgm_info info, info2;
  const hdrnn_code rc = decode(bytes, size, NULL, &info, NULL, 0);

  /* Unlimited pixels: the same answer unless the default limit was the reason. */
  hdrnn_limits unlimited;
  memset(&unlimited, 0, sizeof unlimited);
  unlimited.max_pixels = UINT64_MAX;
  const hdrnn_code ru = decode(bytes, size, &unlimited, &info2, NULL, 0);
  if (rc != HDRNN_ERR_LIMIT) CHECK(ru == rc);
  if (rc == HDRNN_OK) CHECK(same_info(&info, &info2));

  /* NULL status and NULL info. */
  {
    hdrnn_pgm_info scratch;
    CHECK(hdrnn_pgm_decode(bytes, size, NULL, &scratch, NULL, 0, NULL) == rc);
    CHECK(hdrnn_pgm_decode(bytes, size, NULL, NULL, NULL, 0, NULL) == HDRNN_ERR_ARGUMENT);
  }

  if (rc != HDRNN_OK) {
    free(bytes);
    return 0;
  }
  const uint64_t count = (uint64_t)info.width * info.height;
  CHECK(count <= HDRNN_DEFAULT_MAX_PIXELS);

  /* Limits at the image's size and one below. */
  {
    hdrnn_limits exact;
    memset(&exact, 0, sizeof exact);
    exact.max_pixels = count;
    CHECK(decode(bytes, size, &exact, &info2, NULL, 0) == HDRNN_OK);
    if (count > 1) {
      exact.max_pixels = count - 1;
      CHECK(decode(bytes, size, &exact, &info2, NULL, 0) == HDRNN_ERR_LIMIT);
    }
  }

  if (count > MODEST_PIXELS) {
    free(bytes);
    return 0;
  }
  float *pixels = malloc((size_t)count * sizeof *pixels);
  CHECK(pixels != NULL);
  CHECK(decode(bytes, size, NULL, &info2, pixels, (size_t)count) == HDRNN_OK);
  CHECK(same_info(&info, &info2));
  uint32_t *values = malloc((size_t)count * sizeof *values);
  CHECK(values != NULL);
  for (uint64_t i = 0; i < count; i++) {
    const float f = pixels[i];
    CHECK(f >= 0.0f && f <= 1.0f); /* false for NaN too */
    const double v = floor((double)f * info.maxval + 0.5);
    CHECK(v >= 0 && v <= info.maxval);
    values[i] = (uint32_t)v;
    CHECK((float)values[i] / (float)info.maxval == f);
  }

  /* One float short: refused before anything is written. */
  if (count > 1) {
    float *short_buf = malloc((size_t)(count - 1) * sizeof *short_buf);
    CHECK(short_buf != NULL);
    CHECK(decode(bytes, size, NULL, &info2, short_buf, (size_t)count - 1) ==
          HDRNN_ERR_ARGUMENT);
    free(short_buf);
  }

  /* The same image written canonically as P5 and P2 reads back the same. */
  if (count <= REWRITE_PIXELS) {
    float *again = malloc((size_t)count * sizeof *again);
    CHECK(again != NULL);
    for (int binary = 0; binary <= 1; binary++) {
      size_t length = 0;
      uint8_t *file = rewrite(&info, values, (size_t)count, binary, &length);
      CHECK(decode(file, length, NULL, &info2, again, (size_t)count) == HDRNN_OK);
      CHECK(info2.width == info.width && info2.height == info.height &&
            info2.maxval == info.maxval && info2.binary == binary);
      CHECK(memcmp(again, pixels, (size_t)count * sizeof *again) == 0);
      free(file);
    }
    free(again);
  }

  free(values);
  free(pixels);
  free(bytes);
  return 0;
}
