/* kernels_avx2.c - placeholder until the AVX2/FMA kernels land. */
#include "kernels.h"
const hdrnn_kernels *hdrnn_kernels_avx2_table(void) { return NULL; }
