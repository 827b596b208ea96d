/*
 * hdrnn_c.c - the standalone command line of the HDR-NN core, for devices
 * without Node. It mirrors the seed's `hdrnn` command:
 *
 *   hdrnn_c train [-s 32[,16...]] [-e 30] [-q] [-bs 10] [-lr 3] [-n c-math.nn]
 *                 [--data DIR] [--seed N] [--threads N] [--limit N] [--format seed|v2]
 *   hdrnn_c eval  [-n c-math.nn] [--data DIR]
 *   hdrnn_c infer [-i IMAGE.pgm] [-n c-math.nn]
 *
 * Only the public API (hdrnn.h) and the C library are used. Errors print one
 * line on stderr and exit with 1; usage errors exit with 2.
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime in time.h, fsync in unistd.h */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hdrnn.h"

#define PROGRAM "hdrnn_c"
#define EXIT_ERROR 1
#define EXIT_USAGE 2
#define MAX_HIDDEN 255         /* what the seed format can hold (the default layer limit is 257) */
#define MAX_FILE_BYTES (1u << 30) /* refuse to read anything bigger into memory */

static const char usage_text[] =
    "usage: " PROGRAM " <command> [<args>]\n"
    "\n"
    "commands:\n"
    "  train   train a network on MNIST and save it\n"
    "          [-s, --shape 32[,16...]]   hidden layer sizes (default 32)\n"
    "          [-e, --epochs 30]\n"
    "          [-q, --quiet]              no per-epoch evaluation and output\n"
    "          [-bs, --batch_size, --batch-size 10]\n"
    "          [-lr, --learning_rate, --learning-rate 3]\n"
    "          [-n, --net c-math.nn]      where to save the network\n"
    "          [--data DIR]               folder of the MNIST IDX files (default .)\n"
    "          [--seed N]                 initial weights and shuffling (default: from the clock)\n"
    "          [--threads N]              0 = every CPU (default)\n"
    "          [--limit N]                use only the first N training images\n"
    "          [--format seed|v2]         file format (default: seed when the shape fits it)\n"
    "  eval    accuracy of a saved network on the MNIST test set\n"
    "          [-n, --net c-math.nn] [--data DIR]\n"
    "  infer   classify one 28x28 greyscale PGM image (P2 or P5)\n"
    "          [-i, --image IMAGE.pgm] [-n, --net c-math.nn]\n"
    "\n"
    "The data folder holds train-images-idx3-ubyte, train-labels-idx1-ubyte,\n"
    "t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte (uncompressed; the names\n"
    "with a dot, like train-images.idx3-ubyte, work too).\n";

/* ------------------------------------------------------------ messages */

static int fail(int code, const char *format, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static int fail(int code, const char *format, ...) {
  va_list args;
  va_start(args, format);
  fputs(PROGRAM ": ", stderr);
  vfprintf(stderr, format, args);
  fputc('\n', stderr);
  va_end(args);
  return code;
}

static int usage_error(const char *format, const char *arg) {
  fprintf(stderr, PROGRAM ": ");
  fprintf(stderr, format, arg);
  fprintf(stderr, " (try '" PROGRAM " --help')\n");
  return EXIT_USAGE;
}

static double now_seconds(void) {
#if defined(CLOCK_MONOTONIC)
  struct timespec ts;
  if (clock_gettime(CLOCK_MONOTONIC, &ts) == 0) return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
#endif
  return (double)time(NULL);
}

/* ----------------------------------------------------------- files */

/* Reads a whole file. Returns 0, or prints a message and returns EXIT_ERROR. */
static int read_file(const char *path, uint8_t **bytes, size_t *length) {
  *bytes = NULL;
  *length = 0;
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    char prefix[1100];
    snprintf(prefix, sizeof prefix, PROGRAM ": cannot open %s", path);
    perror(prefix);
    return EXIT_ERROR;
  }
  size_t cap = 1 << 16, n = 0;
  uint8_t *buf = malloc(cap);
  int code = buf == NULL ? fail(EXIT_ERROR, "out of memory reading %s", path) : 0;
  while (code == 0) {
    if (n == cap) {
      if (cap >= MAX_FILE_BYTES) {
        code = fail(EXIT_ERROR, "%s is larger than %u bytes", path, (unsigned)MAX_FILE_BYTES);
        break;
      }
      uint8_t *grown = realloc(buf, cap * 2);
      if (grown == NULL) {
        code = fail(EXIT_ERROR, "out of memory reading %s", path);
        break;
      }
      buf = grown;
      cap *= 2;
    }
    const size_t got = fread(buf + n, 1, cap - n, f);
    n += got;
    if (got == 0) {
      if (ferror(f)) code = fail(EXIT_ERROR, "cannot read %s", path);
      break;
    }
  }
  fclose(f);
  if (code != 0) {
    free(buf);
    return code;
  }
  *bytes = buf;
  *length = n;
  return 0;
}

