/*
 * model.c - the model options of a network beyond its shape and weights
 * (issue 10): per-layer activations, the loss, the initialisation and the
 * input standardisation.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "activations.h"
#include "losses.h"
#include "rng.h"

hdrnn_code hdrnn_network_set_activation(hdrnn_network *net, size_t layer, hdrnn_activation a,
                                        hdrnn_status *status) {
  if (net == NULL) return hdrnn_fail(status, HDRNN_ERR_ARGUMENT, "missing network");
  if (layer + 1 >= net->layer_count)
    return hdrnn_fail(status, HDRNN_ERR_ARGUMENT, "layer %zu out of range (the network has %zu)",
                      layer, net->layer_count - 1);
  if (hdrnn_activation_ops_of(a) == NULL)
    return hdrnn_fail(status, HDRNN_ERR_ARGUMENT, "unknown activation %d", (int)a);
  if (a == HDRNN_ACTIVATION_SOFTMAX && layer + 2 != net->layer_count)
    return hdrnn_fail(status, HDRNN_ERR_ARGUMENT,
                      "softmax is only for the output layer, not layer %zu", layer);
  net->activations[layer] = (uint8_t)a;
  return hdrnn_ok(status);
}

hdrnn_activation hdrnn_network_activation(const hdrnn_network *net, size_t layer) {
  if (net == NULL || layer + 1 >= net->layer_count) return HDRNN_ACTIVATION_SIGMOID;
  return (hdrnn_activation)net->activations[layer];
}

hdrnn_code hdrnn_network_set_loss(hdrnn_network *net, hdrnn_loss loss, hdrnn_status *status) {
  if (net == NULL) return hdrnn_fail(status, HDRNN_ERR_ARGUMENT, "missing network");
  if (hdrnn_loss_ops_of(loss) == NULL)
    return hdrnn_fail(status, HDRNN_ERR_ARGUMENT, "unknown loss %d", (int)loss);
  const hdrnn_loss before = net->loss;
  net->loss = loss;
  const hdrnn_code code = hdrnn_network_check_model(net, status);
  if (code != HDRNN_OK) net->loss = before; /* refused: the network keeps its loss */
  return code;
}

hdrnn_loss hdrnn_network_loss(const hdrnn_network *net) {
  return net != NULL ? net->loss : HDRNN_LOSS_QUADRATIC;
}

hdrnn_code hdrnn_network_check_model(const hdrnn_network *net, hdrnn_status *status) {
  if (net == NULL) return hdrnn_fail(status, HDRNN_ERR_ARGUMENT, "missing network");
  for (size_t l = 0; l + 1 < net->layer_count; l++) {
    const hdrnn_activation a = (hdrnn_activation)net->activations[l];
    if (hdrnn_activation_ops_of(a) == NULL)
      return hdrnn_fail(status, HDRNN_ERR_ARGUMENT, "layer %zu: unknown activation %d", l, (int)a);
    if (a == HDRNN_ACTIVATION_SOFTMAX && l + 2 != net->layer_count)
      return hdrnn_fail(status, HDRNN_ERR_ARGUMENT, "softmax is only for the output layer");
  }
  const hdrnn_loss_ops *loss = hdrnn_loss_ops_of(net->loss);
  if (loss == NULL) return hdrnn_fail(status, HDRNN_ERR_ARGUMENT, "unknown loss %d", (int)net->loss);
  const hdrnn_activation out = (hdrnn_activation)net->activations[net->layer_count - 2];
  if (!loss->fits(out))
    return hdrnn_fail(status, HDRNN_ERR_ARGUMENT,
                      "the %s loss needs a softmax or sigmoid output layer, not %s", loss->name,
                      hdrnn_activation_name(out));
  return hdrnn_ok(status);
}

