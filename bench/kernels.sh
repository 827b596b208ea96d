#!/bin/sh
# npm run bench:kernels [-- TABLE]: builds bench/kernels.c against the kernel
# tables (with the same ISA flags as binding.gyp) into .cache/, runs it, and
# prints OpenBLAS's one-thread sgemm for scale when Debian's python3-numpy is there.
set -e
cd "$(dirname "$0")/.."
out=.cache/bench-kernels
mkdir -p "$out"
K=native/core/kernels
CC=${CC:-cc}
flags="-std=c99 -O3 -ffp-contract=off -fno-math-errno -I$K -Inative/core/include -Inative/core/src"
case "$(uname -m)" in
  x86_64)
    $CC $flags -c $K/kernels_avx2.c -mavx2 -mfma -o "$out/avx2.o"
    $CC $flags -c $K/kernels_avx512.c -mavx512f -mavx2 -mfma -o "$out/avx512.o"
    extra="$out/avx2.o $out/avx512.o $K/kernels_neon.c $K/kernels_neon64.c" ;;
  *)
    extra="$K/kernels_avx2.c $K/kernels_avx512.c $K/kernels_neon.c $K/kernels_neon64.c" ;;
esac
$CC $flags bench/kernels.c $K/kernels_portable.c $K/kernels_select.c $extra -lm -o "$out/kernels"
"$out/kernels" "$@"
if [ -x /usr/bin/python3 ] && OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/numpy_mlp.py --peak > "$out/peak.json" 2>/dev/null; then
  echo "OpenBLAS sgemm 2048x2048, one thread: $(sed 's/.*"gflops": \([0-9.]*\).*/\1/' "$out/peak.json" | cut -c1-6) GFLOP/s"
fi
