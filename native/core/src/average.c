/*
 * average.c - combining the parameters of several networks of one shape:
 * federated averaging (a weighted mean) and two robust alternatives
 * (coordinate-wise median, trimmed mean), each optionally after clipping
 * every network's distance from a base network to a maximum L2 norm.
 *
 * Sums run in double in the order the networks are given, one coordinate at
 * a time, so the result depends only on the inputs and their order.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

void hdrnn_average_options_default(hdrnn_average_options *options) {
  if (options == NULL) return;
  memset(options, 0, sizeof *options);
  options->method = HDRNN_AVERAGE_MEAN;
  options->trim = 0.1;
}

/* The robust methods sort one coordinate's values: few of them (one per
 * device), so insertion sort, which is also stable and allocation-free. */
static void sort_doubles(double *v, size_t n) {
  for (size_t i = 1; i < n; i++) {
    const double x = v[i];
    size_t j = i;
    while (j > 0 && v[j - 1] > x) {
      v[j] = v[j - 1];
      j--;
    }
    v[j] = x;
  }
}

/* Same sizes, same activations and the same input standardisation: only
 * then do parameters in the same place mean the same thing. (The loss is a
 * training choice; the result keeps the first network's.) */
static int same_shape(const hdrnn_network *a, const hdrnn_network *b) {
  if (a->layer_count != b->layer_count ||
      memcmp(a->sizes, b->sizes, a->layer_count * sizeof *a->sizes) != 0 ||
      memcmp(a->activations, b->activations, a->layer_count - 1) != 0)
    return 0;
  if ((a->mean == NULL) != (b->mean == NULL)) return 0;
  return a->mean == NULL || (memcmp(a->mean, b->mean, a->sizes[0] * sizeof(float)) == 0 &&
                             memcmp(a->std, b->std, a->sizes[0] * sizeof(float)) == 0);
}

