/*
 * network.c - creating, copying and initialising networks.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "rng.h"

static hdrnn_code create(hdrnn_network **out, const uint32_t *sizes, size_t count,
                         const hdrnn_limits *limits, int zero, hdrnn_status *status) {
  if (out == NULL) return hdrnn_fail(status, HDRNN_ERR_ARGUMENT, "network: missing argument");
  *out = NULL;
  if (sizes == NULL) return hdrnn_fail(status, HDRNN_ERR_ARGUMENT, "network: missing shape");
  hdrnn_limits lim;
  hdrnn_limits_resolve(limits, &lim);
  if (count < 2)
    return hdrnn_fail(status, HDRNN_ERR_ARGUMENT,
                      "network shape needs at least 2 layers (inputs and outputs), got %zu", count);
  if (count > lim.max_layers)
    return hdrnn_fail(status, HDRNN_ERR_LIMIT,
                      "network shape has %zu layers, more than the limit of %u", count,
                      (unsigned)lim.max_layers);
  /* Count the parameters with every product and sum checked, before allocating. */
  uint64_t total = 0;
  for (size_t l = 0; l < count; l++) {
    if (sizes[l] == 0)
      return hdrnn_fail(status, HDRNN_ERR_ARGUMENT, "layer %zu of the shape has size 0", l);
    if (sizes[l] > lim.max_layer_size)
      return hdrnn_fail(status, HDRNN_ERR_LIMIT,
                        "layer %zu has %u neurons, more than the limit of %u", l,
                        (unsigned)sizes[l], (unsigned)lim.max_layer_size);
    if (l == 0) continue;
    /* sizes are < 2^32, so (in + 1) * out < 2^64 cannot overflow in uint64. */
    const uint64_t layer = ((uint64_t)sizes[l - 1] + 1) * (uint64_t)sizes[l];
    if (layer > lim.max_parameters || total > lim.max_parameters - layer)
      return hdrnn_fail(status, HDRNN_ERR_LIMIT,
                        "network has more than %llu parameters (the limit)",
                        (unsigned long long)lim.max_parameters);
    total += layer;
  }
  if (total > SIZE_MAX / sizeof(float))
    return hdrnn_fail(status, HDRNN_ERR_LIMIT, "network too large for this platform");

  hdrnn_network *net = calloc(1, sizeof *net);
  if (net == NULL) return hdrnn_fail(status, HDRNN_ERR_NO_MEMORY, "out of memory");
  net->layer_count = count;
  net->parameter_count = (size_t)total;
  net->sizes = malloc(count * sizeof *net->sizes);
  net->weight_offsets = malloc((count - 1) * sizeof *net->weight_offsets);
  net->bias_offsets = malloc((count - 1) * sizeof *net->bias_offsets);
  net->params = hdrnn_aligned_alloc(net->parameter_count, sizeof(float));
  net->activations = calloc(count - 1, 1); /* zero: HDRNN_ACTIVATION_SIGMOID */
  if (net->sizes == NULL || net->weight_offsets == NULL || net->bias_offsets == NULL ||
      net->params == NULL || net->activations == NULL) {
    hdrnn_network_free(net);
    return hdrnn_fail(status, HDRNN_ERR_NO_MEMORY,
                      "out of memory for a network of %zu parameters", (size_t)total);
  }
  memcpy(net->sizes, sizes, count * sizeof *sizes);
  size_t offset = 0;
  for (size_t l = 0; l + 1 < count; l++) {
    net->weight_offsets[l] = offset;
    offset += (size_t)sizes[l] * sizes[l + 1];
    net->bias_offsets[l] = offset;
    offset += sizes[l + 1];
  }
  if (zero) memset(net->params, 0, net->parameter_count * sizeof(float));
  net->max_working_bytes = lim.max_working_bytes;
  *out = net;
  return hdrnn_ok(status);
}

hdrnn_code hdrnn_network_create(hdrnn_network **out, const uint32_t *sizes,
                                size_t count, const hdrnn_limits *limits,
                                hdrnn_status *status) {
  return create(out, sizes, count, limits, 1, status);
}

/* Zeroing 64 MB of fresh pages costs ~30 ms (page faults included); a
 * caller that initialises the weights on another thread skips it here. */
hdrnn_code hdrnn_network_create_unset(hdrnn_network **out, const uint32_t *sizes,
                                      size_t count, const hdrnn_limits *limits,
                                      hdrnn_status *status) {
  return create(out, sizes, count, limits, 0, status);
}

void hdrnn_network_free(hdrnn_network *net) {
  if (net == NULL) return;
  if (net->classes != NULL) hdrnn_network_set_classes(net, NULL, 0, NULL); /* needs sizes */
  free(net->sizes);
  free(net->weight_offsets);
  free(net->bias_offsets);
  hdrnn_aligned_free(net->params);
  free(net->activations);
  free(net->mean);
  free(net->std);
  free(net);
}

