/*
 * losses.c - the loss table (see losses.h).
 */
#include <math.h>

#include "losses.h"

/* ln of a probability, floored so a saturated output costs a large finite
 * amount instead of infinity. */
static double safe_log(double p) { return log(p > 1e-30 ? p : 1e-30); }

static int quadratic_fits(hdrnn_activation output) {
  (void)output;
  return 1;
}
static double quadratic_cost(hdrnn_activation output, const float *a, const hdrnn_target *y,
                             size_t n) {
  (void)output;
  double cost = 0.0;
  for (size_t j = 0; j < n; j++) {
    const double diff = (double)a[j] - (double)hdrnn_target_at(y, j);
    cost += 0.5 * diff * diff;
  }
  return cost;
}

static int cross_entropy_fits(hdrnn_activation output) {
  return output == HDRNN_ACTIVATION_SOFTMAX || output == HDRNN_ACTIVATION_SIGMOID;
}
static double cross_entropy_cost(hdrnn_activation output, const float *a, const hdrnn_target *y,
                                 size_t n) {
  double cost = 0.0;
  for (size_t j = 0; j < n; j++) {
    const double t = hdrnn_target_at(y, j), p = a[j];
    cost -= t * safe_log(p);
    if (output == HDRNN_ACTIVATION_SIGMOID) cost -= (1.0 - t) * safe_log(1.0 - p);
  }
  return cost;
}

static const hdrnn_loss_ops table[HDRNN_LOSS_COUNT] = {
    [HDRNN_LOSS_QUADRATIC] = {"quadratic", 1, quadratic_fits, quadratic_cost},
    [HDRNN_LOSS_CROSS_ENTROPY] = {"cross-entropy", 0, cross_entropy_fits, cross_entropy_cost},
};

const hdrnn_loss_ops *hdrnn_loss_ops_of(hdrnn_loss l) {
  return (unsigned)l < HDRNN_LOSS_COUNT ? &table[l] : NULL;
}

const char *hdrnn_loss_name(hdrnn_loss l) {
  const hdrnn_loss_ops *f = hdrnn_loss_ops_of(l);
  return f != NULL ? f->name : NULL;
}
