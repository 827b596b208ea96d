#!/usr/bin/env bash
# scripts/sysroot-bullseye.sh ARCH - a Debian bullseye (glibc 2.31) sysroot for
# ARCH (amd64, armhf or arm64), to build against and to run in:
#
#   .cache/bullseye-ARCH/            the sysroot (last line on stdout)
#
# Why bullseye: glibc 2.31 is the oldest glibc of the boards in the field
# (Yocto dunfell 3.1); a binary linked against 2.31 runs on every newer glibc,
# while one linked against the build machine's glibc (bookworm: 2.36) asks for
# GLIBC_2.34 (pthread_create...) and does not load there.
#
# It holds what a C/C++ build links against (libc6-dev, linux-libc-dev,
# libgcc-s1; the C++ headers and libstdc++.so come from the compiler: see
# toolchains/bullseye.cmake) and what a dynamically linked program runs on
# (libc6, libstdc++6, libatomic1 - Node's official builds need it).
#
# The packages come through a PRIVATE apt configuration (its own sources list,
# lists and cache under .cache/apt-bullseye-ARCH); the machine's own apt
# sources, lists and dpkg state are never read or changed, and nothing is
# installed: `apt-get download` + `dpkg -x`. Idempotent: a finished sysroot
# (marked by its manifest) is reused; HDRNN_SYSROOT_FORCE=1 rebuilds it.
#
# Env: HDRNN_DEBIAN_MIRROR (default http://deb.debian.org/debian),
#      HDRNN_SYSROOT_EXTRA  more packages to unpack (e.g. "nodejs" is NOT
#      bullseye's business: the Node 16 runs use the official build, see
#      scripts/node-official.sh).
set -euo pipefail

arch=${1:?usage: sysroot-bullseye.sh amd64|armhf|arm64}
case "$arch" in
  amd64) triplet=x86_64-linux-gnu ;;
  armhf) triplet=arm-linux-gnueabihf ;;
  arm64) triplet=aarch64-linux-gnu ;;
  *) echo "sysroot-bullseye.sh: unknown arch '$arch' (amd64, armhf, arm64)" >&2; exit 2 ;;
esac

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="$repo/.cache"
sysroot="$cache/bullseye-$arch"
aptdir="$cache/apt-bullseye-$arch"
debs="$cache/debs-bullseye-$arch"
manifest="$sysroot/.hdrnn-bullseye-packages"
mirror=${HDRNN_DEBIAN_MIRROR:-http://deb.debian.org/debian}
packages=(libc6 libc6-dev linux-libc-dev libgcc-s1 libstdc++6 libatomic1 ${HDRNN_SYSROOT_EXTRA:-})

log() { printf '[sysroot-bullseye %s] %s\n' "$arch" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

if [ "${HDRNN_SYSROOT_FORCE:-0}" != 1 ] && [ -s "$manifest" ] &&
   [ "$(head -n 1 "$manifest")" = "# ${packages[*]}" ]; then
  log "up to date: $sysroot"
  printf '%s\n' "$sysroot"
  exit 0
fi

mkdir -p "$aptdir/preferences.d" "$aptdir/lists/partial" "$aptdir/cache/archives/partial" "$debs"
keyring=/usr/share/keyrings/debian-archive-bullseye-stable.gpg
[ -f "$keyring" ] || keyring=/usr/share/keyrings/debian-archive-keyring.gpg
[ -f "$keyring" ] || die "no Debian archive keyring (apt-get install debian-archive-keyring)"
echo "deb [arch=$arch signed-by=$keyring] $mirror bullseye main" >"$aptdir/sources.list"

# Everything apt reads or writes is ours: sources, lists, caches, an empty
# dpkg status, the target architecture as the only one.
apt_private=(
  -o Dir::Etc::sourcelist="$aptdir/sources.list"
  -o Dir::Etc::sourceparts=-
  -o Dir::Etc::preferences=/dev/null
  -o Dir::Etc::preferencesparts="$aptdir/preferences.d"
  -o Dir::State::Lists="$aptdir/lists"
  -o Dir::Cache="$aptdir/cache"
  -o Dir::State::status=/dev/null
  -o Dir::State::extended_states=/dev/null
  -o APT::Architecture="$arch"
  -o APT::Architectures::="$arch"
  -o APT::Install-Recommends=false
  -o APT::Sandbox::User=root
  -o Debug::NoLocking=1
)

if ! ls "$aptdir/lists/"*bullseye*Packages* >/dev/null 2>&1 || [ "${HDRNN_SYSROOT_FORCE:-0}" = 1 ]; then
  log "apt-get update (private lists in $aptdir)"
  apt-get -q "${apt_private[@]}" update >&2
fi

# Exact versions, so the cached .debs are known to be the ones apt means.
want=()
for p in "${packages[@]}"; do
  v=$(apt-cache "${apt_private[@]}" policy "$p" | awk '/Candidate:/ { print $2 }')
  [ -n "$v" ] && [ "$v" != "(none)" ] || die "bullseye has no $p for $arch"
  want+=("$p=$v")
done
missing=()
for pv in "${want[@]}"; do
  p=${pv%%=*} v=${pv#*=}
  ls "$debs/${p}_${v//:/%3a}_"*.deb >/dev/null 2>&1 || missing+=("$pv")
done
if [ "${#missing[@]}" -gt 0 ]; then
  log "downloading ${missing[*]}"
  (cd "$debs" && apt-get -q "${apt_private[@]}" download "${missing[@]}" >&2)
fi

stage="$(mktemp -d "$cache/.bullseye-$arch.stage.XXXXXX")"
trap 'rm -rf "$stage"' EXIT
{
  echo "# ${packages[*]}"
  for pv in "${want[@]}"; do
    p=${pv%%=*} v=${pv#*=}
    deb=$(ls "$debs/${p}_${v//:/%3a}_"*.deb | head -n 1)
    dpkg -x "$deb" "$stage"
    echo "$p $v"
  done
} >"$stage/.hdrnn-bullseye-packages"

# The linker and the kernel follow absolute symlinks on the HOST; make them
# relative to the sysroot (libm.so -> /lib/.../libm.so.6 and the like).
while IFS= read -r -d '' link; do
  target=$(readlink "$link")
  case "$target" in
    /*) ln -sfn "$(realpath -m -s --relative-to="$(dirname "$link")" "$stage$target")" "$link" ;;
  esac
done < <(find "$stage" -type l -print0)

# Programs run in it under qemu -L: keep the armhf/arm64 ld.so off the host's
# /etc/ld.so.cache (qemu falls back to host paths for missing files).
mkdir -p "$stage/etc"
: >"$stage/etc/ld.so.cache"
: >"$stage/etc/ld.so.preload"

[ -e "$stage/usr/include/stdio.h" ] || die "no stdio.h in the sysroot"
[ -e "$stage/usr/lib/$triplet/libc.so" ] || die "no libc.so in the sysroot"
rm -rf "$sysroot"
mv "$stage" "$sysroot"
chmod 755 "$sysroot"
trap - EXIT
log "glibc $(awk '$1=="libc6" { print $2 }' "$manifest"): $sysroot ($(du -sh "$sysroot" | cut -f1))"
printf '%s\n' "$sysroot"
