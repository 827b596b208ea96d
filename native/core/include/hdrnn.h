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
/* The same, but the parameters are left unset: the caller must call
 * hdrnn_network_init (or set every parameter) before anything reads them. */
hdrnn_code hdrnn_network_create_unset(hdrnn_network **out, const uint32_t *sizes,
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
  HDRNN_FORMAT_V2 = 2,   /* this package's versioned format with a CRC-32 */
  HDRNN_FORMAT_V3 = 3    /* v2 plus activations, loss, standardisation, classes (issue 10) */
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
  /* Regression (issue 10): count * target_size float targets instead of
   * labels; target_size must equal the network's outputs. NULL: labels. */
  const float *targets;
  size_t target_size;
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
  /* Issue 10, all zero = the seed's plain SGD (see "model options" below). */
  int optimizer;           /* hdrnn_optimizer: 0 = sgd */
  float momentum;          /* momentum: mu, default 0.9 when 0 */
  float beta1, beta2;      /* adam: defaults 0.9, 0.999 when 0 */
  float epsilon;           /* adam: default 1e-8 when 0 */
  float weight_decay;      /* L2 lambda: w -= eta * lambda * w each step; 0: none */
  int schedule;            /* hdrnn_schedule: 0 = constant learning rate */
  uint32_t schedule_every; /* step: epochs between drops */
  float schedule_factor;   /* step: multiplier per drop */
  float schedule_min;      /* cosine: learning rate at the last epoch */
  uint32_t schedule_epochs; /* cosine: epochs of the whole run */
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
/* Mean cost (the network's loss; the seed's quadratic 0.5*|a-y|^2 by default)
 * of the examples seen so far this epoch, each taken in its forward pass
 * before its batch's update. */
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
  double loss;        /* mean cost of the network's loss (quadratic: 0.5*|a-y|^2) */
  uint64_t *confusion; /* NULL, or out*out counts, [actual][predicted], zeroed by caller
                        (counted into directly: no copy per thread) */
  /* With float targets (regression): root mean square and mean absolute
   * error over every output value; correct stays 0 and confusion untouched. */
  double rmse, mae;
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

/* ---------------------------------------------------------------- averaging */

/* Federated averaging and its robust variants, coordinate by coordinate. */
typedef enum hdrnn_average_method {
  HDRNN_AVERAGE_MEAN = 0,        /* sum of weight_k * net_k / sum of weights (FedAvg) */
  HDRNN_AVERAGE_MEDIAN = 1,      /* median of the networks with weight > 0, each counted once */
  HDRNN_AVERAGE_TRIMMED_MEAN = 2 /* mean after dropping floor(trim * m) lowest and highest of m */
} hdrnn_average_method;

typedef struct hdrnn_average_options {
  hdrnn_average_method method;
  double trim;                /* trimmed mean: fraction cut at each end, 0 <= trim < 0.5 */
  double clip_norm;           /* > 0: each network's distance from base is first scaled down
                                 to at most this L2 norm; 0: no clip */
  const hdrnn_network *base;  /* needed by clip_norm; may be NULL otherwise */
} hdrnn_average_options;

void hdrnn_average_options_default(hdrnn_average_options *options);

/*
 * Writes into out the combination of count networks of out's shape, with
 * weights[k] (finite, >= 0, positive sum; the mean uses them, the robust
 * methods only skip zero weights). Every parameter must be finite. Sums run
 * in double in the given order, so the result depends only on the inputs.
 * HDRNN_ERR_MISMATCH for a shape, activations or standardisation that differ, HDRNN_ERR_ARGUMENT for an
 * empty list, a bad weight or a non-finite parameter. out may not be one of nets.
 */
hdrnn_code hdrnn_network_average(hdrnn_network *out, const hdrnn_network *const *nets,
                                 const double *weights, size_t count,
                                 const hdrnn_average_options *options,
                                 hdrnn_status *status);

/* Scales n values so their L2 norm is at most max_norm (> 0); *norm (may be
 * NULL) receives the norm before. Non-finite values are HDRNN_ERR_ARGUMENT. */
hdrnn_code hdrnn_clip_norm(float *delta, size_t n, double max_norm, double *norm,
                           hdrnn_status *status);

/* ------------------------------------------- model options (issue 10) */

/* Activation of a layer (every non-input layer has one; default sigmoid). */
typedef enum hdrnn_activation {
  HDRNN_ACTIVATION_SIGMOID = 0,
  HDRNN_ACTIVATION_TANH = 1,
  HDRNN_ACTIVATION_RELU = 2,
  HDRNN_ACTIVATION_LINEAR = 3,
  HDRNN_ACTIVATION_SOFTMAX = 4, /* output layer only */
  HDRNN_ACTIVATION_COUNT = 5
} hdrnn_activation;

/* Cost the network trains on and evaluate reports. */
typedef enum hdrnn_loss {
  HDRNN_LOSS_QUADRATIC = 0,     /* 0.5*|a-y|^2, the seed's */
  HDRNN_LOSS_CROSS_ENTROPY = 1, /* softmax: -sum y ln a; sigmoid: the binary one per output */
  HDRNN_LOSS_COUNT = 2
} hdrnn_loss;

/* Initial weights. */
typedef enum hdrnn_init {
  HDRNN_INIT_NORMAL = 0, /* the seed's: every weight and bias N(0, 1) */
  HDRNN_INIT_XAVIER = 1, /* weights N(0, 2/(in+out)), biases 0 */
  HDRNN_INIT_HE = 2,     /* weights N(0, 2/in), biases 0 */
  HDRNN_INIT_COUNT = 3
} hdrnn_init;

typedef enum hdrnn_optimizer {
  HDRNN_OPTIMIZER_SGD = 0,      /* the seed's: w -= eta/B * gradient */
  HDRNN_OPTIMIZER_MOMENTUM = 1, /* v = mu v - eta g; w += v */
  HDRNN_OPTIMIZER_ADAM = 2,     /* Kingma & Ba, bias-corrected */
  HDRNN_OPTIMIZER_COUNT = 3
} hdrnn_optimizer;

typedef enum hdrnn_schedule {
  HDRNN_SCHEDULE_CONSTANT = 0,
  HDRNN_SCHEDULE_STEP = 1,   /* eta * factor^floor(epoch / every) */
  HDRNN_SCHEDULE_COSINE = 2, /* min + (eta - min)(1 + cos(pi epoch / epochs)) / 2 */
  HDRNN_SCHEDULE_COUNT = 3
} hdrnn_schedule;

/* Lower-case names ("sigmoid", "cross-entropy", "xavier", "adam"); NULL if unknown. */
const char *hdrnn_activation_name(hdrnn_activation a);
const char *hdrnn_loss_name(hdrnn_loss l);
/* Parses a name; HDRNN_ERR_ARGUMENT if unknown. */
hdrnn_code hdrnn_activation_parse(const char *name, hdrnn_activation *out, hdrnn_status *status);

/* layer in [0, layer_count - 1): the weight layer whose outputs it shapes.
 * Softmax only on the last layer. A new network is all sigmoid. */
hdrnn_code hdrnn_network_set_activation(hdrnn_network *net, size_t layer, hdrnn_activation a,
                                        hdrnn_status *status);
hdrnn_activation hdrnn_network_activation(const hdrnn_network *net, size_t layer);
/* Cross-entropy needs a sigmoid or softmax output layer (checked here and
 * again when training starts). */
hdrnn_code hdrnn_network_set_loss(hdrnn_network *net, hdrnn_loss loss, hdrnn_status *status);
hdrnn_loss hdrnn_network_loss(const hdrnn_network *net);
/* HDRNN_OK when the activations and loss go together. */
hdrnn_code hdrnn_network_check_model(const hdrnn_network *net, hdrnn_status *status);
/* Draws the parameters for init with a generator seeded by seed (normal:
 * exactly hdrnn_network_init_normal). */
hdrnn_code hdrnn_network_init(hdrnn_network *net, hdrnn_init init, uint64_t seed,
                              hdrnn_status *status);
/* 1 when the network is the seed's model (all sigmoid, quadratic, no
 * standardisation): what the seed and v2 formats can hold. */
int hdrnn_network_is_plain(const hdrnn_network *net);

/*
 * Input standardisation x' = (x - mean) / std, applied by the core before
 * the first layer in training, evaluation and inference (after bytes are
 * scaled by 1/255). mean and std have sizes[0] finite values, std > 0. NULL
 * for both clears it.
 */
hdrnn_code hdrnn_network_set_standardization(hdrnn_network *net, const float *mean,
                                             const float *std, hdrnn_status *status);
/* NULL when none. */
const float *hdrnn_network_mean(const hdrnn_network *net);
const float *hdrnn_network_std(const hdrnn_network *net);

/* Names of the output classes (kept in v3 files): count == outputs names of
 * 1..HDRNN_CLASS_NAME_MAX bytes of valid UTF-8 without NUL; NULL clears. */
#define HDRNN_CLASS_NAME_MAX 255
hdrnn_code hdrnn_network_set_classes(hdrnn_network *net, const char *const *names, size_t count,
                                     hdrnn_status *status);
/* Class i's name, NUL-terminated; NULL when the network has none. */
const char *hdrnn_network_class_name(const hdrnn_network *net, size_t i);

/*
 * v3 files with a trainer state (checkpoints): encode as HDRNN_FORMAT_V3
 * with state bytes appended to what the network holds; decode points
 * *state / *state_length into bytes (NULL / 0 when the file has none).
 */
hdrnn_code hdrnn_network_encoded_size_v3(const hdrnn_network *net, size_t state_length,
                                         size_t *size, hdrnn_status *status);
hdrnn_code hdrnn_network_encode_v3(const hdrnn_network *net, const uint8_t *state,
                                   size_t state_length, uint8_t *bytes, size_t length,
                                   hdrnn_status *status);
hdrnn_code hdrnn_network_decode_v3(const uint8_t *bytes, size_t length, const hdrnn_limits *limits,
                                   hdrnn_network **out, const uint8_t **state,
                                   size_t *state_length, hdrnn_status *status);

/* Fits mean and std (population, std floored at 1e-6 so constant inputs
 * pass through centred) of data's inputs; mean, std: input_size floats. */
hdrnn_code hdrnn_dataset_standardize(const hdrnn_dataset *data, float *mean, float *std,
                                     hdrnn_status *status);

/*
 * Trainer state for checkpoints: everything that makes a resumed run give
 * the same weights as an uninterrupted one (the shuffle's generator and
 * order, the epoch count, the optimizer's step count and moments). Take it
 * between epochs. The layout is private but fixed-size for a trainer:
 * hdrnn_trainer_state_size bytes, little-endian, versioned.
 */
size_t hdrnn_trainer_state_size(const hdrnn_trainer *trainer);
hdrnn_code hdrnn_trainer_get_state(const hdrnn_trainer *trainer, uint8_t *bytes, size_t length,
                                   hdrnn_status *status);
/* Refuses state of another shape, optimizer or dataset size (HDRNN_ERR_MISMATCH). */
hdrnn_code hdrnn_trainer_set_state(hdrnn_trainer *trainer, const uint8_t *bytes, size_t length,
                                   hdrnn_status *status);
/* Checks the optimizer, weight decay and schedule fields (as trainer_create does). */
hdrnn_code hdrnn_train_options_check(const hdrnn_train_options *options, hdrnn_status *status);

/* Epochs begun so far (the schedule's clock). */
uint32_t hdrnn_trainer_epoch(const hdrnn_trainer *trainer);

#ifdef __cplusplus
}
#endif

#endif /* HDRNN_H */
