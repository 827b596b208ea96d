#!/usr/bin/env bash
# scripts/node-official.sh ARCH VERSION - the official Node.js build for
# linux-ARCH (x64, armv7l, arm64) at VERSION, from the npm registry's
# node-linux-ARCH package (the nodejs.org binaries), unpacked once under
# .cache/node-official/ARCH-VERSION. Prints the path of its bin/node.
#
# The armv7l and arm64 builds run under qemu in a glibc sysroot that has
# libstdc++6 and libatomic1 (scripts/sysroot-bullseye.sh).
set -euo pipefail
arch=${1:?usage: node-official.sh x64|armv7l|arm64 VERSION} version=${2:?usage: node-official.sh ARCH VERSION}
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="$repo/.cache/node-official/$arch-$version"
if [ ! -x "$dir/bin/node" ]; then
  tmp=$(mktemp -d "$repo/.cache/.node-official.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  echo "[node-official] npm pack node-linux-$arch@$version" >&2
  tgz=$(cd "$tmp" && npm pack --silent "node-linux-$arch@$version" | tail -n 1)
  tar -xzf "$tmp/$tgz" -C "$tmp"
  [ -f "$tmp/package/bin/node" ] || { echo "[node-official] no bin/node in node-linux-$arch@$version" >&2; exit 1; }
  chmod +x "$tmp/package/bin/node"
  rm -rf "$dir"
  mkdir -p "$(dirname "$dir")"
  mv "$tmp/package" "$dir"
fi
printf '%s\n' "$dir/bin/node"
