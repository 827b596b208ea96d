#!/usr/bin/env bash
# npm run prebuild:armv7 - cross-builds the addon for armv7 hard-float Linux
# (the i.MX6Quad's Cortex-A9) with cmake-js and toolchains/armv7hf.cmake, and
# places it where node-gyp-build looks on such a device:
#   prebuilds/linux-arm/hdrnn-native.armv7.glibc.node   (Node-API, stripped)
# Also cross-builds the standalone C command line into build-armv7-c/.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '%s\n' "$*" >&2; }

if ! command -v arm-linux-gnueabihf-g++ >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing Debian's armhf cross compiler..."
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends g++-arm-linux-gnueabihf >&2 ||
      { apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends g++-arm-linux-gnueabihf >&2; }
  else
    say "prebuild:armv7 needs arm-linux-gnueabihf-g++ (Debian: apt-get install g++-arm-linux-gnueabihf)"
    exit 1
  fi
fi

toolchain="$PWD/toolchains/armv7hf.cmake"
# cmake-js builds Node-API addons against the node-api-headers package
# (package.json "binary.napi_versions"), so nothing is downloaded. Its
# --arch does not cross-compile on Linux: the toolchain file does.
npx cmake-js rebuild --out build-armv7 --CDCMAKE_TOOLCHAIN_FILE="$toolchain" --CDCMAKE_BUILD_TYPE=Release >&2

out=prebuilds/linux-arm
mkdir -p "$out"
arm-linux-gnueabihf-strip --strip-unneeded -o "$out/hdrnn-native.armv7.glibc.node" build-armv7/Release/hdrnn.node
say "wrote $out/hdrnn-native.armv7.glibc.node"
file "$out/hdrnn-native.armv7.glibc.node" >&2 || true

# The C core and its command line, for devices without Node.
cmake -S . -B build-armv7-c -DCMAKE_TOOLCHAIN_FILE="$toolchain" -DCMAKE_BUILD_TYPE=Release >&2
cmake --build build-armv7-c -j"$(nproc)" >&2
say "wrote build-armv7-c/hdrnn_c"
