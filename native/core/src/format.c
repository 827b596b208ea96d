/*
 * format.c - the network file formats.
 *
 * Seed format (SPEC.md): byte 7, H, H hidden sizes (one byte each), then the
 * biases of every layer, then the weights of every layer ([out][in]), all
 * float32 little-endian. Input 784 and output 10 are implied.
 *
 * Version 2 (this package; everything the seed format cannot hold):
 *   offset  size  content
 *   0       4     magic 0x89 'H' 'N' 'N'  (first byte never 7: told apart from the seed)
 *   4       2     format version, u16 = 2
 *   6       2     flags, u16, must be 0 (a reader rejects flags it does not know)
 *   8       4     activation, u32: 0 = sigmoid (the only one so far)
 *   12      4     L, u32: number of layer sizes including input and output (>= 2)
 *   16      4L    the layer sizes, u32 each (>= 1)
 *   16+4L   4P    the parameters in the seed's order: all biases, then all weights
 *   end-4   4     CRC-32 (zlib's) of every byte before it
 * All integers and floats little-endian.
 *
 * Version 3 (issue 10: what v2 cannot hold), same magic:
 *   0       4     magic 0x89 'H' 'N' 'N'
 *   4       2     format version, u16 = 3
 *   6       2     flags, u16: 1 standardisation, 2 class names, 4 trainer state (others: reject)
 *   8       4     loss, u32 (hdrnn_loss)
 *   12      4     L, u32: number of layer sizes (>= 2)
 *   16      4L    the layer sizes
 *   16+4L   L-1   the activation of each non-input layer, one byte each (hdrnn_activation)
 *   ...     4P    the parameters, as v2
 *   [flag 1] 4*in means, then 4*in standard deviations
 *   [flag 2] per output: u8 length n (1..255), n bytes of UTF-8
 *   [flag 4] u32 length n, then n bytes of trainer state (hdrnn_trainer_get_state)
 *   end-4   4     CRC-32 of every byte before it
 * 'auto' in the API picks seed, then v2, then v3 by what the network needs,
 * so a network of the seed's model is never written in a newer format.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define SEED_MAGIC 7
#define SEED_INPUTS 784
#define SEED_OUTPUTS 10
#define V2_VERSION 2
#define V2_ACTIVATION_SIGMOID 0
#define V2_FIXED_HEADER 16
#define V3_VERSION 3
#define V3_FLAG_STANDARDIZATION 1u
#define V3_FLAG_CLASSES 2u
#define V3_FLAG_STATE 4u

static const uint8_t v2_magic[4] = {0x89, 'H', 'N', 'N'};

hdrnn_code hdrnn_format_detect(const uint8_t *bytes, size_t length, hdrnn_format *format,
                               hdrnn_status *status) {
  if (bytes == NULL && length > 0)
    return hdrnn_fail(status, HDRNN_ERR_ARGUMENT, "missing bytes");
  if (length == 0) return hdrnn_fail(status, HDRNN_ERR_FORMAT, "network file is empty");
  if (bytes[0] == SEED_MAGIC) {
    if (format != NULL) *format = HDRNN_FORMAT_SEED;
    return hdrnn_ok(status);
  }
  if (length >= 4 && memcmp(bytes, v2_magic, 4) == 0) {
    const int v3 = length >= 6 && ((uint32_t)bytes[4] | (uint32_t)bytes[5] << 8) == V3_VERSION;
    if (format != NULL) *format = v3 ? HDRNN_FORMAT_V3 : HDRNN_FORMAT_V2;
    return hdrnn_ok(status);
  }
  return hdrnn_fail(status, HDRNN_ERR_FORMAT,
                    "not a network file: first byte is 0x%02x, expected 0x07 (seed .nn) or "
                    "0x89 'HNN' (hdrnn v2)",
                    bytes[0]);
}

hdrnn_code hdrnn_format_check(const hdrnn_network *net, hdrnn_format format,
                              hdrnn_status *status) {
  if (net == NULL) return hdrnn_fail(status, HDRNN_ERR_ARGUMENT, "missing network");
  if (format == HDRNN_FORMAT_V3) return hdrnn_ok(status);
  if (format != HDRNN_FORMAT_SEED && format != HDRNN_FORMAT_V2)
    return hdrnn_fail(status, HDRNN_ERR_ARGUMENT, "unknown format %d", (int)format);
  if (!hdrnn_network_is_plain(net))
    return hdrnn_fail(status, HDRNN_ERR_UNSUPPORTED,
                      "the %s format holds only the seed's model (sigmoid layers, quadratic "
                      "cost, no standardisation or class names); use the v3 format",
                      format == HDRNN_FORMAT_SEED ? "seed .nn" : "v2");
  if (format == HDRNN_FORMAT_V2) return hdrnn_ok(status);
  const size_t hidden = net->layer_count - 2;
  if (net->sizes[0] != SEED_INPUTS || net->sizes[net->layer_count - 1] != SEED_OUTPUTS)
    return hdrnn_fail(status, HDRNN_ERR_UNSUPPORTED,
                      "the seed .nn format holds only 784 inputs and 10 outputs, this "
                      "network has %u and %u; use the v2 format",
                      (unsigned)net->sizes[0], (unsigned)net->sizes[net->layer_count - 1]);
  if (hidden > 255)
    return hdrnn_fail(status, HDRNN_ERR_UNSUPPORTED,
                      "the seed .nn format holds at most 255 hidden layers; use the v2 format");
  for (size_t l = 1; l <= hidden; l++)
    if (net->sizes[l] > 255)
      return hdrnn_fail(status, HDRNN_ERR_UNSUPPORTED,
                        "the seed .nn format holds hidden layers of at most 255 neurons, "
                        "layer %zu has %u; use the v2 format",
                        l, (unsigned)net->sizes[l]);
  return hdrnn_ok(status);
}

hdrnn_code hdrnn_network_encoded_size(const hdrnn_network *net, hdrnn_format format,
                                      size_t *size, hdrnn_status *status) {
  hdrnn_code code = hdrnn_format_check(net, format, status);
  if (code != HDRNN_OK) return code;
  if (format == HDRNN_FORMAT_V3) return hdrnn_network_encoded_size_v3(net, 0, size, status);
  size_t header, body, total;
  if (format == HDRNN_FORMAT_SEED)
    header = 2 + (net->layer_count - 2);
  else if (!hdrnn_mul_size(net->layer_count, 4, &header) ||
           !hdrnn_add_size(header, V2_FIXED_HEADER + 4, &header))
    return hdrnn_fail(status, HDRNN_ERR_LIMIT, "network too large to encode");
  if (!hdrnn_mul_size(net->parameter_count, 4, &body) || !hdrnn_add_size(header, body, &total))
    return hdrnn_fail(status, HDRNN_ERR_LIMIT, "network too large to encode");
  *size = total;
  return hdrnn_ok(status);
}

/* Writes the parameters in file order (all biases, then all weights) at p. */
static uint8_t *write_parameters(const hdrnn_network *net, uint8_t *p) {
  for (size_t l = 0; l + 1 < net->layer_count; l++) {
    const float *b = net->params + net->bias_offsets[l];
    for (size_t i = 0; i < net->sizes[l + 1]; i++, p += 4) hdrnn_store_le32(p, hdrnn_float_bits(b[i]));
  }
  for (size_t l = 0; l + 1 < net->layer_count; l++) {
    const float *w = net->params + net->weight_offsets[l];
    const size_t n = (size_t)net->sizes[l] * net->sizes[l + 1];
    for (size_t i = 0; i < n; i++, p += 4) hdrnn_store_le32(p, hdrnn_float_bits(w[i]));
  }
  return p;
}

