/*
 * fuzz_network.c - libFuzzer harness for hdrnn_network_decode (seed .nn, v2
 * and v3), with round trips through hdrnn_network_encode.
 *
 * Input: one control byte, then the file.
 *   bits 0-1  limits: 0 small (1<<20 parameters, 16 layers, 4096 neurons),
 *             1 the defaults (NULL), 2 tight (tuned by bits 3-6, to hit the
 *             limit checks on small networks), 3 unlimited (every cap at its
 *             type's maximum: what is allocated must then be bounded by the
 *             input alone, and HDRNN_ERR_LIMIT must never come back)
 *   bit 2     CRC fix-up: when the file is v2 (magic 0x89 'HNN', >= 20
 *             bytes), its last 4 bytes are replaced by the right CRC-32
 *             before decoding, so mutations reach the body parser instead of
 *             dying at the checksum. With the bit clear the checksum check
 *             itself is fuzzed. Doing the fix-up inside the harness (rather
 *             than in a custom mutator) keeps every saved input a complete,
 *             replayable reproducer and works with -merge/-minimize_crash.
 *   bits 3-6  the tight limits' knob
 *   bit 7     also decode with NULL status and NULL format, and compare
 *
 * Oracles (abort() on failure, besides ASan/UBSan/LSan):
 *   - on success: shape and parameters are consistent and finite; encoding
 *     in the input's format reproduces the input byte for byte (both
 *     formats); encoding in v2, and in seed when hdrnn_format_check allows,
 *     decodes back to the same shape and bit-identical parameters; encoding
 *     into a buffer one byte short fails without writing past it; limits set
 *     exactly to the network's size accept it and one below reject it with
 *     HDRNN_ERR_LIMIT; one byte less or more is rejected.
 *   - on failure: *out is NULL, the status carries the code and a message,
 *     the code is one a decoder may return, a v2 file of version 2 with a
 *     wrong CRC is reported as HDRNN_ERR_CHECKSUM.
 *   - during decode, the bytes allocated at any time stay below
 *     8 * input length + 4 KiB (a lying header must not buy memory).
 *   - hdrnn_crc32 matches a bitwise reference and composes incrementally.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hdrnn.h"
#include "fuzz_common.h"

/* ------------------------------------------------------------------ helpers */

static uint32_t crc32_reference(uint32_t crc, const uint8_t *p, size_t n) {
  crc = ~crc;
  for (size_t i = 0; i < n; i++) {
    crc ^= p[i];
    for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ ((crc & 1) ? 0xedb88320u : 0u);
  }
  return ~crc;
}

static uint32_t load_le32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int is_v2(const uint8_t *p, size_t n) {
  return n >= 4 && p[0] == 0x89 && p[1] == 'H' && p[2] == 'N' && p[3] == 'N';
}

static void check_failure(hdrnn_code rc, const hdrnn_status *st) {
  CHECK(st->code == rc);
  CHECK(st->message[0] != '\0');
  CHECK(memchr(st->message, '\0', sizeof st->message) != NULL);
  CHECK(strcmp(hdrnn_code_name(rc), "unknown") != 0);
}

/* Walks the whole network through the public accessors (ASan sees every byte). */
static void check_network(const hdrnn_network *net) {
  const size_t count = hdrnn_network_layer_count(net);
  const uint32_t *sizes = hdrnn_network_sizes(net);
  CHECK(count >= 2 && sizes != NULL);
  size_t total = 0;
  float sum = 0;
  for (size_t l = 0; l < count; l++) CHECK(sizes[l] >= 1);
  for (size_t l = 0; l + 1 < count; l++) {
    const float *w = hdrnn_network_weights_const(net, l);
    const float *b = hdrnn_network_biases_const(net, l);
    CHECK(w != NULL && b != NULL);
    const size_t n = (size_t)sizes[l] * sizes[l + 1];
    for (size_t i = 0; i < n; i++) {
      CHECK(isfinite(w[i]));
      sum += w[i] * 0.0f;
    }
    for (size_t i = 0; i < sizes[l + 1]; i++) {
      CHECK(isfinite(b[i]));
      sum += b[i] * 0.0f;
    }
    total += n + sizes[l + 1];
  }
  CHECK(sum == 0.0f);
  CHECK(hdrnn_network_weights_const(net, count - 1) == NULL);
  CHECK(hdrnn_network_biases_const(net, count - 1) == NULL);
  CHECK(total == hdrnn_network_parameter_count(net));
  CHECK(hdrnn_network_parameters(net) != NULL);
  hdrnn_status st;
  CHECK(hdrnn_network_check_finite(net, &st) == HDRNN_OK);
}

