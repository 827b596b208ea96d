#!/usr/bin/env bash
# Build an armhf (ARMv7 hard-float) sysroot holding Debian's own nodejs:armhf
# and its runtime closure, so the REAL armhf node can be run on an x86-64 host
# under user-mode emulation:
#
#   qemu-arm -cpu cortex-a9 -L "$SYSROOT" "$SYSROOT/usr/bin/node" ...
#
# (scripts/qemu-node.sh wraps exactly that.)
#
# nodejs:armhf is never *installed* (that would replace the host's node); its
# .debs are downloaded and unpacked with `dpkg -x` into the sysroot.
#
# Idempotent: a sysroot whose node already runs is left alone (set
# HDRNN_ARMHF_FORCE=1 to rebuild). Progress goes to stderr; the last line on
# stdout is the sysroot path.
#
# Env:
#   HDRNN_ARMHF_SYSROOT  sysroot dir (default: $REPO/.cache/armhf-sysroot)
#   HDRNN_ARMHF_FORCE=1  rebuild even if the sysroot works
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SYSROOT="${HDRNN_ARMHF_SYSROOT:-$REPO/.cache/armhf-sysroot}"
SYSROOT="$(realpath -m -- "$SYSROOT")"   # qemu -L needs a cwd-independent path
QEMU_CPU=cortex-a9
ROOT_PKG=nodejs
MANIFEST=.hdrnn-armhf-packages

log() { printf '[armv7-sysroot] %s\n' "$*" >&2; }
die() { printf '[armv7-sysroot] ERROR: %s\n' "$*" >&2; exit 1; }

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || die "must run as root (or have sudo) to use apt-get/dpkg"
  SUDO=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
# Wait for (instead of failing on) a concurrent apt/dpkg run.
APT_LOCK=(-o DPkg::Lock::Timeout=600)

# Print "arm v18..." if the sysroot's node runs JS under qemu, else fail.
node_works() {
  local root=$1 out
  [ -x "$root/usr/bin/node" ] || return 1
  command -v qemu-arm >/dev/null 2>&1 || return 1
  out="$(qemu-arm -cpu "$QEMU_CPU" -L "$root" "$root/usr/bin/node" \
          -e 'console.log(process.arch, process.version)' 2>/dev/null)" || return 1
  [[ "$out" =~ ^arm\ v18\. ]] || return 1
  printf '%s\n' "$out"
}

# ---------------------------------------------------------------- fast path
# `node --version` is answered before node's JS bootstrap (~0.5 s under qemu
# instead of several seconds; Debian's node has no startup snapshot) but still
# needs qemu, ld.so and every shared library of node/libnode to load. The
# manifest is written only by a build that passed the full check below.
if [ "${HDRNN_ARMHF_FORCE:-0}" != 1 ] && [ -s "$SYSROOT/$MANIFEST" ] \
   && command -v qemu-arm >/dev/null 2>&1 \
   && ver="$(qemu-arm -cpu "$QEMU_CPU" -L "$SYSROOT" "$SYSROOT/usr/bin/node" --version 2>/dev/null)" \
   && [[ "$ver" =~ ^v18\. ]]; then
  log "sysroot already OK (node $ver): $SYSROOT"
  printf '%s\n' "$SYSROOT"
  exit 0
fi

# ------------------------------------------------------- apt: armhf + qemu
if ! [[ $'\n'"$(dpkg --print-foreign-architectures)"$'\n' == *$'\n'armhf$'\n'* ]]; then
  log "adding dpkg architecture armhf"
  "${SUDO[@]}" dpkg --add-architecture armhf
fi

