/*
 * hdrnn.h - the HDR-NN core: a fully connected sigmoid network trained with
 * mini-batch SGD on a quadratic cost.
 *
 * Plain C99 (plus POSIX threads). No Node, no printing, no exit(), no global
 * mutable state: every function that can fail returns an hdrnn_code and, when
 * given a non-NULL hdrnn_status, writes a one-line message saying what was
 * wrong. All sizes crossing this interface are checked before anything is
 * allocated, because the bytes and numbers reaching it come from files and
 * from JavaScript callers we do not trust.
 */
#ifndef HDRNN_H
#define HDRNN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ status */

typedef enum hdrnn_code {
  HDRNN_OK = 0,
  HDRNN_ERR_ARGUMENT = 1,    /* a parameter is NULL, zero, NaN or out of range */
  HDRNN_ERR_NO_MEMORY = 2,   /* an allocation failed */
  HDRNN_ERR_LIMIT = 3,       /* a size exceeds a cap in hdrnn_limits or size_t */
  HDRNN_ERR_FORMAT = 4,      /* bytes are not a valid file of the expected kind */
  HDRNN_ERR_TRUNCATED = 5,   /* the bytes end before their header says they do */
  HDRNN_ERR_CHECKSUM = 6,    /* the contents do not match their checksum */
  HDRNN_ERR_UNSUPPORTED = 7, /* valid, but not something this build can do */
  HDRNN_ERR_MISMATCH = 8,    /* data does not fit the network (sizes, labels) */
  HDRNN_ERR_SYSTEM = 9,      /* the OS refused (thread creation and the like) */
  HDRNN_ERR_DIVERGED = 10,   /* training made a weight NaN or infinite */
  HDRNN_ERR_CANCELLED = 11   /* stopped by the caller's cancel flag */
} hdrnn_code;

#define HDRNN_MESSAGE_MAX 256

typedef struct hdrnn_status {
  hdrnn_code code;
  char message[HDRNN_MESSAGE_MAX];
} hdrnn_status;

/* A stable, lower-case name for a code ("format", "checksum", ...). */
const char *hdrnn_code_name(hdrnn_code code);

/* ------------------------------------------------------------------ limits */

/*
 * Caps checked before allocating, so that a hostile header or argument cannot
 * make the library allocate without bound. Zero in any field means "use the
 * default". Callers with bigger needs raise them explicitly.
 */
typedef struct hdrnn_limits {
  uint64_t max_parameters; /* weights + biases of one network; default 1<<24 */
  uint32_t max_layers;     /* number of layer sizes incl. input; default 257 (the seed format's most) */
  uint32_t max_layer_size; /* neurons in any one layer; default 1<<20 */
  uint64_t max_items;      /* images or labels in one IDX file; default 1<<24 */
  uint64_t max_pixels;     /* pixels of one PGM image; default 1<<24 */
  /* Bytes of workspace one evaluation, inference or training run may
   * allocate (buffers, scores, confusion matrix), checked before allocating;
   * default 256 MiB, sized for a 1 GB device. A network keeps the value it
   * was created (or decoded) with, and every run on it obeys it. */
  uint64_t max_working_bytes;
} hdrnn_limits;

#define HDRNN_DEFAULT_MAX_PARAMETERS ((uint64_t)1 << 24)
#define HDRNN_DEFAULT_MAX_LAYERS 257u
#define HDRNN_DEFAULT_MAX_LAYER_SIZE ((uint32_t)1 << 20)
#define HDRNN_DEFAULT_MAX_ITEMS ((uint64_t)1 << 24)
#define HDRNN_DEFAULT_MAX_PIXELS ((uint64_t)1 << 24)
#define HDRNN_DEFAULT_MAX_WORKING_BYTES ((uint64_t)1 << 28)

/* Fills every zero field of *out from `in` (may be NULL) or the defaults. */
void hdrnn_limits_resolve(const hdrnn_limits *in, hdrnn_limits *out);

/* ----------------------------------------------------------------- network */

typedef struct hdrnn_network hdrnn_network;

