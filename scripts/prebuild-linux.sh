#!/usr/bin/env bash
# scripts/prebuild-linux.sh x64|arm|arm64 - builds one Linux prebuild against
# Debian bullseye's glibc 2.31 (scripts/sysroot-bullseye.sh) with cmake-js and
# the architecture's toolchain file, and places it where node-gyp-build looks:
#
#   x64    prebuilds/linux-x64/hdrnn-native.glibc.node          toolchains/x64.cmake (host GCC)
#   arm    prebuilds/linux-arm/hdrnn-native.armv7.glibc.node    toolchains/armv7hf.cmake
#   arm64  prebuilds/linux-arm64/hdrnn-native.armv8.glibc.node  toolchains/aarch64.cmake
#
# For arm and arm64 it also cross-builds the standalone C command line and the
# C tests (build-armv7-c/, build-arm64-c/), for devices without Node.
# npm run prebuild:all runs all three; scripts/check-glibc.sh checks them.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf '[prebuild %s] %s\n' "$target" "$*" >&2; }

target=${1:?usage: prebuild-linux.sh x64|arm|arm64}
case "$target" in
  x64)   debarch=amd64 toolchain=x64.cmake      cc=g++                     apt=g++         tag=glibc       strip=strip  cdir= ;;
  arm)   debarch=armhf toolchain=armv7hf.cmake  cc=arm-linux-gnueabihf-g++ apt=g++-arm-linux-gnueabihf tag=armv7.glibc strip=arm-linux-gnueabihf-strip cdir=build-armv7-c ;;
  arm64) debarch=arm64 toolchain=aarch64.cmake  cc=aarch64-linux-gnu-g++   apt=g++-aarch64-linux-gnu   tag=armv8.glibc strip=aarch64-linux-gnu-strip   cdir=build-arm64-c ;;
  *) echo "prebuild-linux.sh: unknown target '$target' (x64, arm, arm64)" >&2; exit 2 ;;
esac

if ! command -v "$cc" >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing $apt..."
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$apt" >&2 ||
      { apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$apt" >&2; }
  else
    say "needs $cc (Debian: apt-get install $apt)"
    exit 1
  fi
fi

sysroot=$(bash scripts/sysroot-bullseye.sh "$debarch" | tail -n 1)
tc="$PWD/toolchains/$toolchain"
# cmake-js builds Node-API addons against the node-api-headers package
# (package.json "binary.napi_versions"), so nothing is downloaded. Its --arch
# does not cross-compile on Linux: the toolchain file does.
build=build-prebuild-$target
npx cmake-js rebuild --out "$build" --CDCMAKE_TOOLCHAIN_FILE="$tc" --CDHDRNN_SYSROOT="$sysroot" \
  --CDCMAKE_BUILD_TYPE=Release >&2

out=prebuilds/linux-$target
mkdir -p "$out"
"$strip" --strip-unneeded -o "$out/hdrnn-native.$tag.node" "$build/Release/hdrnn.node"
say "wrote $out/hdrnn-native.$tag.node"
file "$out/hdrnn-native.$tag.node" >&2 || true

if [ -n "$cdir" ]; then
  # The C core, its tests and its command line, for devices without Node.
  cmake -S . -B "$cdir" -DCMAKE_TOOLCHAIN_FILE="$tc" -DHDRNN_SYSROOT="$sysroot" -DCMAKE_BUILD_TYPE=Release >&2
  cmake --build "$cdir" -j"$(nproc)" >&2
  say "wrote $cdir/hdrnn_c"
fi
bash scripts/check-glibc.sh "$out/hdrnn-native.$tag.node" ${cdir:+"$cdir/hdrnn_c"} >&2
