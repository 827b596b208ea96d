/*
 * optimizers.h - the optimizer table: how a parameter moves given its
 * gradient (summed over the mini-batch), and what state it keeps.
 *
 * Plain SGD without weight decay is not in this path at all: the trainer
 * keeps calling the kernels' fused update (w += -eta/B * sum), the seed's
 * exact arithmetic. Everything else first forms the batch gradient with the
 * same kernel into a scratch copy of the parameters, then calls a step here
 * on the thread's own block of parameters: per element, so the weights do
 * not depend on the thread count.
 */
#ifndef HDRNN_OPTIMIZERS_H
#define HDRNN_OPTIMIZERS_H

#include "internal.h"

/* The constants of one mini-batch's step. */
typedef struct hdrnn_step {
  float eta;          /* this epoch's learning rate */
  float inv_rows;     /* 1 / rows of the batch: g = sum * inv_rows */
  float decay;        /* L2 lambda, applied to weights only */
  float mu;           /* momentum */
  float beta1, beta2, epsilon;
  float correct1, correct2; /* adam: 1 / (1 - beta^t) for this batch's t */
} hdrnn_step;

typedef struct hdrnn_optimizer_ops {
  const char *name;
  unsigned moments; /* state arrays of parameter_count floats */
  /* w[i], state m[i] (and v[i]) from the summed gradient g[i], i < n;
   * weights: apply the L2 decay. */
  void (*step)(const hdrnn_step *s, float *restrict w, const float *restrict g,
               float *restrict m, float *restrict v, size_t n, int weights);
} hdrnn_optimizer_ops;

const hdrnn_optimizer_ops *hdrnn_optimizer_ops_of(hdrnn_optimizer o);

/* Validates the optimizer, decay and schedule fields of options. */
hdrnn_code hdrnn_optimizer_check(const hdrnn_train_options *options, hdrnn_status *status);
/* The learning rate of epoch index e (0-based) under options' schedule. */
float hdrnn_schedule_rate(const hdrnn_train_options *options, uint32_t e);
/* Fills the defaults (momentum 0.9, beta1 0.9, beta2 0.999, epsilon 1e-8). */
void hdrnn_optimizer_defaults(hdrnn_train_options *options);

#endif