static const uint8_t *read_parameters(hdrnn_network *net, const uint8_t *p) {
  for (size_t l = 0; l + 1 < net->layer_count; l++) {
    float *b = net->params + net->bias_offsets[l];
    for (size_t i = 0; i < net->sizes[l + 1]; i++, p += 4) b[i] = hdrnn_bits_float(hdrnn_load_le32(p));
  }
  for (size_t l = 0; l + 1 < net->layer_count; l++) {
    float *w = net->params + net->weight_offsets[l];
    const size_t n = (size_t)net->sizes[l] * net->sizes[l + 1];
    for (size_t i = 0; i < n; i++, p += 4) w[i] = hdrnn_bits_float(hdrnn_load_le32(p));
  }
  return p;
}

hdrnn_code hdrnn_network_encode(const hdrnn_network *net, hdrnn_format format, uint8_t *bytes,
                                size_t length, hdrnn_status *status) {
  if (format == HDRNN_FORMAT_V3) return hdrnn_network_encode_v3(net, NULL, 0, bytes, length, status);
  size_t size;
  hdrnn_code code = hdrnn_network_encoded_size(net, format, &size, status);
  if (code != HDRNN_OK) return code;
  if (bytes == NULL || length < size)
    return hdrnn_fail(status, HDRNN_ERR_ARGUMENT, "encode: buffer of %zu bytes, need %zu",
                      length, size);
  uint8_t *p = bytes;
  if (format == HDRNN_FORMAT_SEED) {
    *p++ = SEED_MAGIC;
    *p++ = (uint8_t)(net->layer_count - 2);
    for (size_t l = 1; l + 1 < net->layer_count; l++) *p++ = (uint8_t)net->sizes[l];
    write_parameters(net, p);
  } else {
    memcpy(p, v2_magic, 4);
    p[4] = V2_VERSION & 0xff;
    p[5] = V2_VERSION >> 8;
    p[6] = p[7] = 0;
    hdrnn_store_le32(p + 8, V2_ACTIVATION_SIGMOID);
    hdrnn_store_le32(p + 12, (uint32_t)net->layer_count);
    p += V2_FIXED_HEADER;
    for (size_t l = 0; l < net->layer_count; l++, p += 4) hdrnn_store_le32(p, net->sizes[l]);
    p = write_parameters(net, p);
    hdrnn_store_le32(p, hdrnn_crc32(0, bytes, (size_t)(p - bytes)));
  }
  return hdrnn_ok(status);
}