static int file_exists(const char *path) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) return 0;
  fclose(f);
  return 1;
}

/* The temporary file name write_file_atomic uses for path (malloc'd). */
static char *temporary_name(const char *path) {
  const size_t n = strlen(path) + 32;
  char *tmp = malloc(n);
  if (tmp != NULL) snprintf(tmp, n, "%s.tmp-%lx", path, (unsigned long)time(NULL));
  return tmp;
}

/* Opens a new temporary file next to path for writing; *tmp gets its name
 * (malloc'd). On failure prints why, with `doing` saying what we were at. */
static FILE *open_temporary(const char *path, char **tmp, const char *doing) {
  *tmp = temporary_name(path);
  if (*tmp == NULL) {
    fail(EXIT_ERROR, "out of memory");
    return NULL;
  }
  FILE *f = fopen(*tmp, "wb");
  if (f == NULL) {
    char prefix[1100];
    snprintf(prefix, sizeof prefix, PROGRAM ": cannot %s %s", doing, path);
    perror(prefix);
    free(*tmp);
    *tmp = NULL;
  }
  return f;
}

/* Fails early (before hours of training) when path's folder is not writable. */
static int check_writable(const char *path) {
  char *tmp;
  FILE *f = open_temporary(path, &tmp, "write next to");
  if (f == NULL) return EXIT_ERROR;
  fclose(f);
  remove(tmp);
  free(tmp);
  return 0;
}

/* Writes bytes to path through a temporary file in the same folder, flushed
 * to the disk, and rename(): a crash or a power cut leaves the old file or
 * the new one, never a half-written network. */
static int write_file_atomic(const char *path, const uint8_t *bytes, size_t length) {
  char *tmp;
  FILE *f = open_temporary(path, &tmp, "create a temporary file next to");
  if (f == NULL) return EXIT_ERROR;
  int ok = fwrite(bytes, 1, length, f) == length;
  ok &= fflush(f) == 0;
  ok &= fsync(fileno(f)) == 0;
  ok &= fclose(f) == 0;
  if (!ok) {
    remove(tmp);
    free(tmp);
    return fail(EXIT_ERROR, "cannot write %s (disk full?)", path);
  }
  if (rename(tmp, path) != 0) {
    char prefix[1100];
    snprintf(prefix, sizeof prefix, PROGRAM ": cannot rename %s to %s", tmp, path);
    perror(prefix);
    remove(tmp);
    free(tmp);
    return EXIT_ERROR;
  }
  free(tmp);
  return 0;
}

/* ------------------------------------------------------------ MNIST */

typedef struct idx_set {
  uint8_t *image_file, *label_file; /* owned; the views point into them */
  hdrnn_idx_images images;
  hdrnn_idx_labels labels;
} idx_set;

static void idx_set_free(idx_set *s) {
  free(s->image_file);
  free(s->label_file);
  memset(s, 0, sizeof *s);
}