static void check_same(const hdrnn_network *a, const hdrnn_network *b) {
  const size_t count = hdrnn_network_layer_count(a);
  CHECK(hdrnn_network_layer_count(b) == count);
  const uint32_t *sa = hdrnn_network_sizes(a), *sb = hdrnn_network_sizes(b);
  CHECK(memcmp(sa, sb, count * sizeof *sa) == 0);
  CHECK(hdrnn_network_parameter_count(a) == hdrnn_network_parameter_count(b));
  for (size_t l = 0; l + 1 < count; l++) {
    CHECK(memcmp(hdrnn_network_weights_const(a, l), hdrnn_network_weights_const(b, l),
                 (size_t)sa[l] * sa[l + 1] * sizeof(float)) == 0);
    CHECK(memcmp(hdrnn_network_biases_const(a, l), hdrnn_network_biases_const(b, l),
                 sa[l + 1] * sizeof(float)) == 0);
  }
  CHECK(memcmp(hdrnn_network_parameters(a), hdrnn_network_parameters(b),
               hdrnn_network_parameter_count(a) * sizeof(float)) == 0);
}

/*
 * Encodes net in format; if original is given the encoding must equal it.
 * Decodes the encoding again (with limits) and compares.
 */
static void round_trip(const hdrnn_network *net, hdrnn_format format,
                       const hdrnn_limits *limits, const uint8_t *original,
                       size_t original_length) {
  hdrnn_status st;
  size_t size = 0;
  const hdrnn_code check = hdrnn_format_check(net, format, &st);
  hdrnn_code rc = hdrnn_network_encoded_size(net, format, &size, &st);
  CHECK(rc == check);
  if (rc != HDRNN_OK) {
    /* The seed format cannot hold every shape; neither it nor v2 holds
     * the v3 model options. */
    CHECK(rc == HDRNN_ERR_UNSUPPORTED &&
          (format == HDRNN_FORMAT_SEED || (format == HDRNN_FORMAT_V2 && !hdrnn_network_is_plain(net))));
    CHECK(original == NULL);
    check_failure(rc, &st);
    return;
  }
  CHECK(size > 0);
  uint8_t *buf = malloc(size);
  CHECK(buf != NULL);
  rc = hdrnn_network_encode(net, format, buf, size, &st);
  CHECK(rc == HDRNN_OK && st.code == HDRNN_OK);
  if (original != NULL) {
    CHECK(size == original_length);
    CHECK(memcmp(buf, original, size) == 0);
  }
  /* One byte short: refused, and nothing written past the (exact) buffer. */
  uint8_t *short_buf = malloc(size - 1 > 0 ? size - 1 : 1);
  CHECK(short_buf != NULL);
  CHECK(hdrnn_network_encode(net, format, short_buf, size - 1, &st) == HDRNN_ERR_ARGUMENT);
  free(short_buf);
  CHECK(hdrnn_network_encode(net, format, NULL, size, &st) == HDRNN_ERR_ARGUMENT);

  hdrnn_network *back = NULL;
  hdrnn_format detected = (hdrnn_format)0;
  rc = hdrnn_network_decode(buf, size, limits, &back, &detected, &st);
  if (rc != HDRNN_OK) fprintf(stderr, "re-decode failed: %s\n", st.message);
  CHECK(rc == HDRNN_OK && back != NULL && detected == format);
  check_same(net, back);
  hdrnn_network_free(back);
  free(buf);
}

