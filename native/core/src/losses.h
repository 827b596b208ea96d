/*
 * losses.h - the loss table: the cost of one example, and how its output
 * deltas (dC/dz of the output layer's pre-activations) are formed.
 *
 * Every delta starts as a - y. The quadratic cost then multiplies by the
 * output activation's derivative; cross-entropy paired with its canonical
 * output (softmax, or sigmoid per output for multi-label) has dC/dz = a - y
 * exactly, the textbook cancellation, which is why it only allows those two.
 */
#ifndef HDRNN_LOSSES_H
#define HDRNN_LOSSES_H

#include "internal.h"

typedef struct hdrnn_loss_ops {
  const char *name;
  /* 1: multiply a - y by the output activation's derivative. */
  int chain_activation;
  /* 1 if this loss can train an output layer with activation a. */
  int (*fits)(hdrnn_activation output);
  /* Cost of one example with outputs a[0..n) (in double). */
  double (*cost)(hdrnn_activation output, const float *a, const hdrnn_target *y, size_t n);
} hdrnn_loss_ops;

const hdrnn_loss_ops *hdrnn_loss_ops_of(hdrnn_loss l);

#endif