/* Finds DIR/NAME, or DIR/NAME with its first '-' after the stem as a '.'
 * ("train-images.idx3-ubyte"). Fills path; 0 when found, else a message. */
static int find_idx(const char *dir, const char *stem, const char *suffix, char *path,
                    size_t size) {
  snprintf(path, size, "%s/%s-%s", dir, stem, suffix);
  if (file_exists(path)) return 0;
  snprintf(path, size, "%s/%s.%s", dir, stem, suffix);
  if (file_exists(path)) return 0;
  snprintf(path, size, "%s/%s-%s.gz", dir, stem, suffix);
  if (file_exists(path))
    return fail(EXIT_ERROR, "%s is gzipped: gunzip it first (gunzip -k %s)", path, path);
  snprintf(path, size, "%s/%s-%s", dir, stem, suffix);
  return fail(EXIT_ERROR, "cannot find %s (nor %s.%s) in %s", path, stem, suffix, dir);
}

static int load_idx(const char *dir, const char *images_stem, const char *labels_stem,
                    idx_set *set) {
  memset(set, 0, sizeof *set);
  char path[2048];
  size_t length;
  hdrnn_status st;
  int code = find_idx(dir, images_stem, "idx3-ubyte", path, sizeof path);
  if (code == 0) code = read_file(path, &set->image_file, &length);
  if (code == 0 &&
      hdrnn_idx_parse_images(set->image_file, length, NULL, &set->images, &st) != HDRNN_OK)
    code = fail(EXIT_ERROR, "%s: %s", path, st.message);
  if (code == 0) code = find_idx(dir, labels_stem, "idx1-ubyte", path, sizeof path);
  if (code == 0) code = read_file(path, &set->label_file, &length);
  if (code == 0 &&
      hdrnn_idx_parse_labels(set->label_file, length, NULL, &set->labels, &st) != HDRNN_OK)
    code = fail(EXIT_ERROR, "%s: %s", path, st.message);
  if (code == 0 && set->images.count != set->labels.count)
    code = fail(EXIT_ERROR, "%s/%s has %u images but %s has %u labels", dir, images_stem,
                (unsigned)set->images.count, labels_stem, (unsigned)set->labels.count);
  if (code == 0 && set->images.count == 0)
    code = fail(EXIT_ERROR, "%s/%s holds no images", dir, images_stem);
  if (code != 0) idx_set_free(set);
  return code;
}

static hdrnn_dataset idx_dataset(const idx_set *s, size_t limit) {
  hdrnn_dataset d;
  memset(&d, 0, sizeof d);
  d.pixels = s->images.pixels;
  d.labels8 = s->labels.labels;
  d.count = s->images.count;
  if (limit != 0 && limit < d.count) d.count = limit;
  d.input_size = (size_t)s->images.rows * s->images.cols;
  return d;
}

/* ---------------------------------------------------------- arguments */

/* Parses a whole decimal unsigned number in [min, max]. */
static int parse_unsigned(const char *s, unsigned long long min, unsigned long long max,
                          unsigned long long *out) {
  if (s == NULL || *s < '0' || *s > '9') return 0;
  char *end = NULL;
  const unsigned long long v = strtoull(s, &end, 10);
  if (end == s || *end != '\0' || v < min || v > max) return 0;
  /* strtoull saturates at ULLONG_MAX on overflow; anything that large is out of range. */
  if (v == ~0ULL && max != ~0ULL) return 0;
  *out = v;
  return 1;
}

static int parse_positive_float(const char *s, float *out) {
  if (s == NULL || *s == '\0') return 0;
  char *end = NULL;
  const double v = strtod(s, &end);
  const float f = (float)v;
  /* v > 0 rejects NaN; f - f is NaN for an infinity (or a double too big for float). */
  if (end == s || *end != '\0' || !(v > 0.0) || !(f - f == 0.0f) || f <= 0.0f) return 0;
  *out = (float)v;
  return 1;
}