hdrnn_code hdrnn_network_clone(const hdrnn_network *src, hdrnn_network **out,
                               hdrnn_status *status) {
  if (src == NULL || out == NULL)
    return hdrnn_fail(status, HDRNN_ERR_ARGUMENT, "clone: missing argument");
  /* The source already passed its limits; do not apply the defaults again. */
  hdrnn_limits unlimited;
  memset(&unlimited, 0, sizeof unlimited);
  unlimited.max_parameters = UINT64_MAX;
  unlimited.max_layers = UINT32_MAX;
  unlimited.max_layer_size = UINT32_MAX;
  unlimited.max_working_bytes = src->max_working_bytes;
  hdrnn_code code =
      hdrnn_network_create(out, src->sizes, src->layer_count, &unlimited, status);
  if (code != HDRNN_OK) return code;
  memcpy((*out)->params, src->params, src->parameter_count * sizeof(float));
  memcpy((*out)->activations, src->activations, src->layer_count - 1);
  (*out)->loss = src->loss;
  if (src->mean != NULL || src->classes != NULL) {
    code = hdrnn_network_set_standardization(*out, src->mean, src->std, status);
    if (code == HDRNN_OK && src->classes != NULL)
      code = hdrnn_network_set_classes(*out, (const char *const *)src->classes,
                                       src->sizes[src->layer_count - 1], status);
    if (code != HDRNN_OK) {
      hdrnn_network_free(*out);
      *out = NULL;
      return code;
    }
  }
  return HDRNN_OK;
}

hdrnn_code hdrnn_network_copy_parameters(hdrnn_network *dst, const hdrnn_network *src,
                                         hdrnn_status *status) {
  if (dst == NULL || src == NULL)
    return hdrnn_fail(status, HDRNN_ERR_ARGUMENT, "copy: missing argument");
  if (dst->layer_count != src->layer_count ||
      memcmp(dst->sizes, src->sizes, src->layer_count * sizeof *src->sizes) != 0)
    return hdrnn_fail(status, HDRNN_ERR_MISMATCH, "copy: networks have different shapes");
  if (dst != src) memcpy(dst->params, src->params, src->parameter_count * sizeof(float));
  return hdrnn_ok(status);
}

void hdrnn_network_init_normal(hdrnn_network *net, uint64_t seed) {
  if (net == NULL) return;
  hdrnn_rng rng;
  hdrnn_rng_seed(&rng, seed);
  /* Layer by layer, weights then biases: the order the parameters are stored in. */
  hdrnn_rng_normals(&rng, net->params, net->parameter_count);
}

size_t hdrnn_network_layer_count(const hdrnn_network *net) {
  return net != NULL ? net->layer_count : 0;
}

const uint32_t *hdrnn_network_sizes(const hdrnn_network *net) {
  return net != NULL ? net->sizes : NULL;
}

size_t hdrnn_network_parameter_count(const hdrnn_network *net) {
  return net != NULL ? net->parameter_count : 0;
}

float *hdrnn_network_weights(hdrnn_network *net, size_t layer) {
  if (net == NULL || layer + 1 >= net->layer_count) return NULL;
  return net->params + net->weight_offsets[layer];
}

float *hdrnn_network_biases(hdrnn_network *net, size_t layer) {
  if (net == NULL || layer + 1 >= net->layer_count) return NULL;
  return net->params + net->bias_offsets[layer];
}

const float *hdrnn_network_weights_const(const hdrnn_network *net, size_t layer) {
  return hdrnn_network_weights((hdrnn_network *)net, layer);
}

const float *hdrnn_network_biases_const(const hdrnn_network *net, size_t layer) {
  return hdrnn_network_biases((hdrnn_network *)net, layer);
}

const float *hdrnn_network_parameters(const hdrnn_network *net) {
  return net != NULL ? net->params : NULL;
}

hdrnn_code hdrnn_network_check_finite(const hdrnn_network *net, hdrnn_status *status) {
  if (net == NULL) return hdrnn_fail(status, HDRNN_ERR_ARGUMENT, "missing network");
  for (size_t i = 0; i < net->parameter_count; i++)
    if (!isfinite(net->params[i]))
      return hdrnn_fail(status, HDRNN_ERR_FORMAT, "parameter %zu is not a finite number", i);
  return hdrnn_ok(status);
}

uint64_t hdrnn_network_working_limit(const hdrnn_network *net) { return net->max_working_bytes; }

hdrnn_code hdrnn_network_check_working(const hdrnn_network *net, uint64_t bytes, const char *what,
                                       hdrnn_status *status) {
  if (bytes > net->max_working_bytes)
    return hdrnn_fail(status, HDRNN_ERR_LIMIT,
                      "%s needs %llu bytes of working memory, more than the limit of %llu "
                      "(limits.maxWorkingBytes; use smaller batches or raise it)",
                      what, (unsigned long long)bytes, (unsigned long long)net->max_working_bytes);
  return HDRNN_OK;
}