hdrnn_code hdrnn_network_init(hdrnn_network *net, hdrnn_init init, uint64_t seed,
                              hdrnn_status *status) {
  if (net == NULL) return hdrnn_fail(status, HDRNN_ERR_ARGUMENT, "missing network");
  if ((unsigned)init >= HDRNN_INIT_COUNT)
    return hdrnn_fail(status, HDRNN_ERR_ARGUMENT, "unknown initialisation %d", (int)init);
  /* The same N(0, 1) draws as the seed's, in storage order, then scaled:
   * a seed gives related networks under every scheme. */
  hdrnn_network_init_normal(net, seed);
  if (init == HDRNN_INIT_NORMAL) return hdrnn_ok(status);
  for (size_t l = 0; l + 1 < net->layer_count; l++) {
    const double in = net->sizes[l], out = net->sizes[l + 1];
    const float scale = (float)(init == HDRNN_INIT_XAVIER ? sqrt(2.0 / (in + out)) : sqrt(2.0 / in));
    float *w = net->params + net->weight_offsets[l];
    const size_t n = (size_t)net->sizes[l] * net->sizes[l + 1];
    for (size_t i = 0; i < n; i++) w[i] *= scale;
    memset(net->params + net->bias_offsets[l], 0, net->sizes[l + 1] * sizeof(float));
  }
  return hdrnn_ok(status);
}

int hdrnn_network_is_plain(const hdrnn_network *net) {
  if (net == NULL) return 0;
  if (net->loss != HDRNN_LOSS_QUADRATIC || net->mean != NULL || net->classes != NULL) return 0;
  for (size_t l = 0; l + 1 < net->layer_count; l++)
    if (net->activations[l] != HDRNN_ACTIVATION_SIGMOID) return 0;
  return 1;
}

hdrnn_code hdrnn_network_set_standardization(hdrnn_network *net, const float *mean,
                                             const float *std, hdrnn_status *status) {
  if (net == NULL) return hdrnn_fail(status, HDRNN_ERR_ARGUMENT, "missing network");
  if ((mean == NULL) != (std == NULL))
    return hdrnn_fail(status, HDRNN_ERR_ARGUMENT, "standardisation needs both mean and std");
  const size_t n = net->sizes[0];
  if (mean == NULL) {
    free(net->mean);
    free(net->std);
    net->mean = net->std = NULL;
    return hdrnn_ok(status);
  }
  for (size_t i = 0; i < n; i++) {
    if (!isfinite(mean[i]))
      return hdrnn_fail(status, HDRNN_ERR_ARGUMENT, "mean[%zu] is not a finite number", i);
    if (!isfinite(std[i]) || !(std[i] > 0.0f))
      return hdrnn_fail(status, HDRNN_ERR_ARGUMENT, "std[%zu] must be a finite number above 0", i);
  }
  float *m = malloc(n * sizeof *m), *s = malloc(n * sizeof *s);
  if (m == NULL || s == NULL) {
    free(m);
    free(s);
    return hdrnn_fail(status, HDRNN_ERR_NO_MEMORY, "out of memory");
  }
  memcpy(m, mean, n * sizeof *m);
  memcpy(s, std, n * sizeof *s);
  free(net->mean);
  free(net->std);
  net->mean = m;
  net->std = s;
  return hdrnn_ok(status);
}

const float *hdrnn_network_mean(const hdrnn_network *net) { return net != NULL ? net->mean : NULL; }
const float *hdrnn_network_std(const hdrnn_network *net) { return net != NULL ? net->std : NULL; }

void hdrnn_standardize_rows(const hdrnn_network *net, float *x, size_t rows) {
  if (net->mean == NULL) return;
  const size_t n = net->sizes[0];
  for (size_t r = 0; r < rows; r++)
    for (size_t i = 0; i < n; i++) x[r * n + i] = (x[r * n + i] - net->mean[i]) / net->std[i];
}