/* "32" or "16,16": the hidden sizes. */
static int parse_shape(const char *s, uint32_t *hidden, size_t *count) {
  *count = 0;
  if (s == NULL || *s == '\0') return 0;
  const char *p = s;
  for (;;) {
    if (*count == MAX_HIDDEN) return 0;
    if (*p < '0' || *p > '9') return 0;
    char *end = NULL;
    const unsigned long long v = strtoull(p, &end, 10);
    if (v < 1 || v > HDRNN_DEFAULT_MAX_LAYER_SIZE) return 0;
    hidden[(*count)++] = (uint32_t)v;
    if (*end == '\0') return 1;
    if (*end != ',') return 0;
    p = end + 1;
  }
}

/* Matches argv[*i] against the given names; on a match, takes the value
 * (the next argument, or what follows '=' in --name=value). Returns 1 on a
 * match with a value, 0 when it is not this option, -1 when the value is missing. */
static int option(int argc, char **argv, int *i, const char *const *names, const char **value) {
  const char *arg = argv[*i];
  for (const char *const *n = names; *n != NULL; n++) {
    const size_t len = strlen(*n);
    if (strncmp(arg, *n, len) != 0) continue;
    if (arg[len] == '=' && (*n)[1] == '-') {
      *value = arg + len + 1;
      return 1;
    }
    if (arg[len] != '\0') continue;
    if (*i + 1 >= argc) return -1;
    *value = argv[++*i];
    return 1;
  }
  return 0;
}

static int is_flag(const char *arg, const char *const *names) {
  for (const char *const *n = names; *n != NULL; n++)
    if (strcmp(arg, *n) == 0) return 1;
  return 0;
}

static const char *const opt_shape[] = {"-s", "--shape", NULL};
static const char *const opt_epochs[] = {"-e", "--epochs", NULL};
static const char *const opt_quiet[] = {"-q", "--quiet", NULL};
static const char *const opt_batch[] = {"-bs", "--batch_size", "--batch-size", NULL};
static const char *const opt_rate[] = {"-lr", "--learning_rate", "--learning-rate", NULL};
static const char *const opt_net[] = {"-n", "--net", NULL};
static const char *const opt_data[] = {"--data", NULL};
static const char *const opt_seed[] = {"--seed", NULL};
static const char *const opt_threads[] = {"--threads", NULL};
static const char *const opt_limit[] = {"--limit", NULL};
static const char *const opt_format[] = {"--format", NULL};
static const char *const opt_image[] = {"-i", "--image", NULL};
static const char *const opt_help[] = {"-h", "--help", NULL};

typedef struct settings {
  uint32_t hidden[MAX_HIDDEN];
  size_t hidden_count;
  unsigned long long epochs, batch_size, seed, threads, limit;
  int seed_given;
  float learning_rate;
  int quiet;
  const char *net_path, *data_dir, *image_path;
  int format; /* 0: automatic */
} settings;

/* Parses the arguments of a command; allowed says which options it takes.
 * Returns -1 to go on, or an exit code. */
