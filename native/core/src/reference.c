/*
 * reference.c - see reference.h. Deliberately free of tricks: no SIMD, no
 * blocking, no threads, float arithmetic exactly as the formulas read.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "reference.h"

hdrnn_code hdrnn_reference_init(hdrnn_reference *ref, const hdrnn_network *net,
                                hdrnn_status *status) {
  memset(ref, 0, sizeof *ref);
  ref->layer_count = net->layer_count;
  ref->activations = calloc(net->layer_count, sizeof *ref->activations);
  ref->deltas = calloc(net->layer_count, sizeof *ref->deltas);
  ref->gradients = hdrnn_aligned_alloc(net->parameter_count, sizeof(float));
  int ok = ref->activations != NULL && ref->deltas != NULL && ref->gradients != NULL;
  for (size_t l = 0; ok && l < net->layer_count; l++) {
    ref->activations[l] = hdrnn_aligned_alloc(net->sizes[l], sizeof(float));
    ref->deltas[l] = hdrnn_aligned_alloc(net->sizes[l], sizeof(float));
    ok = ref->activations[l] != NULL && ref->deltas[l] != NULL;
  }
  if (!ok) {
    hdrnn_reference_free(ref);
    return hdrnn_fail(status, HDRNN_ERR_NO_MEMORY, "out of memory for training workspace");
  }
  memset(ref->gradients, 0, net->parameter_count * sizeof(float));
  return hdrnn_ok(status);
}

void hdrnn_reference_free(hdrnn_reference *ref) {
  for (size_t l = 0; l < ref->layer_count; l++) {
    if (ref->activations != NULL) hdrnn_aligned_free(ref->activations[l]);
    if (ref->deltas != NULL) hdrnn_aligned_free(ref->deltas[l]);
  }
  free(ref->activations);
  free(ref->deltas);
  hdrnn_aligned_free(ref->gradients);
  memset(ref, 0, sizeof *ref);
}

void hdrnn_reference_load(hdrnn_reference *ref, const hdrnn_dataset *data, size_t index) {
  const size_t n = data->input_size;
  float *x = ref->activations[0];
  if (data->pixels != NULL) {
    const uint8_t *src = data->pixels + index * n;
    for (size_t i = 0; i < n; i++) x[i] = (float)src[i] / 255.0f;
  } else {
    memcpy(x, data->features + index * n, n * sizeof(float));
  }
}

void hdrnn_reference_forward(hdrnn_reference *ref, const hdrnn_network *net) {
  for (size_t l = 0; l + 1 < net->layer_count; l++) {
    const size_t in = net->sizes[l], out = net->sizes[l + 1];
    const float *w = net->params + net->weight_offsets[l];
    const float *b = net->params + net->bias_offsets[l];
    const float *a = ref->activations[l];
    float *z = ref->activations[l + 1];
    for (size_t j = 0; j < out; j++) {
      float sum = 0.0f;
      for (size_t i = 0; i < in; i++) sum += w[j * in + i] * a[i];
      z[j] = 1.0f / (1.0f + expf(-(sum + b[j])));
    }
  }
}

double hdrnn_reference_backprop(hdrnn_reference *ref, const hdrnn_network *net,
                                uint32_t label) {
  const size_t last = net->layer_count - 1;
  const float *a = ref->activations[last];
  float *d = ref->deltas[last];
  double cost = 0.0;
  /* Quadratic cost: dC/da = a - y; times the sigmoid's slope a(1-a). */
  for (size_t j = 0; j < net->sizes[last]; j++) {
    const float diff = a[j] - (j == label ? 1.0f : 0.0f);
    cost += 0.5 * (double)diff * (double)diff;
    d[j] = diff * (a[j] * (1.0f - a[j]));
  }
  for (size_t l = last; l >= 1; l--) {
    const size_t in = net->sizes[l - 1], out = net->sizes[l];
    const float *w = net->params + net->weight_offsets[l - 1];
    const float *prev = ref->activations[l - 1];
    const float *delta = ref->deltas[l];
    float *gw = ref->gradients + net->weight_offsets[l - 1];
    float *gb = ref->gradients + net->bias_offsets[l - 1];
    for (size_t j = 0; j < out; j++) {
      gb[j] += delta[j];
      for (size_t i = 0; i < in; i++) gw[j * in + i] += delta[j] * prev[i];
    }
    if (l == 1) break; /* the inputs need no delta */
    float *pd = ref->deltas[l - 1];
    for (size_t i = 0; i < in; i++) {
      float sum = 0.0f;
      for (size_t j = 0; j < out; j++) sum += delta[j] * w[j * in + i];
      pd[i] = sum * (prev[i] * (1.0f - prev[i]));
    }
  }
  return cost;
}

void hdrnn_reference_apply(hdrnn_reference *ref, hdrnn_network *net, float eta, size_t batch) {
  const float step = eta / (float)batch;
  for (size_t i = 0; i < net->parameter_count; i++) {
    net->params[i] -= step * ref->gradients[i];
    ref->gradients[i] = 0.0f;
  }
}
