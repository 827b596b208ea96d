#!/usr/bin/env bash
# npm run test:c:arm - the C kernel and core tests on emulated Arm cores,
# statically cross-built (scripts/cross-c-build.sh; no sysroot needed):
#   aarch64 (kernels_neon64.c)  qemu-aarch64 -cpu cortex-a53 and -cpu cortex-a72
#   armv7   (kernels_neon.c)    qemu-arm -cpu cortex-a9, and cortex-a9 without NEON
# test_kernels checks every runnable table (portable, neon) against the double
# reference and the determinism contract; test_core --quick the rest of the
# core with the best kernels. Installs the cross compilers and qemu-user from
# Debian when they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf '== %s\n' "$*" >&2; }
started=$(date +%s)
need=()
command -v aarch64-linux-gnu-gcc >/dev/null || need+=(gcc-aarch64-linux-gnu)
command -v arm-linux-gnueabihf-gcc >/dev/null || need+=(gcc-arm-linux-gnueabihf)
command -v qemu-aarch64 >/dev/null && command -v qemu-arm >/dev/null || need+=(qemu-user)
if [ ${#need[@]} -gt 0 ]; then
  say "installing ${need[*]}"
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

for arch in aarch64 armv7; do
  say "cross-building the C core and tests for $arch"
  bash scripts/cross-c-build.sh "$arch" "build-cross/$arch"
done

run() { # CPU-description qemu-command... binary args...
  local what=$1
  shift
  say "$what: $*"
  local log
  log=$("$@") || { printf '%s\n' "$log"; echo "FAILED: $what" >&2; exit 1; }
  printf '%s\n' "$log" | grep -E '^\[|test_kernels:|test_core:|^kernels:'
}
for cpu in cortex-a53 cortex-a72; do
  run "aarch64 $cpu test_kernels" qemu-aarch64 -cpu "$cpu" build-cross/aarch64/test_kernels
  # The best table there must be the AArch64 NEON one.
  qemu-aarch64 -cpu "$cpu" build-cross/aarch64/test_kernels --table none | grep 'best on this CPU is "neon"' >/dev/null
  run "aarch64 $cpu test_core" qemu-aarch64 -cpu "$cpu" build-cross/aarch64/test_core --quick
done
run "armv7 cortex-a9 test_kernels" qemu-arm -cpu cortex-a9 build-cross/armv7/test_kernels
qemu-arm -cpu cortex-a9 build-cross/armv7/test_kernels --table none | grep 'best on this CPU is "neon"' >/dev/null
run "armv7 cortex-a9 test_core" qemu-arm -cpu cortex-a9 build-cross/armv7/test_core --quick
# Without NEON the armv7 binary must fall back to the portable kernels.
qemu-arm -cpu cortex-a9,neon=off build-cross/armv7/test_kernels --table none |
  grep 'best on this CPU is "portable"; tables runnable here: portable$' >/dev/null
say "Arm C tests passed in $(( $(date +%s) - started )) s"