static int parse_args(int argc, char **argv, const char *command, settings *s) {
  const int train = strcmp(command, "train") == 0, infer = strcmp(command, "infer") == 0,
            eval = strcmp(command, "eval") == 0;
  for (int i = 2; i < argc; i++) {
    const char *arg = argv[i], *v = NULL;
    int m = 0;
    if (is_flag(arg, opt_help)) {
      fputs(usage_text, stdout);
      return 0;
    }
    if (train && is_flag(arg, opt_quiet)) {
      s->quiet = 1;
      continue;
    }
#define MATCH(allowed, names) ((allowed) && (m = option(argc, argv, &i, (names), &v)) != 0)
#define NEED_VALUE() \
  if (m < 0) return usage_error("option %s needs a value", arg)
    if (MATCH(1, opt_net)) {
      NEED_VALUE();
      s->net_path = v;
    } else if (MATCH(train || eval, opt_data)) {
      NEED_VALUE();
      s->data_dir = v;
    } else if (MATCH(infer, opt_image)) {
      NEED_VALUE();
      s->image_path = v;
    } else if (MATCH(train, opt_shape)) {
      NEED_VALUE();
      if (!parse_shape(v, s->hidden, &s->hidden_count))
        return usage_error("bad --shape '%s': expected hidden layer sizes like 32 or 16,16",
                           v);
    } else if (MATCH(train, opt_epochs)) {
      NEED_VALUE();
      if (!parse_unsigned(v, 1, 1000000, &s->epochs))
        return usage_error("bad --epochs '%s': expected a whole number from 1", v);
    } else if (MATCH(train, opt_batch)) {
      NEED_VALUE();
      if (!parse_unsigned(v, 1, 1u << 24, &s->batch_size))
        return usage_error("bad --batch-size '%s': expected a whole number from 1", v);
    } else if (MATCH(train, opt_rate)) {
      NEED_VALUE();
      if (!parse_positive_float(v, &s->learning_rate))
        return usage_error("bad --learning-rate '%s': expected a number above 0", v);
    } else if (MATCH(train, opt_seed)) {
      NEED_VALUE();
      if (!parse_unsigned(v, 0, ~0ULL, &s->seed))
        return usage_error("bad --seed '%s': expected a whole number", v);
      s->seed_given = 1;
    } else if (MATCH(train, opt_threads)) {
      NEED_VALUE();
      if (!parse_unsigned(v, 0, 1024, &s->threads))
        return usage_error("bad --threads '%s': expected 0 (all CPUs) to 1024", v);
    } else if (MATCH(train, opt_limit)) {
      NEED_VALUE();
      if (!parse_unsigned(v, 1, 0xffffffffULL, &s->limit))
        return usage_error("bad --limit '%s': expected a whole number from 1", v);
    } else if (MATCH(train, opt_format)) {
      NEED_VALUE();
      if (strcmp(v, "seed") == 0)
        s->format = HDRNN_FORMAT_SEED;
      else if (strcmp(v, "v2") == 0)
        s->format = HDRNN_FORMAT_V2;
      else
        return usage_error("bad --format '%s': expected seed or v2", v);
    } else if (arg[0] == '-' && arg[1] != '\0') {
      return usage_error("unknown option '%s'", arg);
    } else {
      return usage_error("unexpected argument '%s'", arg);
    }
#undef MATCH
#undef NEED_VALUE
  }
  return -1;
}

/* ------------------------------------------------------------ network */

static int load_network(const char *path, hdrnn_network **net, hdrnn_format *format) {
  uint8_t *bytes;
  size_t length;
  int code = read_file(path, &bytes, &length);
  if (code != 0) return code;
  hdrnn_status st;
  if (hdrnn_network_decode(bytes, length, NULL, net, format, &st) != HDRNN_OK)
    code = fail(EXIT_ERROR, "%s: %s", path, st.message);
  free(bytes);
  return code;
}

static int save_network(const hdrnn_network *net, hdrnn_format format, const char *path) {
  hdrnn_status st;
  size_t size;
  if (hdrnn_network_encoded_size(net, format, &size, &st) != HDRNN_OK)
    return fail(EXIT_ERROR, "cannot save %s: %s", path, st.message);
  uint8_t *bytes = malloc(size);
  if (bytes == NULL) return fail(EXIT_ERROR, "out of memory saving %s", path);
  int code = 0;
  if (hdrnn_network_encode(net, format, bytes, size, &st) != HDRNN_OK)
    code = fail(EXIT_ERROR, "cannot save %s: %s", path, st.message);
  else
    code = write_file_atomic(path, bytes, size);
  free(bytes);
  return code;
}