/*
 * Creates the network for a parsed shape. The byte count is checked against
 * the shape before anything is allocated, so a short file with a lying header
 * cannot make us allocate what its header claims.
 */
static hdrnn_code decode_body(const uint8_t *params, size_t available, const uint32_t *sizes,
                              size_t count, const hdrnn_limits *limits, hdrnn_network **out,
                              size_t *used, hdrnn_status *status) {
  uint64_t need = 0; /* parameters; sizes < 2^32 so each layer fits in uint64 */
  for (size_t l = 0; l < count; l++) {
    if (sizes[l] == 0)
      return hdrnn_fail(status, HDRNN_ERR_FORMAT, "network file: layer %zu has size 0", l);
    if (l == 0) continue;
    const uint64_t layer = ((uint64_t)sizes[l - 1] + 1) * (uint64_t)sizes[l];
    /* Both halves: UINT64_MAX / 8 - layer must not wrap when layer alone is huge. */
    if (layer > UINT64_MAX / 8 || need > UINT64_MAX / 8 - layer) /* far beyond any buffer */
      return hdrnn_fail(status, HDRNN_ERR_TRUNCATED, "network file is truncated: "
                        "its shape needs more bytes than can exist");
    need += layer;
  }
  if (need > available / 4)
    return hdrnn_fail(status, HDRNN_ERR_TRUNCATED,
                      "network file is truncated: its shape needs %llu parameters "
                      "(%llu bytes) but only %zu bytes follow the header",
                      (unsigned long long)need, (unsigned long long)need * 4, available);
  if (used != NULL)
    *used = (size_t)need * 4; /* v3: more sections follow */
  else if (need * 4 != available)
    return hdrnn_fail(status, HDRNN_ERR_FORMAT,
                      "network file has %zu bytes more than its shape needs",
                      available - (size_t)need * 4);
  hdrnn_network *net = NULL;
  hdrnn_code code = hdrnn_network_create(&net, sizes, count, limits, status);
  if (code != HDRNN_OK) return code;
  read_parameters(net, params);
  code = hdrnn_network_check_finite(net, status);
  if (code != HDRNN_OK) {
    hdrnn_network_free(net);
    return code;
  }
  *out = net;
  return hdrnn_ok(status);
}