hdrnn_code hdrnn_network_average(hdrnn_network *out, const hdrnn_network *const *nets,
                                 const double *weights, size_t count,
                                 const hdrnn_average_options *options,
                                 hdrnn_status *status) {
  if (out == NULL || nets == NULL || weights == NULL)
    return hdrnn_fail(status, HDRNN_ERR_ARGUMENT, "average: missing argument");
  if (count == 0) return hdrnn_fail(status, HDRNN_ERR_ARGUMENT, "average: no networks given");
  hdrnn_average_options opt;
  if (options != NULL)
    opt = *options;
  else
    hdrnn_average_options_default(&opt);
  if (opt.method != HDRNN_AVERAGE_MEAN && opt.method != HDRNN_AVERAGE_MEDIAN &&
      opt.method != HDRNN_AVERAGE_TRIMMED_MEAN)
    return hdrnn_fail(status, HDRNN_ERR_ARGUMENT, "average: unknown method %d", (int)opt.method);
  if (opt.method == HDRNN_AVERAGE_TRIMMED_MEAN && !(opt.trim >= 0 && opt.trim < 0.5))
    return hdrnn_fail(status, HDRNN_ERR_ARGUMENT,
                      "average: trim must be a fraction from 0 to below 0.5");
  if (!(opt.clip_norm >= 0) || isinf(opt.clip_norm))
    return hdrnn_fail(status, HDRNN_ERR_ARGUMENT, "average: clip norm must be finite and >= 0");
  if (opt.clip_norm > 0 && opt.base == NULL)
    return hdrnn_fail(status, HDRNN_ERR_ARGUMENT, "average: a norm clip needs a base network");

  /* Validate everything before writing anything. */
  double total = 0;
  size_t used = 0; /* networks with a positive weight */
  for (size_t k = 0; k < count; k++) {
    if (nets[k] == NULL)
      return hdrnn_fail(status, HDRNN_ERR_ARGUMENT, "average: network %zu is missing", k);
    if (!same_shape(nets[k], out))
      return hdrnn_fail(status, HDRNN_ERR_MISMATCH,
                        "average: network %zu has a different shape, activations or standardisation from out", k);
    if (!isfinite(weights[k]) || weights[k] < 0)
      return hdrnn_fail(status, HDRNN_ERR_ARGUMENT,
                        "average: weight %zu is not a finite number >= 0", k);
    for (size_t i = 0; i < nets[k]->parameter_count; i++)
      if (!isfinite(nets[k]->params[i]))
        return hdrnn_fail(status, HDRNN_ERR_ARGUMENT,
                          "average: parameter %zu of network %zu is not a finite number", i, k);
    total += weights[k];
    if (weights[k] > 0) used++;
  }
  if (!(total > 0) || !isfinite(total))
    return hdrnn_fail(status, HDRNN_ERR_ARGUMENT, "average: the weights sum to zero");
  if (opt.base != NULL) {
    if (!same_shape(opt.base, out))
      return hdrnn_fail(status, HDRNN_ERR_MISMATCH,
                        "average: the base network has a different shape");
    if (hdrnn_network_check_finite(opt.base, status) != HDRNN_OK)
      return hdrnn_fail(status, HDRNN_ERR_ARGUMENT, "average: the base network is not finite");
  }
  const size_t n = out->parameter_count;
  const float *base = opt.base != NULL ? opt.base->params : NULL;

  /* Per network: the factor its distance from the base is scaled by (1 when
   * within the clip norm), and its share in the mean. */
  double *scale = malloc(count * sizeof *scale);
  double *column = malloc(count * sizeof *column);
  if (scale == NULL || column == NULL) {
    free(scale);
    free(column);
    return hdrnn_fail(status, HDRNN_ERR_NO_MEMORY, "average: out of memory");
  }
  for (size_t k = 0; k < count; k++) {
    scale[k] = 1;
    if (opt.clip_norm > 0) {
      double sq = 0;
      for (size_t i = 0; i < n; i++) {
        const double d = (double)nets[k]->params[i] - base[i];
        sq += d * d;
      }
      const double norm = sqrt(sq);
      if (norm > opt.clip_norm) scale[k] = opt.clip_norm / norm;
    }
  }
  /* Robust methods count each network with a positive weight once: a device
   * claiming a huge example count must not buy itself the median. */
  const size_t cut = opt.method == HDRNN_AVERAGE_TRIMMED_MEAN ? (size_t)floor(opt.trim * (double)used) : 0;

  for (size_t i = 0; i < n; i++) {
    double result = 0;
    if (opt.method == HDRNN_AVERAGE_MEAN) {
      double sum = 0;
      for (size_t k = 0; k < count; k++) {
        double x = nets[k]->params[i];
        if (base != NULL && scale[k] != 1) x = base[i] + scale[k] * (x - base[i]);
        sum += weights[k] * x;
      }
      result = sum / total;
    } else {
      size_t m = 0;
      for (size_t k = 0; k < count; k++) {
        if (!(weights[k] > 0)) continue;
        double x = nets[k]->params[i];
        if (base != NULL && scale[k] != 1) x = base[i] + scale[k] * (x - base[i]);
        column[m++] = x;
      }
      sort_doubles(column, m);
      if (opt.method == HDRNN_AVERAGE_MEDIAN) {
        result = (m % 2 == 1) ? column[m / 2] : 0.5 * (column[m / 2 - 1] + column[m / 2]);
      } else {
        double sum = 0;
        for (size_t j = cut; j < m - cut; j++) sum += column[j];
        result = sum / (double)(m - 2 * cut);
      }
    }
    out->params[i] = (float)result;
  }
  free(scale);
  free(column);
  return hdrnn_ok(status);
}

hdrnn_code hdrnn_clip_norm(float *delta, size_t n, double max_norm, double *norm,
                           hdrnn_status *status) {
  if (delta == NULL && n > 0) return hdrnn_fail(status, HDRNN_ERR_ARGUMENT, "clip: missing values");
  if (!(max_norm > 0) || isinf(max_norm))
    return hdrnn_fail(status, HDRNN_ERR_ARGUMENT, "clip: the norm must be finite and > 0");
  double sq = 0;
  for (size_t i = 0; i < n; i++) {
    if (!isfinite(delta[i]))
      return hdrnn_fail(status, HDRNN_ERR_ARGUMENT, "clip: value %zu is not a finite number", i);
    sq += (double)delta[i] * delta[i];
  }
  const double length = sqrt(sq);
  if (norm != NULL) *norm = length;
  if (length > max_norm) {
    const double s = max_norm / length;
    for (size_t i = 0; i < n; i++) delta[i] = (float)(delta[i] * s);
  }
  return hdrnn_ok(status);
}
