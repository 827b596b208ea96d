/*
 * trainer.h - the trainer's state, shared by train.c (the public, stepwise
 * API and the per-example reference path) and train_batched.c (whole
 * mini-batches through the matrix kernels, on the pool's threads).
 */
#ifndef HDRNN_TRAINER_H
#define HDRNN_TRAINER_H

#include "internal.h"
#include "kernels.h"
#include "optimizers.h"
#include "pool.h"
#include "reference.h"
#include "rng.h"

/* Workspaces of the batched path, each sized once for a whole batch. */
typedef struct hdrnn_batch_buffers {
  /* Two sets, for even and odd batches: a batch's weight updates are
   * applied while the next batch already runs (see train_batched.c). */
  float **activations[2]; /* layer_count arrays of batch * sizes[l]; [0] are the inputs */
  float **deltas[2];      /* layer_count arrays; [0] unused */
  /* Per thread, when every thread computes the (small) output layer itself. */
  float **top_activations; /* threads arrays of batch * outputs */
  float **top_deltas;
  /* Per thread and parity, when every thread loads the whole batch's inputs
   * itself (private_inputs): threads arrays of batch * inputs. */
  float **inputs[2];
  unsigned threads;
  int replicated_top; /* 1: output layer computed by every thread, no barrier */
  int private_inputs; /* 1: each thread reads its own copy of the inputs */
} hdrnn_batch_buffers;

/* Whether every thread computes the output layer itself, and whether a
 * batch of `rows` inputs is loaded by every thread into its own buffer
 * (train_batched.c says why); the trainer sizes its workspaces by them. */
int hdrnn_batched_replicated_top(const hdrnn_network *net);
int hdrnn_batched_private_inputs(const hdrnn_network *net, size_t rows, unsigned threads);

/*
 * The automatic thread count (options.threads == 0): the same weights come
 * out whatever the count, so the trainer may pick it as it goes. It times
 * runs with each candidate, keeps the fastest for a while, and probes
 * again, because what is fastest depends on the batch size and the network
 * and on what else the machine is doing (other services on the device, or
 * virtual CPUs sharing a physical core, where more threads can be slower).
 * How it times and decides: autothreads.c.
 */
#define HDRNN_AUTO_CANDIDATES 3
#define HDRNN_AUTO_SAMPLES 5 /* timed runs per candidate and round, at most */
typedef struct hdrnn_auto_threads {
  int enabled;
  unsigned candidates[HDRNN_AUTO_CANDIDATES];
  unsigned count;
  size_t batches_per_epoch;
  int probing;           /* 1: a round of timed runs is going on */
  unsigned calibrating;  /* calibration runs done (first round); == count after */
  unsigned turn;         /* position in the round's alternating order */
  unsigned current;      /* candidate of the current timed run */
  double run_seconds;    /* the current timed run (or settled piece) so far, */
  size_t run_batches;    /* which may span several steps */
  double samples[HDRNN_AUTO_CANDIDATES][HDRNN_AUTO_SAMPLES]; /* seconds per batch */
  unsigned taken[HDRNN_AUTO_CANDIDATES];
  size_t chunk[HDRNN_AUTO_CANDIDATES];        /* batches per timed run */
  double calibration[HDRNN_AUTO_CANDIDATES];  /* seconds per batch, first runs */
  double budget;         /* seconds per timed run */
  int decided;           /* a round has decided (and not been overturned by load) */
  unsigned best;         /* candidate in use once settled */
  double best_per_batch; /* its median seconds per batch */
  double settle;         /* seconds the choice stands before the next round */
  double settled;        /* seconds run since it was made */
  unsigned slow;         /* settled pieces in a row clearly slower than measured */
  size_t piece;          /* batches per timed settled piece */
  size_t warm_left;      /* untimed batches left after a switch of count */
} hdrnn_auto_threads;

void hdrnn_auto_init(hdrnn_auto_threads *a, unsigned threads, size_t batches_per_epoch);
/* How many of the next `left` (> 0) batches to run, and on how many threads. */
size_t hdrnn_auto_plan(hdrnn_auto_threads *a, size_t left, unsigned *active);
/* Books a run of `batches` planned by hdrnn_auto_plan that took `seconds`. */
void hdrnn_auto_record(hdrnn_auto_threads *a, size_t batches, double seconds);

struct hdrnn_trainer {
  hdrnn_network *net;
  hdrnn_dataset data;
  hdrnn_train_options options;
  const hdrnn_kernels *kernels;
  hdrnn_pool *pool;
  hdrnn_rng rng;
  uint32_t *order;          /* this epoch's order of the examples */
  size_t batches_per_epoch; /* ceil(count / batch_size) */
  size_t batches_done;      /* this epoch */
  double loss_sum;          /* this epoch, added batch by batch (so the sum does
                               not depend on how the epoch was cut into steps) */
  size_t loss_count;
  hdrnn_batch_buffers buffers;
  hdrnn_auto_threads autothreads;
  unsigned active_threads; /* threads of the last mini-batch run */
  /* the current step, shared with the pool's threads */
  size_t step_first, step_count; /* batches of this step */
  size_t step_done;              /* batches finished (written by thread 0) */
  int step_stop;                 /* thread 0 saw the interrupt flag */
  hdrnn_reference reference; /* reference path */
  /* Issue 10: schedule and optimizer. */
  uint32_t epoch;           /* epochs begun */
  float epoch_rate;         /* this epoch's learning rate */
  const hdrnn_optimizer_ops *optimizer;
  int fused_sgd;            /* 1: the kernels' update alone (plain SGD, no decay) */
  float *gradient;          /* parameter_count, or NULL when fused_sgd */
  float *moment1, *moment2; /* parameter_count each, or NULL */
};

/* Examples [*first, *first + *rows) of the epoch's order make batch `batch`. */
void hdrnn_trainer_batch_bounds(const hdrnn_trainer *t, size_t batch, size_t *first, size_t *rows);
/* Whether the caller asked the run to pause or stop (options.interrupt). */
int hdrnn_trainer_interrupted(const hdrnn_trainer *t);

hdrnn_code hdrnn_batched_init(hdrnn_trainer *t, unsigned threads, hdrnn_status *status);
void hdrnn_batched_free(hdrnn_trainer *t);
/* Runs batches [t->step_first, +t->step_count) on `active` of the pool's
 * threads; sets step_done and adds each batch's cost to loss_sum. */
void hdrnn_batched_step(hdrnn_trainer *t, unsigned active);

#endif /* HDRNN_TRAINER_H */