static hdrnn_code decode_seed(const uint8_t *bytes, size_t length, const hdrnn_limits *limits,
                              hdrnn_network **out, hdrnn_status *status) {
  if (length < 2)
    return hdrnn_fail(status, HDRNN_ERR_TRUNCATED, "seed .nn file is truncated: %zu byte(s)",
                      length);
  const size_t hidden = bytes[1];
  if (length < 2 + hidden)
    return hdrnn_fail(status, HDRNN_ERR_TRUNCATED,
                      "seed .nn file is truncated: it names %zu hidden layers but is %zu bytes",
                      hidden, length);
  uint32_t sizes[255 + 2];
  sizes[0] = SEED_INPUTS;
  for (size_t l = 0; l < hidden; l++) {
    sizes[l + 1] = bytes[2 + l];
    if (sizes[l + 1] == 0)
      return hdrnn_fail(status, HDRNN_ERR_FORMAT, "seed .nn file: hidden layer %zu has size 0",
                        l + 1);
  }
  sizes[hidden + 1] = SEED_OUTPUTS;
  return decode_body(bytes + 2 + hidden, length - 2 - hidden, sizes, hidden + 2, limits, out,
                     NULL, status);
}

/* The CRC-32 in a v2/v3 file's last 4 bytes against everything before it
 * (length >= 4 is the caller's check): HDRNN_OK or HDRNN_ERR_CHECKSUM. */
static hdrnn_code check_crc(const uint8_t *bytes, size_t length, const char *kind,
                            hdrnn_status *status) {
  const uint32_t stored = hdrnn_load_le32(bytes + length - 4);
  const uint32_t actual = hdrnn_crc32(0, bytes, length - 4);
  if (stored != actual)
    return hdrnn_fail(status, HDRNN_ERR_CHECKSUM,
                      "hdrnn %s file is corrupted or truncated: checksum 0x%08x does not match "
                      "its contents (0x%08x)",
                      kind, (unsigned)stored, (unsigned)actual);
  return HDRNN_OK;
}