hdrnn_code hdrnn_dataset_standardize(const hdrnn_dataset *data, float *mean, float *std,
                                     hdrnn_status *status) {
  if (data == NULL || mean == NULL || std == NULL)
    return hdrnn_fail(status, HDRNN_ERR_ARGUMENT, "standardize: missing argument");
  if ((data->pixels == NULL) == (data->features == NULL))
    return hdrnn_fail(status, HDRNN_ERR_ARGUMENT,
                      "dataset needs exactly one of byte pixels or float features");
  if (data->count == 0)
    return hdrnn_fail(status, HDRNN_ERR_ARGUMENT, "cannot standardise an empty dataset");
  const size_t n = data->input_size;
  size_t values;
  if (!hdrnn_mul_size(data->count, n, &values))
    return hdrnn_fail(status, HDRNN_ERR_LIMIT, "dataset too large");
  /* Two passes in double (mean, then squared deviations): no cancellation. */
  double *sum = calloc(n, sizeof *sum);
  if (sum == NULL) return hdrnn_fail(status, HDRNN_ERR_NO_MEMORY, "out of memory");
  for (int pass = 0; pass < 2; pass++) {
    memset(sum, 0, n * sizeof *sum);
    for (size_t r = 0; r < data->count; r++)
      for (size_t i = 0; i < n; i++) {
        const double x = data->pixels != NULL ? (double)((float)data->pixels[r * n + i] / 255.0f)
                                              : (double)data->features[r * n + i];
        if (!isfinite(x)) {
          free(sum);
          return hdrnn_fail(status, HDRNN_ERR_ARGUMENT,
                            "value %zu of example %zu is not a finite number", i, r);
        }
        const double d = pass == 0 ? x : x - mean[i];
        sum[i] += pass == 0 ? d : d * d;
      }
    for (size_t i = 0; i < n; i++) {
      if (pass == 0) {
        mean[i] = (float)(sum[i] / (double)data->count);
      } else {
        const double s = sqrt(sum[i] / (double)data->count);
        std[i] = (float)(s > 1e-6 ? s : 1e-6);
      }
    }
  }
  free(sum);
  return hdrnn_ok(status);
}

int hdrnn_utf8_valid(const uint8_t *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    const uint8_t c = s[i];
    if (c == 0) return 0;
    if (c < 0x80) {
      i++;
      continue;
    }
    size_t extra;
    uint32_t cp, min;
    if ((c & 0xe0) == 0xc0) extra = 1, cp = c & 0x1f, min = 0x80;
    else if ((c & 0xf0) == 0xe0) extra = 2, cp = c & 0x0f, min = 0x800;
    else if ((c & 0xf8) == 0xf0) extra = 3, cp = c & 0x07, min = 0x10000;
    else return 0;
    if (n - i <= extra) return 0;
    for (size_t k = 1; k <= extra; k++) {
      if ((s[i + k] & 0xc0) != 0x80) return 0;
      cp = cp << 6 | (s[i + k] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    i += extra + 1;
  }
  return 1;
}

hdrnn_code hdrnn_network_set_classes(hdrnn_network *net, const char *const *names, size_t count,
                                     hdrnn_status *status) {
  if (net == NULL) return hdrnn_fail(status, HDRNN_ERR_ARGUMENT, "missing network");
  const size_t outputs = net->sizes[net->layer_count - 1];
  char **list = NULL;
  if (names != NULL) {
    if (count != outputs)
      return hdrnn_fail(status, HDRNN_ERR_MISMATCH, "%zu class names for %zu outputs", count, outputs);
    for (size_t i = 0; i < count; i++) {
      const size_t n = names[i] != NULL ? strlen(names[i]) : 0;
      if (n == 0 || n > HDRNN_CLASS_NAME_MAX || !hdrnn_utf8_valid((const uint8_t *)names[i], n))
        return hdrnn_fail(status, HDRNN_ERR_ARGUMENT,
                          "class name %zu must be 1 to %d bytes of valid UTF-8", i,
                          HDRNN_CLASS_NAME_MAX);
    }
    list = calloc(count, sizeof *list);
    if (list == NULL) return hdrnn_fail(status, HDRNN_ERR_NO_MEMORY, "out of memory");
    for (size_t i = 0; i < count; i++) {
      const size_t n = strlen(names[i]);
      if ((list[i] = malloc(n + 1)) == NULL) {
        for (size_t j = 0; j < i; j++) free(list[j]);
        free(list);
        return hdrnn_fail(status, HDRNN_ERR_NO_MEMORY, "out of memory");
      }
      memcpy(list[i], names[i], n + 1);
    }
  }
  if (net->classes != NULL)
    for (size_t i = 0; i < outputs; i++) free(net->classes[i]);
  free(net->classes);
  net->classes = list;
  return hdrnn_ok(status);
}

const char *hdrnn_network_class_name(const hdrnn_network *net, size_t i) {
  if (net == NULL || net->classes == NULL || i >= net->sizes[net->layer_count - 1]) return NULL;
  return net->classes[i];
}