static void print_shape(FILE *f, const hdrnn_network *net) {
  const uint32_t *sizes = hdrnn_network_sizes(net);
  for (size_t l = 0; l < hdrnn_network_layer_count(net); l++)
    fprintf(f, "%s%u", l > 0 ? "-" : "", (unsigned)sizes[l]);
}

/* ------------------------------------------------------------ commands */

static int cmd_train(const settings *s) {
  idx_set train_set, test_set;
  memset(&test_set, 0, sizeof test_set);
  int code = load_idx(s->data_dir, "train-images", "train-labels", &train_set);
  if (code != 0) return code;
  if (!s->quiet) code = load_idx(s->data_dir, "t10k-images", "t10k-labels", &test_set);
  if (code != 0) {
    idx_set_free(&train_set);
    return code;
  }
  const hdrnn_dataset train = idx_dataset(&train_set, (size_t)s->limit);
  const hdrnn_dataset test = idx_dataset(&test_set, 0);
  if (!s->quiet && test.input_size != train.input_size)
    code = fail(EXIT_ERROR, "training images are %ux%u but test images are %ux%u",
                (unsigned)train_set.images.rows, (unsigned)train_set.images.cols,
                (unsigned)test_set.images.rows, (unsigned)test_set.images.cols);

  uint32_t sizes[MAX_HIDDEN + 2];
  size_t count = 0;
  sizes[count++] = (uint32_t)train.input_size;
  for (size_t l = 0; l < s->hidden_count; l++) sizes[count++] = s->hidden[l];
  sizes[count++] = 10;
  hdrnn_network *net = NULL;
  hdrnn_trainer *trainer = NULL;
  hdrnn_status st;
  if (code == 0 && hdrnn_network_create(&net, sizes, count, NULL, &st) != HDRNN_OK)
    code = fail(EXIT_ERROR, "cannot make the network: %s", st.message);

  /* Choose the file format before spending time on training. */
  hdrnn_format format = HDRNN_FORMAT_SEED;
  if (code == 0) {
    if (s->format != 0) {
      format = (hdrnn_format)s->format;
      if (hdrnn_format_check(net, format, &st) != HDRNN_OK)
        code = fail(EXIT_ERROR, "--format seed: %s", st.message);
    } else if (hdrnn_format_check(net, HDRNN_FORMAT_SEED, NULL) != HDRNN_OK) {
      format = HDRNN_FORMAT_V2;
    }
  }

  if (code == 0) code = check_writable(s->net_path);

  uint64_t seed = s->seed;
  if (!s->seed_given) seed = (uint64_t)time(NULL) ^ ((uint64_t)clock() << 32);
  hdrnn_train_options opt;
  hdrnn_train_options_default(&opt);
  opt.batch_size = (size_t)s->batch_size;
  opt.learning_rate = s->learning_rate;
  opt.shuffle = 1;
  opt.seed = seed ^ 0x5eed5eed5eed5eedULL; /* the shuffle's stream, apart from the weights' */
  opt.threads = (unsigned)s->threads;
  if (code == 0) {
    hdrnn_network_init_normal(net, seed);
    if (hdrnn_trainer_create(&trainer, net, &train, &opt, &st) != HDRNN_OK)
      code = fail(EXIT_ERROR, "cannot train: %s", st.message);
  }
  if (code == 0 && !s->quiet) {
    printf("Training ");
    print_shape(stdout, net);
    printf(" on %zu images: %llu epochs, batch size %llu, learning rate %g, seed %llu, "
           "%s%u thread(s), kernels %s\n",
           train.count, s->epochs, s->batch_size, (double)s->learning_rate,
           (unsigned long long)seed, s->threads == 0 ? "automatic count of 1 to " : "",
           hdrnn_trainer_threads(trainer),
           hdrnn_kernels_name(hdrnn_kernels_best()));
    fflush(stdout);
  }
  hdrnn_run_options run;
  memset(&run, 0, sizeof run);
  run.threads = (unsigned)s->threads;
  for (unsigned long long e = 1; code == 0 && e <= s->epochs; e++) {
    const double start = now_seconds();
    hdrnn_trainer_begin_epoch(trainer);
    size_t done;
    if (hdrnn_trainer_step(trainer, SIZE_MAX, &done, &st) != HDRNN_OK) {
      code = fail(EXIT_ERROR, "training failed: %s", st.message);
      break;
    }
    const double seconds = now_seconds() - start;
    if (hdrnn_network_check_finite(net, &st) != HDRNN_OK) {
      code = fail(EXIT_ERROR, "training diverged in epoch %llu (%s); try a smaller learning rate",
                  e, st.message);
      break;
    }
    if (s->quiet) continue;
    hdrnn_evaluation ev;
    memset(&ev, 0, sizeof ev);
    if (hdrnn_evaluate(net, &test, &run, &ev, &st) != HDRNN_OK) {
      code = fail(EXIT_ERROR, "evaluation failed: %s", st.message);
      break;
    }
    printf("Epoch %llu: %zu / %zu (%.2f%%) loss %.4f time %.2fs\n", e, ev.correct, ev.total,
           100.0 * (double)ev.correct / (double)ev.total, hdrnn_trainer_epoch_loss(trainer),
           seconds);
    fflush(stdout);
  }
  hdrnn_trainer_free(trainer);
  if (code == 0) {
    code = save_network(net, format, s->net_path);
    if (code == 0 && !s->quiet)
      printf("Saved the network to %s (%s format)\n", s->net_path,
             format == HDRNN_FORMAT_SEED ? "seed .nn" : "hdrnn v2");
  }
  hdrnn_network_free(net);
  idx_set_free(&train_set);
  idx_set_free(&test_set);
  return code;
}

