/*
 * dataset.c - checking that examples fit a network before any work starts,
 * so the hot loops never meet a label out of range or a NaN input.
 */
#include <math.h>

#include "internal.h"

hdrnn_code hdrnn_dataset_check(const hdrnn_dataset *data, const hdrnn_network *net,
                               int need_labels, hdrnn_status *status) {
  if (data == NULL || net == NULL)
    return hdrnn_fail(status, HDRNN_ERR_ARGUMENT, "missing dataset or network");
  if ((data->pixels == NULL) == (data->features == NULL))
    return hdrnn_fail(status, HDRNN_ERR_ARGUMENT,
                      "dataset needs exactly one of byte pixels or float features");
  const size_t inputs = net->sizes[0], outputs = net->sizes[net->layer_count - 1];
  if (data->input_size != inputs)
    return hdrnn_fail(status, HDRNN_ERR_MISMATCH,
                      "examples have %zu values but the network takes %zu inputs",
                      data->input_size, inputs);
  size_t values;
  if (!hdrnn_mul_size(data->count, data->input_size, &values))
    return hdrnn_fail(status, HDRNN_ERR_LIMIT, "dataset too large");
  if (need_labels && data->targets != NULL) {
    /* Regression: float targets, one row of the network's outputs each. */
    if (data->labels8 != NULL || data->labels32 != NULL)
      return hdrnn_fail(status, HDRNN_ERR_ARGUMENT, "dataset has both labels and targets");
    if (data->target_size != outputs)
      return hdrnn_fail(status, HDRNN_ERR_MISMATCH,
                        "targets have %zu values each but the network has %zu outputs",
                        data->target_size, outputs);
    size_t targets;
    if (!hdrnn_mul_size(data->count, data->target_size, &targets))
      return hdrnn_fail(status, HDRNN_ERR_LIMIT, "dataset too large");
    for (size_t i = 0; i < targets; i++)
      if (!isfinite(data->targets[i]))
        return hdrnn_fail(status, HDRNN_ERR_ARGUMENT,
                          "target %zu of example %zu is not a finite number", i % outputs,
                          i / outputs);
  } else if (need_labels) {
    if ((data->labels8 == NULL) == (data->labels32 == NULL))
      return hdrnn_fail(status, HDRNN_ERR_ARGUMENT, "dataset needs labels");
    for (size_t i = 0; i < data->count; i++) {
      const uint32_t label = hdrnn_dataset_label(data, i);
      if (label >= outputs)
        return hdrnn_fail(status, HDRNN_ERR_MISMATCH,
                          "label %u of example %zu is not below the network's %zu outputs",
                          (unsigned)label, i, outputs);
    }
  }
  if (data->features != NULL)
    for (size_t i = 0; i < values; i++)
      if (!isfinite(data->features[i]))
        return hdrnn_fail(status, HDRNN_ERR_ARGUMENT,
                          "value %zu of example %zu is not a finite number", i % inputs,
                          i / inputs);
  return hdrnn_ok(status);
}
