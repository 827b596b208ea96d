/*
 * AVX-512 probe for scripts/bochs-run.sh.
 *
 * 1. Reports what CPUID says (leaf 7 EBX bit 16 = AVX512F) and whether the OS
 *    enabled the AVX-512 register state in XCR0 (bits 5 opmask, 6 ZMM_Hi256,
 *    7 Hi16_ZMM; plus 1 SSE and 2 AVX).
 * 2. Executes real AVX-512F instructions and checks their results, including
 *    the masked-load fault suppression our kernels rely on for tails.
 *
 * Exit status: 0 all checks passed, 1 a check failed, 2 CPU/OS lacks AVX-512F
 * (the vector tests are then skipped unless --force is given, in which case
 * the program is expected to die of SIGILL on such a CPU).
 * --sigill: after the report, execute UD2 on purpose, to check that a run
 * dying of SIGILL is reported as a failure by scripts/bochs-run.sh.
 *
 * Build: gcc -static -O2 -o avx512-probe avx512-probe.c
 * Only the functions marked AVX512 are compiled for AVX-512F (target
 * attribute), so the CPUID report is printed even on a CPU without it.
 */
#include <cpuid.h>
#include <immintrin.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define AVX512 __attribute__((target("avx512f"), noinline))

static int failures;

static void check(const char *what, int ok)
{
    printf("  %-44s %s\n", what, ok ? "ok" : "FAIL");
    if (!ok)
        failures++;
}

static uint64_t xgetbv0(void)
{
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

AVX512 static int test_fmadd(void)
{
    float a[16], out[16];
    for (int i = 0; i < 16; i++)
        a[i] = (float)i;
    __m512 r = _mm512_fmadd_ps(_mm512_loadu_ps(a), _mm512_set1_ps(2.0f),
                               _mm512_set1_ps(0.5f));
    _mm512_storeu_ps(out, r);
    for (int i = 0; i < 16; i++)
        if (out[i] != 2.0f * i + 0.5f)
            return 0;
    return 1;
}

/* 8 valid floats at the very end of a page, followed by an inaccessible page:
 * a masked load of lanes 0..7 must not fault on the masked-off lanes 8..15,
 * and those lanes must read as zero. */
AVX512 static int test_maskz_load(float *edge)
{
    __m512 v = _mm512_maskz_loadu_ps((__mmask16)0x00FF, edge);
    float out[16];
    _mm512_storeu_ps(out, v);
    for (int i = 0; i < 16; i++)
        if (out[i] != (i < 8 ? (float)(i + 1) : 0.0f))
            return 0;
    return 1;
}

/* Masked store of 8 lanes right before the inaccessible page (must not
 * fault), and an alternating-mask store that must leave other lanes alone. */
AVX512 static int test_mask_store(float *edge)
{
    __m512 v = _mm512_set1_ps(42.0f);
    _mm512_mask_storeu_ps(edge, (__mmask16)0x00FF, v);
    for (int i = 0; i < 8; i++)
        if (edge[i] != 42.0f)
            return 0;

    float buf[16];
    for (int i = 0; i < 16; i++)
        buf[i] = -1.0f;
    _mm512_mask_storeu_ps(buf, (__mmask16)0x5555, v);
    for (int i = 0; i < 16; i++)
        if (buf[i] != ((i % 2 == 0) ? 42.0f : -1.0f))
            return 0;
    return 1;
}

AVX512 static int test_cvtepu8(void)
{
    uint8_t in[16];
    int32_t out[16];
    for (int i = 0; i < 16; i++)
        in[i] = (uint8_t)(i * 17); /* 0, 17, ..., 255: high bit must not sign-extend */
    __m512i v = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)in));
    _mm512_storeu_si512(out, v);
    for (int i = 0; i < 16; i++)
        if (out[i] != i * 17)
            return 0;
    return 1;
}

AVX512 static int test_cmp_mask(void)
{
    float a[16];
    for (int i = 0; i < 16; i++)
        a[i] = (float)i;
    __mmask16 m = _mm512_cmp_ps_mask(_mm512_loadu_ps(a), _mm512_set1_ps(9.5f),
                                     _CMP_GT_OQ);
    return m == 0xFC00 && _mm512_reduce_add_ps(_mm512_loadu_ps(a)) == 120.0f;
}