static int cmd_eval(const settings *s) {
  hdrnn_network *net = NULL;
  int code = load_network(s->net_path, &net, NULL);
  if (code != 0) return code;
  idx_set test_set;
  code = load_idx(s->data_dir, "t10k-images", "t10k-labels", &test_set);
  if (code != 0) {
    hdrnn_network_free(net);
    return code;
  }
  const hdrnn_dataset test = idx_dataset(&test_set, 0);
  const size_t outputs = hdrnn_network_sizes(net)[hdrnn_network_layer_count(net) - 1];
  uint64_t *confusion = NULL;
  if (outputs <= 32) confusion = calloc(outputs * outputs, sizeof *confusion);
  hdrnn_evaluation ev;
  memset(&ev, 0, sizeof ev);
  ev.confusion = confusion;
  hdrnn_status st;
  if (hdrnn_evaluate(net, &test, NULL, &ev, &st) != HDRNN_OK) {
    code = fail(EXIT_ERROR, "cannot evaluate %s: %s", s->net_path, st.message);
  } else {
    printf("Network ");
    print_shape(stdout, net);
    printf(" from %s\n", s->net_path);
    printf("Accuracy: %zu / %zu (%.2f%%) loss %.4f\n", ev.correct, ev.total,
           100.0 * (double)ev.correct / (double)ev.total, ev.loss);
    if (confusion != NULL) {
      printf("Confusion (rows: actual, columns: predicted)\n     ");
      for (size_t j = 0; j < outputs; j++) printf(" %5zu", j);
      printf("\n");
      for (size_t i = 0; i < outputs; i++) {
        printf("%5zu", i);
        for (size_t j = 0; j < outputs; j++)
          printf(" %5llu", (unsigned long long)confusion[i * outputs + j]);
        printf("\n");
      }
    }
  }
  free(confusion);
  idx_set_free(&test_set);
  hdrnn_network_free(net);
  return code;
}