have_candidate() { # $1 = pkg[:arch]; true if apt knows a candidate version
  local pol # (no `| grep -q`: with pipefail an early-exiting grep = SIGPIPE)
  pol="$(apt-cache policy "$1" 2>/dev/null)" || return 1
  [[ "$pol" =~ Candidate:\ [^\(] ]]
}

need_update=0
have_candidate "$ROOT_PKG:armhf" || need_update=1
if ! command -v qemu-arm >/dev/null 2>&1 && ! have_candidate qemu-user; then
  need_update=1
fi
if [ "$need_update" = 1 ]; then
  log "apt-get update (armhf package lists missing)"
  # A flaky mirror for one suite (e.g. security) must not abort us as long as
  # the lists we need are there afterwards; that is checked below.
  "${SUDO[@]}" apt-get update "${APT_LOCK[@]}" >&2 \
    || log "WARNING: apt-get update reported errors; continuing with the lists we have"
fi
have_candidate "$ROOT_PKG:armhf" || die "apt knows no $ROOT_PKG:armhf (apt-get update failed?)"

if ! command -v qemu-arm >/dev/null 2>&1; then
  log "installing qemu-user (qemu-arm)"
  "${SUDO[@]}" apt-get install -y --no-install-recommends "${APT_LOCK[@]}" qemu-user >&2
  command -v qemu-arm >/dev/null 2>&1 || die "qemu-user installed but no qemu-arm on PATH"
fi

# ------------------------------------------------------ compute the closure
# Let apt's own resolver compute the closure as if this were a pristine armhf
# machine: native arch armhf, empty dpkg status, no Recommends. That resolves
# virtual packages, alternatives (a | b), Pre-Depends, Multi-Arch foreign/all
# deps (e.g. node-acorn, node-undici: Debian's node loads these from
# /usr/share/nodejs) exactly as a real install would. The on-disk pkgcache is
# not touched (in-memory cache), so the host's apt state is unaffected.
ARMHF_APT=(
  -o APT::Architecture=armhf
  -o APT::Architectures::=armhf
  -o Dir::State::status=/dev/null
  -o Dir::State::extended_states=/dev/null
  -o Dir::Cache::pkgcache=
  -o Dir::Cache::srcpkgcache=
  -o APT::Install-Recommends=false
  -o APT::Install-Suggests=false
  -o Debug::NoLocking=1
)

log "resolving the $ROOT_PKG:armhf runtime closure with apt"
sim="$(apt-get -s -q install "${ARMHF_APT[@]}" "$ROOT_PKG" 2>&1)" \
  || { printf '%s\n' "$sim" >&2; die "apt could not resolve $ROOT_PKG for armhf"; }
# Lines look like: Inst libc6 (2.36-9+deb12u10 Debian:12.11/stable [armhf])
mapfile -t PKGS < <(printf '%s\n' "$sim" | awk '$1=="Inst" { v=$3; sub(/^\(/,"",v); print $2 "=" v }')
[ "${#PKGS[@]}" -gt 0 ] || { printf '%s\n' "$sim" >&2; die "empty closure?"; }
log "closure (${#PKGS[@]} packages): ${PKGS[*]}"

# --------------------------------------------------- download and extract
mkdir -p "$(dirname "$SYSROOT")"
TMP="$(mktemp -d "${TMPDIR:-/tmp}/armhf-debs.XXXXXX")"
STAGE="$(mktemp -d "$(dirname "$SYSROOT")/.armhf-sysroot.stage.XXXXXX")"
cleanup() { rm -rf "$TMP" "$STAGE"; }
trap cleanup EXIT
# apt downloads as user _apt; let it write into the temp dir.
if id _apt >/dev/null 2>&1; then chown _apt "$TMP" 2>/dev/null || true; fi

log "downloading ${#PKGS[@]} .deb files"
(cd "$TMP" && apt-get download -q "${ARMHF_APT[@]}" "${PKGS[@]}" >&2)

shopt -s nullglob
debs=("$TMP"/*.deb)
[ "${#debs[@]}" -eq "${#PKGS[@]}" ] || die "expected ${#PKGS[@]} .debs, got ${#debs[@]}"

log "extracting into $STAGE"
for deb in "${debs[@]}"; do
  dpkg -x "$deb" "$STAGE"
  # shellcheck disable=SC2016 # ${...} are dpkg-deb format fields
  dpkg-deb -W --showformat='${Package} ${Version} ${Architecture}\n' "$deb"
done | sort > "$TMP/manifest"

# Absolute symlinks would resolve against the HOST root (the kernel follows
# them, not qemu's -L prefix): make them relative to the sysroot.
while IFS= read -r -d '' link; do
  target="$(readlink "$link")"
  case "$target" in
    /*) ln -sfn "$(realpath -m -s --relative-to="$(dirname "$link")" "$STAGE$target")" "$link" ;;
  esac
done < <(find "$STAGE" -type l -print0)

# The dynamic loader named in node's PT_INTERP; qemu looks it up under -L.
[ -e "$STAGE/lib/ld-linux-armhf.so.3" ] || die "no /lib/ld-linux-armhf.so.3 in the sysroot"

# qemu -L falls back to HOST paths for files missing from the sysroot, so the
# armhf ld.so would read the host's /etc/ld.so.cache and /etc/ld.so.preload.
# Shadow them: an empty cache is ignored and ld.so uses its built-in multiarch
# dirs (/lib/arm-linux-gnueabihf, /usr/lib/arm-linux-gnueabihf).
mkdir -p "$STAGE/etc"
: > "$STAGE/etc/ld.so.cache"
: > "$STAGE/etc/ld.so.preload"

rm -rf "$SYSROOT"
mv "$STAGE" "$SYSROOT"   # same parent dir: a rename
chmod 755 "$SYSROOT"

log "verifying: qemu-arm -cpu $QEMU_CPU -L $SYSROOT $SYSROOT/usr/bin/node"
out="$(node_works "$SYSROOT")" || {
  qemu-arm -cpu "$QEMU_CPU" -L "$SYSROOT" "$SYSROOT/usr/bin/node" \
    -e 'console.log(process.arch, process.version)' >&2 || true
  die "the armhf node in $SYSROOT does not run under qemu (see above)"
}
mv "$TMP/manifest" "$SYSROOT/$MANIFEST"   # marks a verified sysroot (fast path)
log "OK: $out ($(du -sh "$SYSROOT" | cut -f1), $(wc -l < "$SYSROOT/$MANIFEST") packages)"
printf '%s\n' "$SYSROOT"