static hdrnn_code decode_v2(const uint8_t *bytes, size_t length, const hdrnn_limits *limits,
                            hdrnn_network **out, hdrnn_status *status) {
  hdrnn_limits lim;
  hdrnn_limits_resolve(limits, &lim);
  if (length < V2_FIXED_HEADER + 4)
    return hdrnn_fail(status, HDRNN_ERR_TRUNCATED, "hdrnn v2 file is truncated: %zu bytes",
                      length);
  const uint32_t version = (uint32_t)bytes[4] | (uint32_t)bytes[5] << 8;
  const uint32_t flags = (uint32_t)bytes[6] | (uint32_t)bytes[7] << 8;
  const uint32_t activation = hdrnn_load_le32(bytes + 8);
  const uint32_t count = hdrnn_load_le32(bytes + 12);
  if (version != V2_VERSION)
    return hdrnn_fail(status, HDRNN_ERR_UNSUPPORTED,
                      "hdrnn file format version %u is not supported (this build reads 2 and 3)",
                      (unsigned)version);
  /* The checksum first: a corrupted file is reported as corruption, whatever
   * its damaged header would otherwise make us say. */
  if (check_crc(bytes, length, "v2", status) != HDRNN_OK) return HDRNN_ERR_CHECKSUM;
  if (flags != 0)
    return hdrnn_fail(status, HDRNN_ERR_UNSUPPORTED, "hdrnn v2 file uses unknown flags 0x%04x",
                      (unsigned)flags);
  if (activation != V2_ACTIVATION_SIGMOID)
    return hdrnn_fail(status, HDRNN_ERR_UNSUPPORTED,
                      "hdrnn v2 file uses activation %u; this build knows only sigmoid (0)",
                      (unsigned)activation);
  if (count < 2) return hdrnn_fail(status, HDRNN_ERR_FORMAT, "hdrnn v2 file has %u layers", (unsigned)count);
  if (count > lim.max_layers)
    return hdrnn_fail(status, HDRNN_ERR_LIMIT,
                      "hdrnn v2 file has %u layers, more than the limit of %u", (unsigned)count,
                      (unsigned)lim.max_layers);
  const size_t body = length - V2_FIXED_HEADER - 4;
  if ((size_t)count > body / 4)
    return hdrnn_fail(status, HDRNN_ERR_TRUNCATED,
                      "hdrnn v2 file is truncated: %u layer sizes do not fit in %zu bytes",
                      (unsigned)count, length);
  uint32_t *sizes = hdrnn_aligned_alloc(count, sizeof *sizes);
  if (sizes == NULL) return hdrnn_fail(status, HDRNN_ERR_NO_MEMORY, "out of memory");
  for (uint32_t l = 0; l < count; l++) sizes[l] = hdrnn_load_le32(bytes + V2_FIXED_HEADER + 4 * l);
  const hdrnn_code code = decode_body(bytes + V2_FIXED_HEADER + 4 * (size_t)count,
                                      body - 4 * (size_t)count, sizes, count, &lim, out, NULL,
                                      status);
  hdrnn_aligned_free(sizes);
  return code;
}

hdrnn_code hdrnn_network_decode(const uint8_t *bytes, size_t length, const hdrnn_limits *limits,
                                hdrnn_network **out, hdrnn_format *format,
                                hdrnn_status *status) {
  if (out == NULL) return hdrnn_fail(status, HDRNN_ERR_ARGUMENT, "decode: missing argument");
  *out = NULL;
  hdrnn_format detected = HDRNN_FORMAT_V2; /* set by detect; initialised for the compilers that cannot see it */
  hdrnn_code code = hdrnn_format_detect(bytes, length, &detected, status);
  if (code != HDRNN_OK) return code;
  if (format != NULL) *format = detected;
  if (detected == HDRNN_FORMAT_V3)
    return hdrnn_network_decode_v3(bytes, length, limits, out, NULL, NULL, status);
  return detected == HDRNN_FORMAT_SEED ? decode_seed(bytes, length, limits, out, status)
                                       : decode_v2(bytes, length, limits, out, status);
}

/* ------------------------------------------------------------ version 3 */

static uint32_t v3_flags(const hdrnn_network *net, size_t state_length) {
  return (net->mean != NULL ? V3_FLAG_STANDARDIZATION : 0) |
         (net->classes != NULL ? V3_FLAG_CLASSES : 0) | (state_length > 0 ? V3_FLAG_STATE : 0);
}

hdrnn_code hdrnn_network_encoded_size_v3(const hdrnn_network *net, size_t state_length,
                                         size_t *size, hdrnn_status *status) {
  if (net == NULL || size == NULL) return hdrnn_fail(status, HDRNN_ERR_ARGUMENT, "missing argument");
  const size_t inputs = net->sizes[0], outputs = net->sizes[net->layer_count - 1];
  size_t total, part;
  int ok = hdrnn_mul_size(net->layer_count, 5, &total) && /* sizes + activations (one less) */
           hdrnn_add_size(total, V2_FIXED_HEADER + 4 - 1, &total) &&
           hdrnn_mul_size(net->parameter_count, 4, &part) && hdrnn_add_size(total, part, &total);
  if (ok && net->mean != NULL) ok = hdrnn_mul_size(inputs, 8, &part) && hdrnn_add_size(total, part, &total);
  if (ok && net->classes != NULL)
    for (size_t i = 0; ok && i < outputs; i++) ok = hdrnn_add_size(total, 1 + strlen(net->classes[i]), &total);
  if (ok && state_length > 0)
    ok = state_length <= UINT32_MAX && hdrnn_add_size(total, 4, &total) &&
         hdrnn_add_size(total, state_length, &total);
  if (!ok) return hdrnn_fail(status, HDRNN_ERR_LIMIT, "network too large to encode");
  *size = total;
  return hdrnn_ok(status);
}