/*
 * A network of shape sizes[0..count-1]: sizes[0] inputs, sizes[count-1]
 * outputs, count >= 2, every size >= 1. Parameters start at zero.
 * Layer l (0 <= l < count-1) has a weight matrix of sizes[l+1] rows by
 * sizes[l] columns, row-major ([out][in]), and sizes[l+1] biases.
 */
hdrnn_code hdrnn_network_create(hdrnn_network **out, const uint32_t *sizes,
                                size_t count, const hdrnn_limits *limits,
                                hdrnn_status *status);
void hdrnn_network_free(hdrnn_network *net);
hdrnn_code hdrnn_network_clone(const hdrnn_network *src, hdrnn_network **out,
                               hdrnn_status *status);
/* Copies every parameter; dst and src must have the same shape. */
hdrnn_code hdrnn_network_copy_parameters(hdrnn_network *dst,
                                         const hdrnn_network *src,
                                         hdrnn_status *status);
/* Draws every weight and bias from N(0, 1) with a generator seeded by seed. */
void hdrnn_network_init_normal(hdrnn_network *net, uint64_t seed);

size_t hdrnn_network_layer_count(const hdrnn_network *net); /* sizes, incl. input */
const uint32_t *hdrnn_network_sizes(const hdrnn_network *net);
size_t hdrnn_network_parameter_count(const hdrnn_network *net);
/* layer in [0, layer_count - 1); NULL when out of range. */
float *hdrnn_network_weights(hdrnn_network *net, size_t layer);
float *hdrnn_network_biases(hdrnn_network *net, size_t layer);
const float *hdrnn_network_weights_const(const hdrnn_network *net, size_t layer);
const float *hdrnn_network_biases_const(const hdrnn_network *net, size_t layer);
/* All parameters as one array (layout internal; use for copying/hashing). */
const float *hdrnn_network_parameters(const hdrnn_network *net);
/* HDRNN_OK when every parameter is finite, else HDRNN_ERR_FORMAT naming one. */
hdrnn_code hdrnn_network_check_finite(const hdrnn_network *net,
                                      hdrnn_status *status);
/* The working-memory cap of runs on net (limits.max_working_bytes). */
uint64_t hdrnn_network_working_limit(const hdrnn_network *net);
/* HDRNN_OK when `bytes` of workspace for `what` fit net's working-memory
 * cap, else HDRNN_ERR_LIMIT saying so. For callers allocating on a run's behalf. */
hdrnn_code hdrnn_network_check_working(const hdrnn_network *net, uint64_t bytes,
                                       const char *what, hdrnn_status *status);

/* ------------------------------------------------------------- file formats */

typedef enum hdrnn_format {
  HDRNN_FORMAT_SEED = 1, /* the seed's .nn: magic 7, 784 in, 10 out, layers <= 255 */
  HDRNN_FORMAT_V2 = 2    /* this package's versioned format with a CRC-32 */
} hdrnn_format;

/* The format the bytes claim to be, from their first bytes only. */
hdrnn_code hdrnn_format_detect(const uint8_t *bytes, size_t length,
                               hdrnn_format *format, hdrnn_status *status);
/* HDRNN_OK if net can be written in format (the seed format cannot hold every shape). */
hdrnn_code hdrnn_format_check(const hdrnn_network *net, hdrnn_format format,
                              hdrnn_status *status);
hdrnn_code hdrnn_network_encoded_size(const hdrnn_network *net,
                                      hdrnn_format format, size_t *size,
                                      hdrnn_status *status);
/* Writes exactly hdrnn_network_encoded_size() bytes; length must be at least that. */
hdrnn_code hdrnn_network_encode(const hdrnn_network *net, hdrnn_format format,
                                uint8_t *bytes, size_t length,
                                hdrnn_status *status);
/* Reads either format (told apart by the first bytes). format may be NULL. */
hdrnn_code hdrnn_network_decode(const uint8_t *bytes, size_t length,
                                const hdrnn_limits *limits, hdrnn_network **out,
                                hdrnn_format *format, hdrnn_status *status);

/* CRC-32 (IEEE 802.3, as zlib's crc32()), continuing from crc (start at 0). */
uint32_t hdrnn_crc32(uint32_t crc, const uint8_t *bytes, size_t length);

/* ------------------------------------------------------------ IDX and PGM */