/* Limits exactly at the network's size accept it; one below rejects it. */
static void limit_boundaries(const hdrnn_network *net, const uint8_t *bytes, size_t length) {
  const size_t count = hdrnn_network_layer_count(net);
  const uint32_t *sizes = hdrnn_network_sizes(net);
  uint32_t largest = 0;
  for (size_t l = 0; l < count; l++)
    if (sizes[l] > largest) largest = sizes[l];
  hdrnn_limits exact;
  memset(&exact, 0, sizeof exact);
  exact.max_parameters = hdrnn_network_parameter_count(net);
  exact.max_layers = (uint32_t)count;
  exact.max_layer_size = largest;
  hdrnn_status st;
  hdrnn_network *again = NULL;
  hdrnn_code rc = hdrnn_network_decode(bytes, length, &exact, &again, NULL, &st);
  CHECK(rc == HDRNN_OK);
  check_same(net, again);
  hdrnn_network_free(again);

  for (int which = 0; which < 3; which++) {
    hdrnn_limits below = exact;
    if (which == 0) below.max_parameters -= 1; /* >= 2 parameters always */
    if (which == 1) below.max_layers -= 1;     /* >= 2 layers always */
    if (which == 2) {
      if (largest < 2) continue; /* 0 would mean "the default" */
      below.max_layer_size -= 1;
    }
    again = NULL;
    rc = hdrnn_network_decode(bytes, length, &below, &again, NULL, &st);
    CHECK(rc == HDRNN_ERR_LIMIT && again == NULL);
    check_failure(rc, &st);
  }
}

