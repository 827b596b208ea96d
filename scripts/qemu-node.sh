#!/usr/bin/env bash
# Run Debian's armhf node (ARMv7 hard-float) under qemu-arm user-mode
# emulation with a Cortex-A9 CPU model:
#
#   scripts/qemu-node.sh [node args...]
#
# The sysroot comes from $HDRNN_ARMHF_SYSROOT or $REPO/.cache/armhf-sysroot and
# is built by scripts/armv7-sysroot.sh. node's exit code is forwarded.
#
# Limitation: the guest cannot exec ARM binaries (no binfmt_misc here), so
# anything that spawns process.execPath fails under this wrapper: `node --test`
# (Node 18 runs each file in a child), child_process.fork(), etc. Run node:test
# files in-process instead: `scripts/qemu-node.sh test/foo.test.js`.
# Worker threads are fine.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SYSROOT="${HDRNN_ARMHF_SYSROOT:-$REPO/.cache/armhf-sysroot}"
SYSROOT="$(realpath -m -- "$SYSROOT")"   # qemu -L needs a cwd-independent path

if [ ! -x "$SYSROOT/usr/bin/node" ] || [ ! -e "$SYSROOT/lib/ld-linux-armhf.so.3" ]; then
  echo "qemu-node.sh: no armhf sysroot with node at '$SYSROOT'." >&2
  echo "qemu-node.sh: build it first with: bash scripts/armv7-sysroot.sh" >&2
  exit 127
fi
if ! command -v qemu-arm >/dev/null 2>&1; then
  echo "qemu-node.sh: qemu-arm not found; run: bash scripts/armv7-sysroot.sh (installs qemu-user)" >&2
  exit 127
fi

# HDRNN_QEMU_CPU picks another CPU model (e.g. "cortex-a9,neon=off").
exec qemu-arm -cpu "${HDRNN_QEMU_CPU:-cortex-a9}" -L "$SYSROOT" "$SYSROOT/usr/bin/node" "$@"