/* Views into the caller's bytes; nothing is copied or allocated. */
typedef struct hdrnn_idx_images {
  const uint8_t *pixels; /* count * rows * cols bytes */
  uint32_t count, rows, cols;
} hdrnn_idx_images;

typedef struct hdrnn_idx_labels {
  const uint8_t *labels; /* count bytes */
  uint32_t count;
} hdrnn_idx_labels;

hdrnn_code hdrnn_idx_parse_images(const uint8_t *bytes, size_t length,
                                  const hdrnn_limits *limits,
                                  hdrnn_idx_images *out, hdrnn_status *status);
hdrnn_code hdrnn_idx_parse_labels(const uint8_t *bytes, size_t length,
                                  const hdrnn_limits *limits,
                                  hdrnn_idx_labels *out, hdrnn_status *status);

typedef struct hdrnn_pgm_info {
  uint32_t width, height, maxval;
  int binary; /* 1 for P5, 0 for P2 */
} hdrnn_pgm_info;

/*
 * Parses a PGM (P2 or P5, comments, maxval 1..65535). Fills *info. When
 * pixels is not NULL it must hold capacity >= width*height floats; they
 * receive value / maxval, row by row. With pixels NULL only the header is
 * read (the pixel data is still validated).
 */
hdrnn_code hdrnn_pgm_decode(const uint8_t *bytes, size_t length,
                            const hdrnn_limits *limits, hdrnn_pgm_info *info,
                            float *pixels, size_t capacity,
                            hdrnn_status *status);

/* ----------------------------------------------------------------- datasets */

/*
 * Examples for training, evaluation or inference: count rows of input_size
 * values, either bytes (scaled by 1/255 as a batch is formed, so MNIST stays
 * 47 MB of bytes in memory) or floats used as they are. Exactly one of
 * pixels / features is non-NULL. Labels are class indices < output size:
 * exactly one of labels8 / labels32 for training and evaluation, none needed
 * for inference. The dataset only borrows these arrays.
 */
typedef struct hdrnn_dataset {
  const uint8_t *pixels;
  const float *features;
  const uint8_t *labels8;
  const uint32_t *labels32;
  size_t count;
  size_t input_size;
} hdrnn_dataset;

/* Checks that data fits net (input size, labels present and in range if
 * need_labels, finite features). */
hdrnn_code hdrnn_dataset_check(const hdrnn_dataset *data,
                               const hdrnn_network *net, int need_labels,
                               hdrnn_status *status);

/* ------------------------------------------------------------------ kernels */

/* The matrix kernels of one instruction set; see kernels/kernels.h. */
typedef struct hdrnn_kernels hdrnn_kernels;

/* The fastest kernels this CPU can run (checked at run time). */
const hdrnn_kernels *hdrnn_kernels_best(void);
/* Plain C kernels that run anywhere. */
const hdrnn_kernels *hdrnn_kernels_portable(void);
/* "portable", "avx2", "avx512", "neon", or "best"; NULL if unknown or not runnable here. */
const hdrnn_kernels *hdrnn_kernels_find(const char *name);
const char *hdrnn_kernels_name(const hdrnn_kernels *kernels);

/* Online CPUs, at least 1. */
unsigned hdrnn_cpu_count(void);

/* Lowers the calling thread to background priority (Linux: SCHED_IDLE and
 * nice 19); threads it creates afterwards inherit it. */
hdrnn_code hdrnn_thread_background(hdrnn_status *status);

/* ----------------------------------------------------------------- training */

typedef enum hdrnn_algorithm {
  HDRNN_ALGORITHM_BATCHED = 0,  /* whole mini-batch as matrix products, threaded */
  HDRNN_ALGORITHM_REFERENCE = 1 /* the seed's per-example path, one thread */
} hdrnn_algorithm;