/* Registers zmm16..zmm31 exist only with the Hi16_ZMM state enabled. */
AVX512 static int test_zmm31(void)
{
    float a[16], out[16];
    for (int i = 0; i < 16; i++)
        a[i] = (float)i;
    __asm__ volatile("vmovups (%1), %%zmm31\n\t"
                     "vaddps %%zmm31, %%zmm31, %%zmm31\n\t"
                     "vmovups %%zmm31, (%0)\n\t"
                     :
                     : "r"(out), "r"(a)
                     : "xmm31", "memory");
    for (int i = 0; i < 16; i++)
        if (out[i] != 2.0f * i)
            return 0;
    return 1;
}

int main(int argc, char **argv)
{
    int force = argc > 1 && strcmp(argv[1], "--force") == 0;
    int sigill = argc > 1 && strcmp(argv[1], "--sigill") == 0;
    unsigned a, b, c, d;

    char vendor[13] = {0};
    __cpuid(0, a, b, c, d);
    unsigned max_leaf = a;
    memcpy(vendor, &b, 4);
    memcpy(vendor + 4, &d, 4);
    memcpy(vendor + 8, &c, 4);

    char brand[49] = {0};
    __cpuid(0x80000000, a, b, c, d);
    if (a >= 0x80000004)
        for (unsigned l = 0; l < 3; l++)
            __cpuid(0x80000002 + l, *(unsigned *)&brand[16 * l],
                    *(unsigned *)&brand[16 * l + 4],
                    *(unsigned *)&brand[16 * l + 8],
                    *(unsigned *)&brand[16 * l + 12]);
    printf("cpu: %s \"%s\"\n", vendor, brand);

    __cpuid(1, a, b, c, d);
    int osxsave = (c >> 27) & 1;
    unsigned l7b = 0, l7c = 0;
    if (max_leaf >= 7)
        __cpuid_count(7, 0, a, l7b, l7c, d);
    int avx512f = (l7b >> 16) & 1;
    printf("cpuid.7.0: ebx=0x%08x ecx=0x%08x  AVX512F=%d AVX512DQ=%d "
           "AVX512CD=%d AVX512BW=%d AVX512VL=%d AVX512VNNI=%d\n",
           l7b, l7c, avx512f, (l7b >> 17) & 1, (l7b >> 28) & 1,
           (l7b >> 30) & 1, (l7b >> 31) & 1, (l7c >> 11) & 1);

    uint64_t xcr0 = osxsave ? xgetbv0() : 0;
    int zmm_os = (xcr0 & 0xE6) == 0xE6; /* SSE|AVX|opmask|ZMM_Hi256|Hi16_ZMM */
    printf("osxsave=%d xcr0=0x%llx  opmask=%d zmm_hi256=%d hi16_zmm=%d -> OS "
           "AVX-512 state %s\n",
           osxsave, (unsigned long long)xcr0, (int)(xcr0 >> 5) & 1,
           (int)(xcr0 >> 6) & 1, (int)(xcr0 >> 7) & 1,
           zmm_os ? "ENABLED" : "not enabled");

    if (sigill) {
        printf("executing ud2 on purpose (--sigill)\n");
        fflush(stdout);
        __asm__ volatile("ud2");
    }

    if (!(avx512f && zmm_os) && !force) {
        printf("AVX-512F not usable here; skipping vector tests "
               "(--force runs them anyway)\n");
        fflush(stdout);
        return 2;
    }

    /* Two pages, second one inaccessible, for the fault-suppression tests. */
    long pg = sysconf(_SC_PAGESIZE);
    char *map = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (map == MAP_FAILED || mprotect(map + pg, pg, PROT_NONE) != 0) {
        perror("mmap/mprotect");
        return 1;
    }
    float *edge = (float *)(map + pg) - 8;
    for (int i = 0; i < 8; i++)
        edge[i] = (float)(i + 1);

    printf("AVX-512F instruction checks:\n");
    fflush(stdout);
    check("vfmadd (_mm512_fmadd_ps)", test_fmadd());
    check("masked load at page end (_mm512_maskz_loadu_ps)", test_maskz_load(edge));
    check("masked store (_mm512_mask_storeu_ps)", test_mask_store(edge));
    check("vpmovzxbd (_mm512_cvtepu8_epi32)", test_cvtepu8());
    check("vcmpps -> k-mask, reduce_add", test_cmp_mask());
    check("zmm31 (Hi16_ZMM state)", test_zmm31());

    printf("avx512-probe: %s (%d failure%s)\n", failures ? "FAILED" : "PASSED",
           failures, failures == 1 ? "" : "s");
    return failures ? 1 : 0;
}
