/*
 * activations.h - the activation table: one entry per hdrnn_activation,
 * each a forward map and its derivative taken from the output value (all of
 * ours can be: sigmoid a(1-a), tanh 1-a^2, relu [a>0], linear 1), so the
 * backward pass needs no stored pre-activations.
 *
 * Sigmoid goes through the kernel table (vectorised); the others are plain
 * loops here, compiled without fused multiply-adds like everything else, so
 * their results do not depend on the thread count or the kernel set.
 */
#ifndef HDRNN_ACTIVATIONS_H
#define HDRNN_ACTIVATIONS_H

#include "internal.h"
#include "kernels.h"

typedef struct hdrnn_activation_ops {
  const char *name;
  /* 1: forward and backward need a whole row at once (softmax). */
  int row_wise;
  /* x <- f(x) over n values (one whole row when row_wise). */
  void (*forward)(const hdrnn_kernels *k, float *x, size_t n);
  /* d <- d * f'(.) from the outputs a (softmax: the Jacobian-vector product
   * d_i <- a_i (d_i - sum_j d_j a_j)). */
  void (*backward)(const hdrnn_kernels *k, float *d, const float *a, size_t n);
} hdrnn_activation_ops;

/* NULL for an unknown value. */
const hdrnn_activation_ops *hdrnn_activation_ops_of(hdrnn_activation a);

/* The activation of layer index l (1..layer_count-1, the layer's outputs). */
static inline const hdrnn_activation_ops *hdrnn_layer_activation(const hdrnn_network *net,
                                                                 size_t l) {
  return hdrnn_activation_ops_of((hdrnn_activation)net->activations[l - 1]);
}

/* f over columns [begin, end) of rows x ld values, row by row (the seed
 * path's exact kernel calls); a row-wise activation must get the whole row. */
void hdrnn_activate(const hdrnn_activation_ops *f, const hdrnn_kernels *k, float *x, size_t rows,
                    size_t ld, size_t begin, size_t end);
/* f over all of rows x ld values, in one call unless row-wise. */
void hdrnn_activate_all(const hdrnn_activation_ops *f, const hdrnn_kernels *k, float *x,
                        size_t rows, size_t ld);
/* d *= f'(a) over columns [begin, end) of rows x ld values. */
void hdrnn_activate_backward(const hdrnn_activation_ops *f, const hdrnn_kernels *k, float *d,
                             const float *a, size_t rows, size_t ld, size_t begin, size_t end);

#endif