typedef struct hdrnn_train_options {
  size_t batch_size;       /* >= 1 */
  float learning_rate;     /* eta, finite and > 0 */
  int shuffle;             /* nonzero: new order each epoch from seed */
  uint64_t seed;           /* for the shuffle */
  unsigned threads;        /* 0: automatic, up to hdrnn_cpu_count(): the trainer
                            times candidate counts as it runs and keeps the
                            fastest (the weights are the same whatever it picks) */
  hdrnn_algorithm algorithm;
  const hdrnn_kernels *kernels; /* NULL: hdrnn_kernels_best() */
  /* Optional flag owned by the caller, read atomically between mini-batches:
   * while nonzero, hdrnn_trainer_step returns after the mini-batch in hand.
   * Lets another thread stop training or take a turn at the weights. */
  const int *interrupt;
  /* HDRNN_PRIORITY_BACKGROUND: every training thread lowers itself to the
   * idle scheduling class (Linux SCHED_IDLE, else nice 19), so the host's
   * own work always goes first. */
  int priority;
} hdrnn_train_options;

#define HDRNN_PRIORITY_NORMAL 0
#define HDRNN_PRIORITY_BACKGROUND 1

void hdrnn_train_options_default(hdrnn_train_options *options);

typedef struct hdrnn_trainer hdrnn_trainer;

/*
 * Prepares training of net on data: checks both, sizes every workspace once
 * (nothing is allocated per mini-batch) and starts the worker threads. The
 * trainer borrows net and data until it is freed. Training is stepwise so a
 * caller can stop, report progress or let readers see the weights between
 * mini-batches.
 */
hdrnn_code hdrnn_trainer_create(hdrnn_trainer **out, hdrnn_network *net,
                                const hdrnn_dataset *data,
                                const hdrnn_train_options *options,
                                hdrnn_status *status);
void hdrnn_trainer_free(hdrnn_trainer *trainer);
/* Starts the next epoch (draws the new order when shuffling). */
void hdrnn_trainer_begin_epoch(hdrnn_trainer *trainer);
/*
 * Runs at most max_batches mini-batches of the current epoch. Returns the
 * number run in *done: fewer than asked means the epoch is over or the
 * interrupt flag was raised. Between calls the network holds the weights
 * after a whole mini-batch.
 */
hdrnn_code hdrnn_trainer_step(hdrnn_trainer *trainer, size_t max_batches,
                              size_t *done, hdrnn_status *status);
size_t hdrnn_trainer_batches_per_epoch(const hdrnn_trainer *trainer);
size_t hdrnn_trainer_batches_done(const hdrnn_trainer *trainer); /* this epoch */
/* Mean quadratic cost 0.5*|a-y|^2 of the examples seen so far this epoch,
 * each taken in its forward pass before its batch's update. */
double hdrnn_trainer_epoch_loss(const hdrnn_trainer *trainer);
/* Threads the last mini-batches ran on (with options.threads 0, the automatic choice). */
unsigned hdrnn_trainer_threads(const hdrnn_trainer *trainer);

/* --------------------------------------------------- evaluation, inference */

typedef struct hdrnn_run_options {
  unsigned threads;             /* 0 (or more than the CPUs): hdrnn_cpu_count() */
  const hdrnn_kernels *kernels; /* NULL: hdrnn_kernels_best() */
  /* Optional flag owned by the caller, read atomically between chunks of 64
   * examples: once nonzero the run stops and returns HDRNN_ERR_CANCELLED. */
  const int *cancel;
} hdrnn_run_options;

typedef struct hdrnn_evaluation {
  size_t correct;
  size_t total;
  double loss;        /* mean 0.5*|a-y|^2 */
  uint64_t *confusion; /* NULL, or out*out counts, [actual][predicted], zeroed by caller
                        (counted into directly: no copy per thread) */
} hdrnn_evaluation;

hdrnn_code hdrnn_evaluate(const hdrnn_network *net, const hdrnn_dataset *data,
                          const hdrnn_run_options *options,
                          hdrnn_evaluation *result, hdrnn_status *status);

/*
 * Output activations of every example: scores (count * outputs floats) and
 * labels (count entries: index of the largest score, the first on ties).
 * Either output may be NULL.
 */
hdrnn_code hdrnn_infer(const hdrnn_network *net, const hdrnn_dataset *data,
                       const hdrnn_run_options *options, float *scores,
                       uint32_t *labels, hdrnn_status *status);

#ifdef __cplusplus
}
#endif

#endif /* HDRNN_H */
