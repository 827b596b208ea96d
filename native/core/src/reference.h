/*
 * reference.h - the seed's algorithm, one example at a time, in the plainest
 * C: the yardstick the batched, SIMD and threaded paths are tested against.
 */
#ifndef HDRNN_REFERENCE_H
#define HDRNN_REFERENCE_H

#include "internal.h"

/* Workspace for one example: activations and deltas of every layer, and the
 * summed gradients of a mini-batch (laid out like the network's parameters). */
typedef struct hdrnn_reference {
  float **activations; /* layer_count arrays; [0] is the input */
  float **deltas;      /* layer_count arrays; [0] unused */
  float *gradients;    /* parameter_count floats */
  size_t layer_count;
} hdrnn_reference;

hdrnn_code hdrnn_reference_init(hdrnn_reference *ref, const hdrnn_network *net,
                                hdrnn_status *status);
void hdrnn_reference_free(hdrnn_reference *ref);

/* Loads example index of data into activations[0] (bytes / 255, or floats). */
void hdrnn_reference_load(hdrnn_reference *ref, const hdrnn_dataset *data, size_t index);
/* Forward pass from activations[0]; returns nothing, fills activations[1..]. */
void hdrnn_reference_forward(hdrnn_reference *ref, const hdrnn_network *net);
/* Back-propagates one labelled example (after forward), adding its gradients
 * to ref->gradients, and returns its cost 0.5*|a-y|^2. */
double hdrnn_reference_backprop(hdrnn_reference *ref, const hdrnn_network *net,
                                uint32_t label);
/* w -= (eta / batch) * gradient for every parameter, then clears the gradients. */
void hdrnn_reference_apply(hdrnn_reference *ref, hdrnn_network *net, float eta, size_t batch);

#endif /* HDRNN_REFERENCE_H */
