/*
 * kernels_select.c - picks the kernels at run time from what the CPU can do,
 * so that one x64 binary runs on any x64 and one armv7 binary runs on an
 * armv7 core with or without NEON. Detection is redone on every call (it is a
 * cpuid or getauxval) instead of being cached, so the core has no global
 * mutable state.
 */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE
#endif
#include <string.h>
#include <unistd.h>

#include "kernels.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif
#if defined(__arm__) && defined(__linux__)
#include <sys/auxv.h>
#ifndef HWCAP_NEON
#define HWCAP_NEON (1 << 12) /* from the kernel's asm/hwcap.h for arm */
#endif
#endif

int hdrnn_cpu_has_avx2_fma(void) {
#if defined(__x86_64__) || defined(__i386__)
  unsigned eax, ebx, ecx, edx;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return 0;
  const int fma = (ecx >> 12) & 1, osxsave = (ecx >> 27) & 1, avx = (ecx >> 28) & 1;
  if (!fma || !osxsave || !avx) return 0;
  /* The OS must save the ymm registers on a context switch (XCR0 bits 1, 2). */
  unsigned xcr0_lo, xcr0_hi;
  __asm__ volatile("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
  (void)xcr0_hi;
  if ((xcr0_lo & 6) != 6) return 0;
  if (__get_cpuid_max(0, NULL) < 7) return 0;
  __cpuid_count(7, 0, eax, ebx, ecx, edx);
  return (ebx >> 5) & 1; /* AVX2 */
#else
  return 0;
#endif
}

/*
 * AVX-512 Foundation, with the OS saving the opmask and all 32 zmm registers
 * on a context switch (XCR0 bits 5, 6, 7 as well as the ymm bits 1, 2):
 * a kernel that ran without that would lose its registers at the first
 * preemption. AVX2 and FMA are required too (the kernels use 256-bit and
 * 128-bit AVX instructions for their reductions).
 */
int hdrnn_cpu_has_avx512f(void) {
#if defined(__x86_64__)
  if (!hdrnn_cpu_has_avx2_fma()) return 0;
  unsigned xcr0_lo, xcr0_hi;
  __asm__ volatile("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
  (void)xcr0_hi;
  if ((xcr0_lo & 0xe6) != 0xe6) return 0;
  unsigned eax, ebx, ecx, edx;
  __cpuid_count(7, 0, eax, ebx, ecx, edx);
  return (ebx >> 16) & 1; /* AVX512F */
#else
  return 0;
#endif
}

int hdrnn_cpu_has_neon(void) {
#if defined(__aarch64__)
  return 1; /* Advanced SIMD is part of AArch64 */
#elif defined(__arm__) && defined(__linux__)
  return (getauxval(AT_HWCAP) & HWCAP_NEON) != 0;
#else
  return 0;
#endif
}

/* "neon" is the Advanced SIMD table of whichever Arm this is: kernels_neon64.c
 * on aarch64, kernels_neon.c on armv7 (at most one of them is built in). */
static const hdrnn_kernels *neon_table(void) {
  const hdrnn_kernels *k = hdrnn_kernels_neon64_table();
  return k != NULL ? k : hdrnn_kernels_neon_table();
}

const hdrnn_kernels *hdrnn_kernels_portable(void) {
  return hdrnn_kernels_portable_table();
}

const hdrnn_kernels *hdrnn_kernels_find(const char *name) {
  if (name == NULL) return NULL;
  if (strcmp(name, "best") == 0) return hdrnn_kernels_best();
  if (strcmp(name, "portable") == 0) return hdrnn_kernels_portable_table();
  if (strcmp(name, "avx2") == 0)
    return hdrnn_cpu_has_avx2_fma() ? hdrnn_kernels_avx2_table() : NULL;
  if (strcmp(name, "avx512") == 0)
    return hdrnn_cpu_has_avx512f() ? hdrnn_kernels_avx512_table() : NULL;
  if (strcmp(name, "neon") == 0)
    return hdrnn_cpu_has_neon() ? neon_table() : NULL;
  return NULL;
}

const hdrnn_kernels *hdrnn_kernels_best(void) {
  const hdrnn_kernels *k = NULL;
  /* The widest vectors the CPU has: twice the work per instruction, and
   * twice the registers for the tiles. */
  if (hdrnn_cpu_has_avx512f()) k = hdrnn_kernels_avx512_table();
  if (k == NULL && hdrnn_cpu_has_avx2_fma()) k = hdrnn_kernels_avx2_table();
  if (k == NULL && hdrnn_cpu_has_neon()) k = neon_table();
  return k != NULL ? k : hdrnn_kernels_portable_table();
}

const char *hdrnn_kernels_name(const hdrnn_kernels *kernels) {
  return kernels != NULL ? kernels->name : "none";
}

unsigned hdrnn_cpu_count(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  if (n < 1) return 1;
  if (n > 1024) return 1024;
  return (unsigned)n;
}