static uint8_t *put_floats(uint8_t *p, const float *x, size_t n) {
  for (size_t i = 0; i < n; i++, p += 4) hdrnn_store_le32(p, hdrnn_float_bits(x[i]));
  return p;
}

hdrnn_code hdrnn_network_encode_v3(const hdrnn_network *net, const uint8_t *state,
                                   size_t state_length, uint8_t *bytes, size_t length,
                                   hdrnn_status *status) {
  if (state == NULL && state_length > 0)
    return hdrnn_fail(status, HDRNN_ERR_ARGUMENT, "missing trainer state");
  size_t size;
  hdrnn_code code = hdrnn_network_encoded_size_v3(net, state_length, &size, status);
  if (code != HDRNN_OK) return code;
  if (bytes == NULL || length < size)
    return hdrnn_fail(status, HDRNN_ERR_ARGUMENT, "encode: buffer of %zu bytes, need %zu", length, size);
  const uint32_t flags = v3_flags(net, state_length);
  uint8_t *p = bytes;
  memcpy(p, v2_magic, 4);
  p[4] = V3_VERSION & 0xff;
  p[5] = V3_VERSION >> 8;
  p[6] = (uint8_t)flags;
  p[7] = (uint8_t)(flags >> 8);
  hdrnn_store_le32(p + 8, (uint32_t)net->loss);
  hdrnn_store_le32(p + 12, (uint32_t)net->layer_count);
  p += V2_FIXED_HEADER;
  for (size_t l = 0; l < net->layer_count; l++, p += 4) hdrnn_store_le32(p, net->sizes[l]);
  for (size_t l = 0; l + 1 < net->layer_count; l++) *p++ = net->activations[l];
  p = write_parameters(net, p);
  if (net->mean != NULL) {
    p = put_floats(p, net->mean, net->sizes[0]);
    p = put_floats(p, net->std, net->sizes[0]);
  }
  if (net->classes != NULL)
    for (size_t i = 0; i < net->sizes[net->layer_count - 1]; i++) {
      const size_t n = strlen(net->classes[i]);
      *p++ = (uint8_t)n;
      memcpy(p, net->classes[i], n);
      p += n;
    }
  if (state_length > 0) {
    hdrnn_store_le32(p, (uint32_t)state_length);
    memcpy(p + 4, state, state_length);
    p += 4 + state_length;
  }
  hdrnn_store_le32(p, hdrnn_crc32(0, bytes, (size_t)(p - bytes)));
  return hdrnn_ok(status);
}

