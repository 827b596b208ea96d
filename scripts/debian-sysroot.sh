#!/usr/bin/env bash
# scripts/debian-sysroot.sh SUITE ARCH PACKAGE... - a Debian root for ARCH
# (amd64, armhf, arm64) holding PACKAGE... and everything they depend on, as
# apt resolves it for a pristine ARCH machine of SUITE (bullseye, bookworm):
#
#   .cache/SUITE-ARCH[-NAME]/        the sysroot (last line on stdout)
#
# Uses: scripts/sysroot-bullseye.sh (glibc 2.31, to build against and to run
# the official Node builds in) and the arm64 suite's bookworm Node
# (test-arm64.sh). HDRNN_SYSROOT_NAME names the folder's suffix.
#
# The packages come through a PRIVATE apt configuration (its own sources list,
# lists and cache under .cache/apt-SUITE-ARCH; an empty dpkg status): the
# machine's own apt sources, lists and dpkg state are never read or changed,
# and nothing is installed: `apt-get download` + `dpkg -x`. Idempotent: a
# finished sysroot (its manifest lists the same request) is reused;
# HDRNN_SYSROOT_FORCE=1 rebuilds it. HDRNN_DEBIAN_MIRROR overrides the mirror
# (default http://deb.debian.org/debian).

set -euo pipefail

suite=${1:?usage: debian-sysroot.sh SUITE ARCH PACKAGE...}
arch=${2:?usage: debian-sysroot.sh SUITE ARCH PACKAGE...}
shift 2
[ "$#" -gt 0 ] || { echo "debian-sysroot.sh: no packages given" >&2; exit 2; }
packages=("$@")
case "$arch" in
  amd64) triplet=x86_64-linux-gnu ;;
  armhf) triplet=arm-linux-gnueabihf ;;
  arm64) triplet=aarch64-linux-gnu ;;
  *) echo "debian-sysroot.sh: unknown arch '$arch' (amd64, armhf, arm64)" >&2; exit 2 ;;
esac

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="$repo/.cache"
sysroot="$cache/$suite-$arch${HDRNN_SYSROOT_NAME:+-$HDRNN_SYSROOT_NAME}"
aptdir="$cache/apt-$suite-$arch"
debs="$cache/debs-$suite-$arch"
manifest="$sysroot/.hdrnn-sysroot-packages"
mirror=${HDRNN_DEBIAN_MIRROR:-http://deb.debian.org/debian}

log() { printf '[debian-sysroot %s %s] %s\n' "$suite" "$arch" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

if [ "${HDRNN_SYSROOT_FORCE:-0}" != 1 ] && [ -s "$manifest" ] &&
   [ "$(head -n 1 "$manifest")" = "# ${packages[*]}" ]; then
  log "up to date: $sysroot"
  printf '%s\n' "$sysroot"
  exit 0
fi

mkdir -p "$aptdir/preferences.d" "$aptdir/lists/partial" "$aptdir/cache/archives/partial" "$debs"
keyring=/usr/share/keyrings/debian-archive-$suite-stable.gpg
[ -f "$keyring" ] || keyring=/usr/share/keyrings/debian-archive-keyring.gpg
[ -f "$keyring" ] || die "no Debian archive keyring (apt-get install debian-archive-keyring)"
echo "deb [arch=$arch signed-by=$keyring] $mirror $suite main" >"$aptdir/sources.list"

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

if ! ls "$aptdir/lists/"*"$suite"*Packages* >/dev/null 2>&1 || [ "${HDRNN_SYSROOT_FORCE:-0}" = 1 ]; then
  log "apt-get update (private lists in $aptdir)"
  apt-get -q "${apt_private[@]}" update >&2
fi

# apt's own resolver computes the closure, as for a pristine ARCH machine
# (empty status, no Recommends): virtual packages, alternatives, Pre-Depends.
sim=$(apt-get -s -q "${apt_private[@]}" install "${packages[@]}" 2>&1) ||
  { printf '%s\n' "$sim" >&2; die "apt cannot resolve ${packages[*]} in $suite for $arch"; }
# Lines look like: Inst libc6 (2.31-13+deb11u11 Debian:11.11/oldoldstable [armhf])
mapfile -t want < <(awk '$1=="Inst" { v=$3; sub(/^\(/, "", v); print $2 "=" v }' <<<"$sim")
[ "${#want[@]}" -gt 0 ] || { printf '%s\n' "$sim" >&2; die "empty closure?"; }
missing=()
for pv in "${want[@]}"; do
  p=${pv%%=*} v=${pv#*=}
  ls "$debs/${p}_${v//:/%3a}_"*.deb >/dev/null 2>&1 || missing+=("$pv")
done
if [ "${#missing[@]}" -gt 0 ]; then
  log "downloading ${missing[*]}"
  (cd "$debs" && apt-get -q "${apt_private[@]}" download "${missing[@]}" >&2)
fi

stage="$(mktemp -d "$cache/.$suite-$arch.stage.XXXXXX")"
trap 'rm -rf "$stage"' EXIT
{
  echo "# ${packages[*]}"
  for pv in "${want[@]}"; do
    p=${pv%%=*} v=${pv#*=}
    deb=$(ls "$debs/${p}_${v//:/%3a}_"*.deb | head -n 1)
    dpkg -x "$deb" "$stage"
    echo "$p $v"
  done
} >"$stage/.hdrnn-sysroot-packages"

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

[ -e "$stage/lib/$triplet/libc.so.6" ] || die "no libc.so.6 in the sysroot"
rm -rf "$sysroot"
mv "$stage" "$sysroot"
chmod 755 "$sysroot"
trap - EXIT
log "${#want[@]} packages, glibc $(awk '$1=="libc6" { print $2 }' "$manifest"): $sysroot ($(du -sh "$sysroot" | cut -f1))"
printf '%s\n' "$sysroot"
