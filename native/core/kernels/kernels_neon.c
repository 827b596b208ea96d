/* kernels_neon.c - placeholder until the NEON kernels land. */
#include "kernels.h"
const hdrnn_kernels *hdrnn_kernels_neon_table(void) { return NULL; }
