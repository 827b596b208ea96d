#!/usr/bin/env bash
# scripts/cross-c-build.sh ARCH OUT [PROGRAM.c ...]
# Cross-builds the C core with Debian's cross GCC, statically linked (so qemu
# needs no sysroot), and links the C tests and any extra program against it:
#   ARCH armv7    arm-linux-gnueabihf-gcc, the package's armv7 baseline
#                 (armv7-a, VFPv3-D16, hard float; -mfpu=neon for
#                 kernels_neon.c alone, as CMakeLists.txt does)
#   ARCH aarch64  aarch64-linux-gnu-gcc, no special flags (kernels_neon64.c)
# Writes OUT/libhdrnn_core.a, OUT/test_kernels, OUT/test_core and OUT/<name>
# for each PROGRAM.c. Incremental: objects newer than their source are kept.
set -euo pipefail
cd "$(dirname "$0")/.."
arch=$1 out=$2
shift 2
case "$arch" in
  armv7) cc=arm-linux-gnueabihf-gcc
         base=(-march=armv7-a -mtune=cortex-a9 -mfpu=vfpv3-d16 -mfloat-abi=hard)
         neon_flags=(-mfpu=neon) ;;
  aarch64) cc=aarch64-linux-gnu-gcc base=() neon_flags=() ;;
  *) echo "usage: $0 armv7|aarch64 OUT [PROGRAM.c ...]" >&2; exit 2 ;;
esac
command -v "$cc" >/dev/null || { echo "$cc not found (apt-get install gcc-${cc%-gcc})" >&2; exit 1; }
# The same flags as CMakeLists.txt's HDRNN_C_FLAGS.
cflags=(-std=c99 -O3 -ffp-contract=off -fno-math-errno -fno-strict-aliasing -Wall -Wextra -Wshadow
        -Inative/core/include -Inative/core/src -Inative/core/kernels -Inative/tests "${base[@]}")
mkdir -p "$out/obj"
objs=()
pids=()
for src in native/core/src/*.c native/core/kernels/*.c; do
  obj="$out/obj/$(basename "${src%.c}").o"
  objs+=("$obj")
  extra=()
  [ "$(basename "$src")" = kernels_neon.c ] && extra=("${neon_flags[@]}")
  if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ] || [ -n "$(find native/core -name '*.h' -newer "$obj")" ]; then
    "$cc" "${cflags[@]}" "${extra[@]}" -c "$src" -o "$obj" &
    pids+=($!)
    # Two compilers at a time: the machine is shared.
    if [ ${#pids[@]} -ge 2 ]; then wait "${pids[0]}"; pids=("${pids[@]:1}"); fi
  fi
done
for p in "${pids[@]}"; do wait "$p"; done
rm -f "$out/libhdrnn_core.a"
"${cc%gcc}ar" rcs "$out/libhdrnn_core.a" "${objs[@]}"
for prog in native/tests/test_kernels.c native/tests/test_core.c "$@"; do
  "$cc" "${cflags[@]}" -static -pthread "$prog" "$out/libhdrnn_core.a" -lm -o "$out/$(basename "${prog%.c}")"
done