/* ---------------------------------------------------------------- the test */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  const uint8_t ctrl = data[0];
  const size_t length = size - 1;
  /* An exact-size copy, so that ASan sees reads before or after the file. */
  uint8_t *bytes = malloc(length > 0 ? length : 1);
  CHECK(bytes != NULL);
  if (length > 0) memcpy(bytes, data + 1, length);

  const int fix_crc = (ctrl & 4) != 0 && is_v2(bytes, length) && length >= 20;
  if (fix_crc) {
    const uint32_t crc = hdrnn_crc32(0, bytes, length - 4);
    bytes[length - 4] = (uint8_t)crc;
    bytes[length - 3] = (uint8_t)(crc >> 8);
    bytes[length - 2] = (uint8_t)(crc >> 16);
    bytes[length - 1] = (uint8_t)(crc >> 24);
  }

  /* CRC-32 against the bitwise reference, and split into two calls. */
  {
    const size_t n = length < 256 ? length : 256;
    const size_t cut = n > 0 ? (size_t)ctrl % (n + 1) : 0;
    const uint32_t whole = hdrnn_crc32(0, bytes, n);
    CHECK(whole == crc32_reference(0, bytes, n));
    CHECK(whole == hdrnn_crc32(hdrnn_crc32(0, bytes, cut), bytes + cut, n - cut));
  }

  hdrnn_limits limits_buf;
  memset(&limits_buf, 0, sizeof limits_buf);
  const hdrnn_limits *limits = &limits_buf;
  const int mode = ctrl & 3;
  const unsigned knob = (ctrl >> 3) & 15;
  if (mode == 0) {
    limits_buf.max_parameters = (uint64_t)1 << 20;
    limits_buf.max_layers = 16;
    limits_buf.max_layer_size = 4096;
  } else if (mode == 1) {
    limits = NULL;
  } else if (mode == 2) {
    limits_buf.max_parameters = 1 + (uint64_t)knob * knob * 1000;
    limits_buf.max_layers = 2 + knob % 8;
    limits_buf.max_layer_size = 1 + knob * 60;
  } else {
    limits_buf.max_parameters = UINT64_MAX;
    limits_buf.max_layers = UINT32_MAX;
    limits_buf.max_layer_size = UINT32_MAX;
  }

  hdrnn_status st;
  memset(&st, 0x5a, sizeof st);
  hdrnn_network *net = (hdrnn_network *)&st; /* must be overwritten with NULL */
  hdrnn_format format = (hdrnn_format)0;
  watch_begin();
  const hdrnn_code rc = hdrnn_network_decode(bytes, length, limits, &net, &format, &st);
  const long long peak = watch_end();
  if (peak > 8 * (long long)length + 4096) {
    fprintf(stderr, "decode of %zu bytes had %lld bytes allocated at once\n", length, peak);
    abort();
  }

  if (ctrl & 128) {
    hdrnn_network *net2 = NULL;
    const hdrnn_code rc2 = hdrnn_network_decode(bytes, length, limits, &net2, NULL, NULL);
    CHECK(rc2 == rc);
    CHECK((net2 != NULL) == (rc == HDRNN_OK));
    hdrnn_network_free(net2);
  }

  hdrnn_format detected = (hdrnn_format)0;
  hdrnn_status dst;
  const hdrnn_code drc = hdrnn_format_detect(bytes, length, &detected, &dst);
  if (drc != HDRNN_OK) {
    CHECK(rc == drc && rc == HDRNN_ERR_FORMAT);
  } else {
    const int v3 = length >= 6 && bytes[4] == 3 && bytes[5] == 0;
    CHECK(detected == (bytes[0] == 7 ? HDRNN_FORMAT_SEED : v3 ? HDRNN_FORMAT_V3 : HDRNN_FORMAT_V2));
    CHECK(format == detected);
  }

  if (rc != HDRNN_OK) {
    CHECK(net == NULL);
    check_failure(rc, &st);
    CHECK(rc == HDRNN_ERR_FORMAT || rc == HDRNN_ERR_TRUNCATED || rc == HDRNN_ERR_CHECKSUM ||
          rc == HDRNN_ERR_UNSUPPORTED || rc == HDRNN_ERR_LIMIT || rc == HDRNN_ERR_NO_MEMORY);
    /* Nothing that fits in the input can exceed limits at their maximum. */
    if (mode == 3) CHECK(rc != HDRNN_ERR_LIMIT);
    if (is_v2(bytes, length) && length >= 20 && (bytes[4] == 2 || bytes[4] == 3) && bytes[5] == 0) {
      const int crc_ok = load_le32(bytes + length - 4) == hdrnn_crc32(0, bytes, length - 4);
      CHECK(crc_ok == (rc != HDRNN_ERR_CHECKSUM));
    }
    free(bytes);
    return 0;
  }

  CHECK(net != NULL && st.code == HDRNN_OK);
  check_network(net);

  /* Byte for byte in its own format, then through the others. */
  if (format == HDRNN_FORMAT_V3) {
    /* A v3 file may carry a trainer state: write it back with the same. */
    const uint8_t *state = NULL;
    size_t state_length = 0;
    hdrnn_network *again = NULL;
    CHECK(hdrnn_network_decode_v3(bytes, length, limits, &again, &state, &state_length, &st) == HDRNN_OK);
    check_same(net, again);
    hdrnn_network_free(again);
    size_t n = 0;
    CHECK(hdrnn_network_encoded_size_v3(net, state_length, &n, &st) == HDRNN_OK && n == length);
    uint8_t *out = malloc(n);
    CHECK(out != NULL);
    CHECK(hdrnn_network_encode_v3(net, state, state_length, out, n, &st) == HDRNN_OK);
    CHECK(memcmp(out, bytes, n) == 0);
    free(out);
    round_trip(net, HDRNN_FORMAT_V3, limits, state_length == 0 ? bytes : NULL, length);
  } else {
    round_trip(net, format, limits, bytes, length);
    round_trip(net, HDRNN_FORMAT_V3, limits, NULL, 0);
  }
  if (format != HDRNN_FORMAT_V2) round_trip(net, HDRNN_FORMAT_V2, limits, NULL, 0);
  if (format != HDRNN_FORMAT_SEED) round_trip(net, HDRNN_FORMAT_SEED, limits, NULL, 0);

  /* A copy made by clone is the same network. */
  hdrnn_network *copy = NULL;
  CHECK(hdrnn_network_clone(net, &copy, &st) == HDRNN_OK);
  check_same(net, copy);
  CHECK(hdrnn_network_copy_parameters(copy, net, &st) == HDRNN_OK);
  hdrnn_network_free(copy);

  limit_boundaries(net, bytes, length);

  /* One byte less or one more is not a network file. */
  {
    hdrnn_network *other = NULL;
    hdrnn_code r = hdrnn_network_decode(bytes, length - 1, NULL, &other, NULL, &st);
    CHECK(r != HDRNN_OK && other == NULL);
    if (format == HDRNN_FORMAT_SEED) CHECK(r == HDRNN_ERR_TRUNCATED);
    uint8_t *longer = malloc(length + 1);
    CHECK(longer != NULL);
    memcpy(longer, bytes, length);
    longer[length] = 0;
    r = hdrnn_network_decode(longer, length + 1, NULL, &other, NULL, &st);
    CHECK(r != HDRNN_OK && other == NULL);
    if (format == HDRNN_FORMAT_SEED) CHECK(r == HDRNN_ERR_FORMAT);
    free(longer);
  }

  hdrnn_network_free(net);
  free(bytes);
  return 0;
}
