/*
 * fuzz_common.h - what the libFuzzer harnesses share: a CHECK that aborts
 * (libFuzzer saves the input as a crash), and a watch on the allocator
 * through the sanitizer's malloc hooks, to prove that a parse allocates
 * nothing (IDX, PGM) or no more than its input justifies (networks).
 */
#ifndef HDRNN_FUZZ_COMMON_H
#define HDRNN_FUZZ_COMMON_H

#include <stdio.h>
#include <stdlib.h>

#include <sanitizer/allocator_interface.h>

#define CHECK(cond)                                                             \
  do {                                                                          \
    if (!(cond)) check_failed(#cond, __FILE__, __LINE__);                       \
  } while (0)

static void check_failed(const char *what, const char *file, int line) {
  fprintf(stderr, "%s:%d: check failed: %s\n", file, line, what);
  abort();
}

/* Per thread: libFuzzer's own threads (the RSS watcher) allocate too. */
static __thread int watching;
static long long watched_allocations, live_bytes, peak_bytes;

static void on_malloc(const volatile void *ptr, size_t size) {
  (void)ptr;
  if (!watching) return;
  watched_allocations++;
  live_bytes += (long long)size;
  if (live_bytes > peak_bytes) peak_bytes = live_bytes;
}

static void on_free(const volatile void *ptr) {
  if (!watching || ptr == NULL) return;
  live_bytes -= (long long)__sanitizer_get_allocated_size((const void *)ptr);
}

static void watch_begin(void) {
  watched_allocations = live_bytes = peak_bytes = 0;
  watching = 1;
}

/* Stops watching; returns the most bytes live at once since watch_begin. */
static long long watch_end(void) {
  watching = 0;
  return peak_bytes;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  __sanitizer_install_malloc_and_free_hooks(on_malloc, on_free);
  return 0;
}

#endif /* HDRNN_FUZZ_COMMON_H */
