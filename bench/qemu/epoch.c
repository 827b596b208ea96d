/*
 * epoch.c - the workload bench/qemu/run.mjs counts: MNIST training epochs of
 * one network on one thread with the kernels it is told, nothing else.
 *
 *   epoch DIR HIDDEN BATCH KERNELS IMAGES EPOCHS
 *     DIR      folder with train-images-idx3-ubyte and train-labels-idx1-ubyte
 *     HIDDEN   hidden layer sizes, "32" or "16,16"
 *     KERNELS  neon | portable | best
 *     IMAGES   the first IMAGES training images (0: all 60,000)
 *     EPOCHS   epochs to train; 0 does all the setup and no training, so the
 *              difference of two runs is the training alone
 * Seed defaults otherwise: N(0, 1) weights (seed 1), eta 3, shuffled.
 * Prints the kernels used and the mean training loss of the last epoch.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hdrnn.h"

static unsigned char *read_all(const char *dir, const char *name, size_t *length) {
  char path[2048];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "rb");
  if (f == NULL) return NULL;
  unsigned char *bytes = NULL;
  long size = -1;
  if (fseek(f, 0, SEEK_END) == 0) size = ftell(f);
  if (size > 0 && size < (1L << 27) && fseek(f, 0, SEEK_SET) == 0 &&
      (bytes = malloc((size_t)size)) != NULL && fread(bytes, 1, (size_t)size, f) != (size_t)size) {
    free(bytes);
    bytes = NULL;
  }
  fclose(f);
  *length = (size_t)size;
  return bytes;
}

static int fail(const char *what, const hdrnn_status *st) {
  fprintf(stderr, "epoch: %s%s%s\n", what, st ? ": " : "", st ? st->message : "");
  return 1;
}

int main(int argc, char **argv) {
  if (argc != 7) {
    fprintf(stderr, "usage: epoch DIR HIDDEN BATCH KERNELS IMAGES EPOCHS\n");
    return 2;
  }
  uint32_t sizes[16] = {784};
  size_t count = 1;
  for (const char *s = argv[2];;) {
    char *end;
    const unsigned long h = strtoul(s, &end, 10);
    if (end == s || h == 0 || h > 4096 || count == 14 || (*end != 0 && *end != ','))
      return fail("bad HIDDEN: expected sizes like 32 or 16,16", NULL);
    sizes[count++] = (uint32_t)h;
    if (*end == 0) break;
    s = end + 1;
  }
  sizes[count++] = 10;
  const size_t batch = strtoul(argv[3], NULL, 10), images = strtoul(argv[5], NULL, 10);
  const unsigned long epochs = strtoul(argv[6], NULL, 10);
  const hdrnn_kernels *kernels = hdrnn_kernels_find(argv[4]);
  if (kernels == NULL) return fail("those kernels do not run here", NULL);

  size_t image_len = 0, label_len = 0;
  unsigned char *image_file = read_all(argv[1], "train-images-idx3-ubyte", &image_len);
  unsigned char *label_file = read_all(argv[1], "train-labels-idx1-ubyte", &label_len);
  if (image_file == NULL || label_file == NULL) return fail("cannot read the MNIST files", NULL);
  hdrnn_status st;
  hdrnn_idx_images im;
  hdrnn_idx_labels lb;
  if (hdrnn_idx_parse_images(image_file, image_len, NULL, &im, &st) != HDRNN_OK ||
      hdrnn_idx_parse_labels(label_file, label_len, NULL, &lb, &st) != HDRNN_OK)
    return fail("MNIST", &st);
  hdrnn_dataset data;
  memset(&data, 0, sizeof data);
  data.pixels = im.pixels;
  data.labels8 = lb.labels;
  data.input_size = (size_t)im.rows * im.cols;
  data.count = images > 0 && images < im.count ? images : im.count;

  hdrnn_network *net = NULL;
  if (hdrnn_network_create(&net, sizes, count, NULL, &st) != HDRNN_OK) return fail("network", &st);
  hdrnn_network_init_normal(net, 1);
  hdrnn_train_options opt;
  hdrnn_train_options_default(&opt);
  opt.batch_size = batch;
  opt.learning_rate = 3.0f;
  opt.threads = 1;
  opt.kernels = kernels;
  hdrnn_trainer *trainer = NULL;
  if (hdrnn_trainer_create(&trainer, net, &data, &opt, &st) != HDRNN_OK) return fail("trainer", &st);
  double loss = 0.0;
  for (unsigned long e = 0; e < epochs; e++) {
    size_t done = 0;
    hdrnn_trainer_begin_epoch(trainer);
    if (hdrnn_trainer_step(trainer, (size_t)-1, &done, &st) != HDRNN_OK) return fail("training", &st);
    loss = hdrnn_trainer_epoch_loss(trainer);
  }
  printf("kernels %s, %zu images, batch %zu, %lu epoch(s), loss %.4f\n", hdrnn_kernels_name(kernels),
         data.count, batch, epochs, loss);
  hdrnn_trainer_free(trainer);
  hdrnn_network_free(net);
  free(image_file);
  free(label_file);
  return 0;
}