/* Reads the optional sections after the parameters, [p, end). */
static hdrnn_code decode_v3_sections(hdrnn_network *net, uint32_t flags, const uint8_t *p,
                                     const uint8_t *end, const uint8_t **state,
                                     size_t *state_length, hdrnn_status *status) {
  const size_t inputs = net->sizes[0], outputs = net->sizes[net->layer_count - 1];
  if (flags & V3_FLAG_STANDARDIZATION) {
    if ((size_t)(end - p) / 8 < inputs)
      return hdrnn_fail(status, HDRNN_ERR_TRUNCATED, "hdrnn v3 file is truncated in its standardisation");
    float *mean = malloc(inputs * sizeof *mean), *stdev = malloc(inputs * sizeof *stdev);
    if (mean == NULL || stdev == NULL) {
      free(mean);
      free(stdev);
      return hdrnn_fail(status, HDRNN_ERR_NO_MEMORY, "out of memory");
    }
    for (size_t i = 0; i < inputs; i++) {
      mean[i] = hdrnn_bits_float(hdrnn_load_le32(p + 4 * i));
      stdev[i] = hdrnn_bits_float(hdrnn_load_le32(p + 4 * (inputs + i)));
    }
    p += 8 * inputs;
    hdrnn_code code = hdrnn_network_set_standardization(net, mean, stdev, status);
    free(mean);
    free(stdev);
    if (code != HDRNN_OK)
      return hdrnn_fail(status, HDRNN_ERR_FORMAT, "hdrnn v3 file: bad standardisation (%s)",
                        status != NULL ? status->message : "");
  }
  if (flags & V3_FLAG_CLASSES) {
    /* Each name costs at least 2 bytes: check the count fits before allocating. */
    if ((size_t)(end - p) / 2 < outputs)
      return hdrnn_fail(status, HDRNN_ERR_TRUNCATED, "hdrnn v3 file is truncated in its class names");
    const char **names = calloc(outputs, sizeof *names);
    char *text = malloc((size_t)(end - p) + outputs);
    if (names == NULL || text == NULL) {
      free(names);
      free(text);
      return hdrnn_fail(status, HDRNN_ERR_NO_MEMORY, "out of memory");
    }
    char *t = text;
    hdrnn_code code = HDRNN_OK;
    for (size_t i = 0; i < outputs && code == HDRNN_OK; i++) {
      const size_t n = p < end ? *p : 0;
      if (p >= end || (size_t)(end - p - 1) < n) {
        code = hdrnn_fail(status, HDRNN_ERR_TRUNCATED, "hdrnn v3 file is truncated in class name %zu", i);
        break;
      }
      /* set_classes sees C strings: a NUL inside would cut the name short. */
      if (memchr(p + 1, 0, n) != NULL) {
        code = hdrnn_fail(status, HDRNN_ERR_FORMAT, "hdrnn v3 file: class name %zu contains a NUL byte", i);
        break;
      }
      memcpy(t, p + 1, n);
      t[n] = '\0';
      names[i] = t;
      t += n + 1;
      p += 1 + n;
    }
    if (code == HDRNN_OK && hdrnn_network_set_classes(net, names, outputs, status) != HDRNN_OK)
      code = hdrnn_fail(status, HDRNN_ERR_FORMAT, "hdrnn v3 file: bad class names (%s)",
                        status != NULL ? status->message : "");
    free(names);
    free(text);
    if (code != HDRNN_OK) return code;
  }
  if (flags & V3_FLAG_STATE) {
    if (end - p < 4)
      return hdrnn_fail(status, HDRNN_ERR_TRUNCATED, "hdrnn v3 file is truncated in its trainer state");
    const size_t n = hdrnn_load_le32(p);
    if (n == 0 || (size_t)(end - p - 4) < n)
      return hdrnn_fail(status, HDRNN_ERR_TRUNCATED, "hdrnn v3 file is truncated in its trainer state");
    if (state != NULL) *state = p + 4;
    if (state_length != NULL) *state_length = n;
    p += 4 + n;
  }
  if (p != end)
    return hdrnn_fail(status, HDRNN_ERR_FORMAT, "hdrnn v3 file has %zu bytes more than it describes",
                      (size_t)(end - p));
  return hdrnn_ok(status);
}

