/*
 * fuzz_idx.c - libFuzzer harness for hdrnn_idx_parse_images and
 * hdrnn_idx_parse_labels. The input is the file itself.
 *
 * Each input is parsed as images and as labels under four sets of limits
 * (defaults, small, unlimited, and exactly at the parsed size / one below).
 * Oracles (abort() on failure, besides ASan/UBSan/LSan):
 *   - on success the view lies inside the input and covers it exactly
 *     (header + count*rows*cols bytes); every pixel and label is read, on an
 *     exact-size copy of the input, so ASan reports a view past its end;
 *   - the parse allocates nothing (the API promises views, no copies);
 *   - a file is never both images and labels; the results agree across
 *     limits (a limit only ever turns success into HDRNN_ERR_LIMIT);
 *   - on failure the status carries the code and a message.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hdrnn.h"
#include "fuzz_common.h"


static volatile unsigned sink;

static void check_failure(hdrnn_code rc, const hdrnn_status *st) {
  CHECK(st->code == rc);
  CHECK(st->message[0] != '\0');
  CHECK(memchr(st->message, '\0', sizeof st->message) != NULL);
  CHECK(rc == HDRNN_ERR_FORMAT || rc == HDRNN_ERR_TRUNCATED || rc == HDRNN_ERR_UNSUPPORTED ||
        rc == HDRNN_ERR_LIMIT);
}

static hdrnn_code images(const uint8_t *bytes, size_t length, const hdrnn_limits *limits,
                         hdrnn_idx_images *out) {
  hdrnn_status st;
  memset(out, 0, sizeof *out);
  watch_begin();
  const hdrnn_code rc = hdrnn_idx_parse_images(bytes, length, limits, out, &st);
  watch_end();
  CHECK(watched_allocations == 0);
  if (rc != HDRNN_OK) {
    check_failure(rc, &st);
    return rc;
  }
  CHECK(st.code == HDRNN_OK);
  hdrnn_limits lim;
  hdrnn_limits_resolve(limits, &lim);
  CHECK(out->rows >= 1 && out->cols >= 1);
  CHECK(out->count <= lim.max_items);
  CHECK((uint64_t)out->rows * out->cols <= lim.max_pixels);
  CHECK(length >= 16 && out->pixels == bytes + 16);
  const uint64_t per = (uint64_t)out->rows * out->cols;
  CHECK(out->count == 0 || per <= (uint64_t)(length - 16) / out->count);
  const uint64_t n = out->count * per;
  CHECK(n == length - 16);
  unsigned sum = 0;
  for (uint64_t i = 0; i < n; i++) sum += out->pixels[i];
  sink = sum;
  return rc;
}

static hdrnn_code labels(const uint8_t *bytes, size_t length, const hdrnn_limits *limits,
                         hdrnn_idx_labels *out) {
  hdrnn_status st;
  memset(out, 0, sizeof *out);
  watch_begin();
  const hdrnn_code rc = hdrnn_idx_parse_labels(bytes, length, limits, out, &st);
  watch_end();
  CHECK(watched_allocations == 0);
  if (rc != HDRNN_OK) {
    check_failure(rc, &st);
    return rc;
  }
  CHECK(st.code == HDRNN_OK);
  hdrnn_limits lim;
  hdrnn_limits_resolve(limits, &lim);
  CHECK(out->count <= lim.max_items);
  CHECK(length >= 8 && out->labels == bytes + 8);
  CHECK((uint64_t)out->count == length - 8);
  unsigned sum = 0;
  for (uint32_t i = 0; i < out->count; i++) sum += out->labels[i];
  sink = sum;
  return rc;
}

static int same_images(const hdrnn_idx_images *a, const hdrnn_idx_images *b) {
  return a->pixels == b->pixels && a->count == b->count && a->rows == b->rows &&
         a->cols == b->cols;
}

static int same_labels(const hdrnn_idx_labels *a, const hdrnn_idx_labels *b) {
  return a->labels == b->labels && a->count == b->count;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  uint8_t *bytes = malloc(size > 0 ? size : 1);
  CHECK(bytes != NULL);
  if (size > 0) memcpy(bytes, data, size);

  hdrnn_limits small, unlimited;
  memset(&small, 0, sizeof small);
  small.max_items = 1000;
  small.max_pixels = 1000;
  memset(&unlimited, 0, sizeof unlimited);
  unlimited.max_items = UINT64_MAX;
  unlimited.max_pixels = UINT64_MAX;

  hdrnn_idx_images im, im2;
  hdrnn_idx_labels lb, lb2;
  const hdrnn_code ri = images(bytes, size, NULL, &im);
  const hdrnn_code rl = labels(bytes, size, NULL, &lb);
  CHECK(ri != HDRNN_OK || rl != HDRNN_OK);

  /* Unlimited: whatever parses under the defaults parses the same way. */
  const hdrnn_code ui = images(bytes, size, &unlimited, &im2);
  if (ri == HDRNN_OK) CHECK(ui == HDRNN_OK && same_images(&im, &im2));
  else if (ri != HDRNN_ERR_LIMIT) CHECK(ui == ri);
  const hdrnn_code ul = labels(bytes, size, &unlimited, &lb2);
  if (rl == HDRNN_OK) CHECK(ul == HDRNN_OK && same_labels(&lb, &lb2));
  else if (rl != HDRNN_ERR_LIMIT) CHECK(ul == rl);

  /* Small: the same, or over the limit. */
  const hdrnn_code si = images(bytes, size, &small, &im2);
  if (ui == HDRNN_OK) CHECK(si == HDRNN_OK || si == HDRNN_ERR_LIMIT);
  if (si == HDRNN_OK) CHECK(ri == HDRNN_OK && same_images(&im2, &im));
  const hdrnn_code sl = labels(bytes, size, &small, &lb2);
  if (ul == HDRNN_OK) CHECK(sl == HDRNN_OK || sl == HDRNN_ERR_LIMIT);
  if (sl == HDRNN_OK) CHECK(rl == HDRNN_OK && same_labels(&lb2, &lb));

  /* Exactly at the limits passes; one below fails with HDRNN_ERR_LIMIT. */
  if (ri == HDRNN_OK) {
    hdrnn_limits exact;
    memset(&exact, 0, sizeof exact);
    exact.max_items = im.count > 0 ? im.count : 1;
    exact.max_pixels = (uint64_t)im.rows * im.cols;
    CHECK(images(bytes, size, &exact, &im2) == HDRNN_OK);
    if (exact.max_items > 1 && im.count > 0) {
      hdrnn_limits below = exact;
      below.max_items--;
      CHECK(images(bytes, size, &below, &im2) == HDRNN_ERR_LIMIT);
    }
    if (exact.max_pixels > 1) {
      hdrnn_limits below = exact;
      below.max_pixels--;
      CHECK(images(bytes, size, &below, &im2) == HDRNN_ERR_LIMIT);
    }
  }
  if (rl == HDRNN_OK && lb.count > 1) {
    hdrnn_limits exact;
    memset(&exact, 0, sizeof exact);
    exact.max_items = lb.count;
    CHECK(labels(bytes, size, &exact, &lb2) == HDRNN_OK);
    exact.max_items--;
    CHECK(labels(bytes, size, &exact, &lb2) == HDRNN_ERR_LIMIT);
  }

  /* NULL status and NULL output must be handled. */
  CHECK(hdrnn_idx_parse_images(bytes, size, NULL, &im2, NULL) == ri);
  CHECK(hdrnn_idx_parse_labels(bytes, size, NULL, &lb2, NULL) == rl);
  CHECK(hdrnn_idx_parse_images(bytes, size, NULL, NULL, NULL) == HDRNN_ERR_ARGUMENT);
  CHECK(hdrnn_idx_parse_labels(bytes, size, NULL, NULL, NULL) == HDRNN_ERR_ARGUMENT);

  free(bytes);
  return 0;
}