static int cmd_infer(const settings *s) {
  if (s->image_path == NULL)
    return usage_error("infer needs an image: %s", "-i IMAGE.pgm");
  hdrnn_network *net = NULL;
  int code = load_network(s->net_path, &net, NULL);
  if (code != 0) return code;
  uint8_t *bytes = NULL;
  size_t length = 0;
  code = read_file(s->image_path, &bytes, &length);
  hdrnn_pgm_info info;
  hdrnn_status st;
  float *pixels = NULL;
  const size_t inputs = hdrnn_network_sizes(net)[0];
  const size_t outputs = hdrnn_network_sizes(net)[hdrnn_network_layer_count(net) - 1];
  if (code == 0 && hdrnn_pgm_decode(bytes, length, NULL, &info, NULL, 0, &st) != HDRNN_OK)
    code = fail(EXIT_ERROR, "%s: %s", s->image_path, st.message);
  if (code == 0 && (size_t)info.width * info.height != inputs)
    code = fail(EXIT_ERROR, "%s is %ux%u (%zu pixels) but the network takes %zu inputs",
                s->image_path, (unsigned)info.width, (unsigned)info.height,
                (size_t)info.width * info.height, inputs);
  float *scores = NULL;
  if (code == 0) {
    pixels = malloc(inputs * sizeof *pixels);
    scores = malloc(outputs * sizeof *scores);
    if (pixels == NULL || scores == NULL) code = fail(EXIT_ERROR, "out of memory");
  }
  if (code == 0 &&
      hdrnn_pgm_decode(bytes, length, NULL, &info, pixels, inputs, &st) != HDRNN_OK)
    code = fail(EXIT_ERROR, "%s: %s", s->image_path, st.message);
  if (code == 0) {
    /* The image as text art, two characters per pixel for a squarer look. */
    static const char ramp[] = " .:-=+*#%@";
    for (uint32_t y = 0; y < info.height; y++) {
      for (uint32_t x = 0; x < info.width; x++) {
        const float v = pixels[(size_t)y * info.width + x];
        const int level = (int)(v * 9.999f);
        const char c = ramp[level < 0 ? 0 : level > 9 ? 9 : level];
        putchar(c);
        putchar(c);
      }
      putchar('\n');
    }
    hdrnn_dataset d;
    memset(&d, 0, sizeof d);
    d.features = pixels;
    d.count = 1;
    d.input_size = inputs;
    uint32_t label = 0;
    hdrnn_run_options run;
    memset(&run, 0, sizeof run);
    run.threads = 1;
    if (hdrnn_infer(net, &d, &run, scores, &label, &st) != HDRNN_OK) {
      code = fail(EXIT_ERROR, "cannot classify %s: %s", s->image_path, st.message);
    } else {
      printf("Network predicts %u (score %.4f)\n", (unsigned)label, (double)scores[label]);
    }
  }
  free(scores);
  free(pixels);
  free(bytes);
  hdrnn_network_free(net);
  return code;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fputs(usage_text, stderr);
    return EXIT_USAGE;
  }
  const char *command = argv[1];
  if (is_flag(command, opt_help) || strcmp(command, "help") == 0) {
    fputs(usage_text, stdout);
    return 0;
  }
  if (strcmp(command, "train") != 0 && strcmp(command, "eval") != 0 &&
      strcmp(command, "infer") != 0)
    return usage_error("unknown command '%s'", command);
  settings s;
  memset(&s, 0, sizeof s);
  s.hidden[0] = 32;
  s.hidden_count = 1;
  s.epochs = 30;
  s.batch_size = 10;
  s.learning_rate = 3.0f;
  s.net_path = "c-math.nn";
  s.data_dir = ".";
  const int parsed = parse_args(argc, argv, command, &s);
  if (parsed >= 0) return parsed;
  if (strcmp(command, "train") == 0) return cmd_train(&s);
  if (strcmp(command, "eval") == 0) return cmd_eval(&s);
  return cmd_infer(&s);
}