hdrnn_code hdrnn_network_decode_v3(const uint8_t *bytes, size_t length, const hdrnn_limits *limits,
                                   hdrnn_network **out, const uint8_t **state,
                                   size_t *state_length, hdrnn_status *status) {
  if (out == NULL || (bytes == NULL && length > 0))
    return hdrnn_fail(status, HDRNN_ERR_ARGUMENT, "decode: missing argument");
  *out = NULL;
  if (state != NULL) *state = NULL;
  if (state_length != NULL) *state_length = 0;
  hdrnn_limits lim;
  hdrnn_limits_resolve(limits, &lim);
  if (length < V2_FIXED_HEADER + 4)
    return hdrnn_fail(status, HDRNN_ERR_TRUNCATED, "hdrnn v3 file is truncated: %zu bytes", length);
  if (memcmp(bytes, v2_magic, 4) != 0 || ((uint32_t)bytes[4] | (uint32_t)bytes[5] << 8) != V3_VERSION)
    return hdrnn_fail(status, HDRNN_ERR_FORMAT, "not an hdrnn v3 file");
  if (check_crc(bytes, length, "v3", status) != HDRNN_OK) return HDRNN_ERR_CHECKSUM;
  const uint32_t flags = (uint32_t)bytes[6] | (uint32_t)bytes[7] << 8;
  const uint32_t loss = hdrnn_load_le32(bytes + 8);
  const uint32_t count = hdrnn_load_le32(bytes + 12);
  if (flags & ~(V3_FLAG_STANDARDIZATION | V3_FLAG_CLASSES | V3_FLAG_STATE))
    return hdrnn_fail(status, HDRNN_ERR_UNSUPPORTED, "hdrnn v3 file uses unknown flags 0x%04x",
                      (unsigned)flags);
  if (loss >= HDRNN_LOSS_COUNT)
    return hdrnn_fail(status, HDRNN_ERR_UNSUPPORTED, "hdrnn v3 file uses unknown loss %u", (unsigned)loss);
  if (count < 2) return hdrnn_fail(status, HDRNN_ERR_FORMAT, "hdrnn v3 file has %u layers", (unsigned)count);
  if (count > lim.max_layers)
    return hdrnn_fail(status, HDRNN_ERR_LIMIT, "hdrnn v3 file has %u layers, more than the limit of %u",
                      (unsigned)count, (unsigned)lim.max_layers);
  const uint8_t *end = bytes + length - 4;
  const size_t body = length - V2_FIXED_HEADER - 4;
  if ((size_t)count > body / 5)
    return hdrnn_fail(status, HDRNN_ERR_TRUNCATED,
                      "hdrnn v3 file is truncated: %u layers do not fit in %zu bytes", (unsigned)count, length);
  uint32_t *sizes = hdrnn_aligned_alloc(count, sizeof *sizes);
  if (sizes == NULL) return hdrnn_fail(status, HDRNN_ERR_NO_MEMORY, "out of memory");
  for (uint32_t l = 0; l < count; l++) sizes[l] = hdrnn_load_le32(bytes + V2_FIXED_HEADER + 4 * l);
  const uint8_t *acts = bytes + V2_FIXED_HEADER + 4 * (size_t)count;
  const uint8_t *params = acts + (count - 1);
  size_t used = 0;
  hdrnn_network *net = NULL;
  hdrnn_code code = decode_body(params, (size_t)(end - params), sizes, count, &lim, &net, &used, status);
  hdrnn_aligned_free(sizes);
  if (code != HDRNN_OK) return code;
  for (uint32_t l = 0; l + 1 < count && code == HDRNN_OK; l++)
    if (hdrnn_network_set_activation(net, l, (hdrnn_activation)acts[l], NULL) != HDRNN_OK)
      code = hdrnn_fail(status, acts[l] < HDRNN_ACTIVATION_COUNT ? HDRNN_ERR_FORMAT : HDRNN_ERR_UNSUPPORTED,
                        "hdrnn v3 file: layer %u has activation %u, which %s", (unsigned)l,
                        (unsigned)acts[l], acts[l] < HDRNN_ACTIVATION_COUNT ? "only the output layer may have" : "this build does not know");
  if (code == HDRNN_OK) {
    net->loss = (hdrnn_loss)loss;
    if (hdrnn_network_check_model(net, NULL) != HDRNN_OK)
      code = hdrnn_fail(status, HDRNN_ERR_FORMAT,
                        "hdrnn v3 file: the loss does not go with the output activation");
  }
  if (code == HDRNN_OK)
    code = decode_v3_sections(net, flags, params + used, end, state, state_length, status);
  if (code != HDRNN_OK) {
    hdrnn_network_free(net);
    if (state != NULL) *state = NULL;
    if (state_length != NULL) *state_length = 0;
    return code;
  }
  *out = net;
  return hdrnn_ok(status);
}
