#!/usr/bin/env bash
# Run a *static* x86-64 Linux binary on an emulated CPU that has AVX-512.
#
#   bash scripts/bochs-run.sh [--cpu MODEL] [--timeout SECONDS] [--mem MB]
#                             [--verbose] [--keep] STATIC_BINARY [ARGS...]
#
# Why Bochs: the dev/CI machines (AMD Zen 3) have only AVX2 and Debian 12's
# QEMU (7.2) cannot emulate AVX-512, but Debian's bochs 2.7 is built with EVEX
# support and has AVX-512 CPU models (corei7_skylake_x, corei7_icelake_u,
# tigerlake).
#
# How: boot Debian's *cloud* kernel (LZ4-compressed: the generic kernel is XZ
# and its decompression alone takes ~100 s under Bochs) from a small
# ISOLINUX CD image with a throw-away initramfs whose /init (scripts/bochs/
# init.c) runs the binary, prints "BOCHS-RUN-EXIT <status>" and powers off.
# The guest console is COM1, written by Bochs to a file that we follow.
#
# Exit status: the program's own exit code; 128+N if it died of signal N
# (e.g. 132 for SIGILL); 124 on timeout; 125 if the guest never reported
# (kernel panic, Bochs error, ...); 2 for usage errors.
#
# Environment: HDRNN_BOCHS_CACHE (default /tmp/hdrnn-bochs) holds the kernel,
# the built /init and per-run work folders; HDRNN_BOCHS_KERNEL=/path/bzImage
# uses another kernel instead of Debian's cloud kernel; HDRNN_BOCHS_APPEND adds
# kernel command-line arguments.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SRC="$HERE/bochs"
CACHE="${HDRNN_BOCHS_CACHE:-/tmp/hdrnn-bochs}"

CPU=corei7_skylake_x
TIMEOUT=900
MEM=512
VERBOSE=0
KEEP=0

log() { printf 'bochs-run: %s\n' "$*" >&2; }
die() { log "$*"; exit 2; }

usage() {
  sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}" >&2
  exit 2
}

while [ $# -gt 0 ]; do
  case "$1" in
    --cpu) CPU="${2:?--cpu needs a model}"; shift 2 ;;
    --cpu=*) CPU="${1#*=}"; shift ;;
    --timeout) TIMEOUT="${2:?--timeout needs seconds}"; shift 2 ;;
    --timeout=*) TIMEOUT="${1#*=}"; shift ;;
    --mem) MEM="${2:?--mem needs MB}"; shift 2 ;;
    --mem=*) MEM="${1#*=}"; shift ;;
    --verbose|-v) VERBOSE=1; shift ;;
    --keep) KEEP=1; shift ;;
    -h|--help) usage ;;
    --) shift; break ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) break ;;
  esac
done
[ $# -ge 1 ] || usage
BIN="$1"; shift
[ -f "$BIN" ] || die "no such file: $BIN"
[[ "$TIMEOUT" =~ ^[0-9]+$ ]] || die "--timeout must be whole seconds"

# Short aliases for Bochs' CPU model names (bochs --help cpu lists them all).
# Only corei7_skylake_x (AVX512 F/DQ/CD/BW/VL) is verified to boot; with
# tigerlake the kernel hung after "LSM: Security Framework initializing".
case "$CPU" in
  skylake_x|skylake-x|skx) CPU=corei7_skylake_x ;;
  icelake|icelake_u|icl) CPU=corei7_icelake_u ;;
  tigerlake|tgl) CPU=tigerlake ;;
esac

# The guest has no dynamic loader or libraries: refuse dynamic binaries early
# instead of getting a puzzling "cannot exec" from inside the guest.
if command -v readelf >/dev/null 2>&1; then
  readelf -h "$BIN" 2>/dev/null | grep -q 'Advanced Micro Devices X86-64' ||
    die "$BIN is not an x86-64 ELF binary"
  if readelf -l "$BIN" 2>/dev/null | grep -q 'program interpreter'; then
    die "$BIN is dynamically linked; build it with -static"
  fi
fi

# ---------------------------------------------------------------- tools ----
ISOLINUX_BIN=/usr/lib/ISOLINUX/isolinux.bin
LDLINUX_C32=/usr/lib/syslinux/modules/bios/ldlinux.c32
BIOS=/usr/share/bochs/BIOS-bochs-latest
VGABIOS=/usr/share/vgabios/vgabios.bin

apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  # bochs needs *some* GUI package; bochs-term is the lightest one that
  # satisfies it (we never use it: the display is the built-in rfb plugin).
  apt-get install -y --no-install-recommends "$@" >&2 ||
    { apt-get update >&2 && apt-get install -y --no-install-recommends "$@" >&2; }
}

need=()
command -v bochs-bin >/dev/null 2>&1 || need+=(bochs bochs-term)
[ -f "$BIOS" ] || need+=(bochsbios)
[ -f "$VGABIOS" ] || need+=(vgabios)
command -v xorriso >/dev/null 2>&1 || need+=(xorriso)
[ -f "$ISOLINUX_BIN" ] || need+=(isolinux)
[ -f "$LDLINUX_C32" ] || need+=(syslinux-common)
command -v cpio >/dev/null 2>&1 || need+=(cpio)
command -v gcc >/dev/null 2>&1 || need+=(gcc libc6-dev)
if [ ${#need[@]} -gt 0 ]; then
  log "installing: ${need[*]}"
  apt_install "${need[@]}"
fi

mkdir -p "$CACHE"
# Serialise cache filling between concurrent runs (fd 9 stays open only for
# this block).
exec 9>"$CACHE/.lock"
flock 9

# --------------------------------------------------------------- kernel ----
# Debian's cloud kernel: LZ4-compressed (boots in seconds under Bochs, the
# generic XZ kernel needs ~100 s just to decompress), has the 8250 serial
# console, initramfs and ACPI power-off built in. Only vmlinuz is kept.
KERNEL="${HDRNN_BOCHS_KERNEL:-}"
if [ -z "$KERNEL" ]; then
  KERNEL="$CACHE/kernel/vmlinuz"
  if [ ! -s "$KERNEL" ]; then
    pkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null |
          awk '/Depends: linux-image-[0-9].*-cloud-amd64/ {print $2; exit}')
    if [ -z "$pkg" ]; then
      apt-get update >&2
      pkg=$(apt-cache depends linux-image-cloud-amd64 |
            awk '/Depends: linux-image-[0-9].*-cloud-amd64/ {print $2; exit}')
    fi
    [ -n "$pkg" ] || die "cannot resolve linux-image-cloud-amd64"
    log "fetching kernel package $pkg"
    dl=$(mktemp -d "$CACHE/dl.XXXXXX")
    # apt's sandbox user must be able to write the download folder.
    chmod 777 "$dl"
    (cd "$dl" && apt-get download "$pkg" >&2 && dpkg -x ./*.deb x)
    mkdir -p "$CACHE/kernel"
    cp "$dl"/x/boot/vmlinuz-* "$KERNEL.tmp"
    cp "$dl"/x/boot/config-* "$CACHE/kernel/config"
    echo "$pkg" >"$CACHE/kernel/package"
    mv "$KERNEL.tmp" "$KERNEL"
    rm -rf "$dl"
  fi
fi
[ -s "$KERNEL" ] || die "kernel not found: $KERNEL"

# ----------------------------------------------------------------- init ----
# Rebuilt whenever init.c changes (the hash is part of the file name).
init_hash=$(sha256sum "$SRC/init.c" | cut -c1-16)
INIT="$CACHE/init-$init_hash"
if [ ! -x "$INIT" ]; then
  gcc -static -O2 -Wall -o "$INIT.tmp" "$SRC/init.c"
  mv "$INIT.tmp" "$INIT"
fi
flock -u 9
exec 9>&-

# ------------------------------------------------------------ the image ----
WORK=$(mktemp -d "$CACHE/run.XXXXXX")
BPID=""
WPID=""
cleanup() {
  # The watchdog is a subshell sleeping in a child: stop both.
  [ -n "$WPID" ] && { pkill -P "$WPID" 2>/dev/null; kill "$WPID" 2>/dev/null; } || true
  [ -n "$BPID" ] && kill -9 "$BPID" 2>/dev/null || true
  if [ "$KEEP" = 1 ]; then log "work folder kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$WORK/root" "$WORK/iso/isolinux"
cp "$INIT" "$WORK/root/init"
cp "$BIN" "$WORK/root/prog"
chmod 755 "$WORK/root/init" "$WORK/root/prog"
# argv for the guest program, NUL-separated; argv[0] is the binary's name.
printf '%s\0' "$(basename "$BIN")" "$@" >"$WORK/root/args"
# Uncompressed cpio: unpacking gzip under Bochs costs seconds, reading a few
# more MB from the CD costs almost nothing.
(cd "$WORK/root" && find . | cpio -o -H newc --owner 0:0 --quiet) >"$WORK/iso/initrd"

# Kernel command line, and why:
#  console=ttyS0        all output goes to COM1 = the file we follow
#  quiet loglevel=3     keep boot noise off the console (panics still show)
#  clearcpuid=xsaves,xsavec   Bochs 2.7 reports a wrong compacted XSAVE size
#                       (CPUID 0xD.1 EBX), Linux then disables XSAVE and with
#                       it AVX/AVX-512; without XSAVES/XSAVEC Linux uses the
#                       standard format, which Bochs gets right
#  cryptomgr.notests    skip the crypto self-tests (~15 s under Bochs)
#  initcall_blacklist=trace_eval_init   ~2 s of ftrace bookkeeping
#  mitigations=off nokaslr   less work, nothing to protect here
#  panic=0              hang on panic; we spot "Kernel panic" and stop Bochs
CMDLINE="console=ttyS0,115200 quiet loglevel=3 clearcpuid=xsaves,xsavec"
CMDLINE+=" cryptomgr.notests initcall_blacklist=trace_eval_init"
CMDLINE+=" mitigations=off nokaslr panic=0 8250.nr_uarts=1"
# tigerlake/icelake: Bochs also lays out the PKRU xsave component at an
# offset Linux rejects ("misordered xstate"), which again disables XSAVE.
case "$CPU" in corei7_skylake_x) ;; *) CMDLINE="${CMDLINE/xsavec/xsavec,pku}" ;; esac
CMDLINE+=" ${HDRNN_BOCHS_APPEND:-}"   # extra kernel arguments, for experiments
[ "$VERBOSE" = 1 ] && CMDLINE="${CMDLINE/quiet loglevel=3/loglevel=7 earlyprintk=ttyS0,115200}"

cp "$ISOLINUX_BIN" "$LDLINUX_C32" "$WORK/iso/isolinux/"
ln "$KERNEL" "$WORK/iso/vmlinuz" 2>/dev/null || cp "$KERNEL" "$WORK/iso/vmlinuz"
cat >"$WORK/iso/isolinux/isolinux.cfg" <<EOF
DEFAULT run
PROMPT 0
TIMEOUT 0
LABEL run
  KERNEL /vmlinuz
  INITRD /initrd
  APPEND $CMDLINE
EOF
xorriso -as mkisofs -quiet -o "$WORK/boot.iso" \
  -b isolinux/isolinux.bin -c isolinux/boot.cat \
  -no-emul-boot -boot-load-size 4 -boot-info-table -R "$WORK/iso" 2>/dev/null

# ----------------------------------------------------------- bochs config --
# Notes:
#  - Debian's bochs has no "nogui" display; rfb with timeout=0 does not wait
#    for a VNC client. (It listens on a TCP port, so we run Bochs in a private
#    network namespace when we can.)
#  - Debian's bochs-bin is built with the debugger, which stops at the first
#    instruction: the -rc file tells it to continue, then quit.
#  - panic -> fatal so Bochs exits instead of asking; ACPI power-off is
#    reported by Bochs as a "panic" and so also ends it.
#  - sound: dummy drivers. Without them Bochs probes ALSA, which fails on a
#    machine without sound hardware and then aborts ("buffer overflow
#    detected") in its error path.
#  - clock sync=none: run as fast as possible; guest time follows the
#    instruction count (ips), and idle HLT skips ahead.
cat >"$WORK/bochsrc" <<EOF
display_library: rfb, options="timeout=0"
megs: $MEM
cpu: model=$CPU, count=1, ips=100000000, reset_on_triple_fault=0
clock: sync=none, time0=local
romimage: file=$BIOS
vgaromimage: file=$VGABIOS
ata0-master: type=cdrom, path=$WORK/boot.iso, status=inserted
boot: cdrom
com1: enabled=1, mode=file, dev=$WORK/serial.log
speaker: enabled=0
sound: waveoutdrv=dummy, waveindrv=dummy, midioutdrv=dummy
mouse: enabled=0
log: $WORK/bochs.log
panic: action=fatal
error: action=report
info: action=ignore
debug: action=ignore
EOF
printf 'c\nq\n' >"$WORK/debugger.rc"
: >"$WORK/serial.log"

# ------------------------------------------------------------------ run ----
NETNS=()
if unshare --net true 2>/dev/null; then NETNS=(unshare --net); fi
start=$(date +%s)
log "booting $(basename "$KERNEL") on Bochs cpu=$CPU (timeout ${TIMEOUT}s)"
"${NETNS[@]}" bochs-bin -q -f "$WORK/bochsrc" -rc "$WORK/debugger.rc" \
  </dev/null >"$WORK/bochs.out" 2>&1 &
BPID=$!
# Watchdog: the only thing that stops a hung guest.
# (stderr silenced: bash would print "Terminated" when cleanup stops it)
( sleep "$TIMEOUT"; : >"$WORK/timed-out"; kill -9 "$BPID" 2>/dev/null ) 2>/dev/null &
WPID=$!

# Follow the serial log until Bochs exits. Lines before BOCHS-RUN-START are
# boot noise (shown with --verbose or when something goes wrong); lines after
# it are the program's stdout+stderr. The reader runs in a pipeline subshell,
# so it reports through files.
tail -n +1 -F --pid="$BPID" "$WORK/serial.log" 2>/dev/null |
while IFS= read -r line || [ -n "$line" ]; do
  line="${line//$'\r'/}"
  if [ -e "$WORK/exit" ]; then   # after the EXIT line: power-off noise only
    [ "$VERBOSE" = 1 ] && printf '%s\n' "$line" >&2
    continue
  fi
  if [ ! -e "$WORK/started" ]; then
    [ "$VERBOSE" = 1 ] && printf '%s\n' "$line" >&2
    if [[ "$line" == *BOCHS-RUN-START* ]]; then
      : >"$WORK/started"
      log "guest booted after $(( $(date +%s) - start ))s; program output follows"
    elif [[ "$line" == *"Kernel panic"* ]]; then
      printf '%s\n' "$line" >"$WORK/panic"
      kill -9 "$BPID" 2>/dev/null || true
    fi
    continue
  fi
  if [[ "$line" == *BOCHS-RUN-EXIT* ]]; then
    # The program's last line may lack a newline; print what came before.
    [ -n "${line%%BOCHS-RUN-EXIT*}" ] && printf '%s\n' "${line%%BOCHS-RUN-EXIT*}"
    printf '%s\n' "${line#*BOCHS-RUN-EXIT }" >"$WORK/exit"
    # Give the guest a moment to power off cleanly, then make sure.
    sleep 2
    kill -9 "$BPID" 2>/dev/null || true
    continue
  fi
  [[ "$line" == *"Kernel panic"* ]] && printf '%s\n' "$line" >"$WORK/panic"
  printf '%s\n' "$line"
done || true   # the loop's status is just its last test; never fatal
wait "$BPID" 2>/dev/null || true
BPID=""
elapsed=$(( $(date +%s) - start ))

if [ -e "$WORK/exit" ]; then
  status=$(cat "$WORK/exit")
  case "$status" in
    signal\ *)
      sig=$(awk '{print $2}' <<<"$status")
      log "program killed by $status after ${elapsed}s"
      exit $(( 128 + sig )) ;;
    init-error*)
      log "guest /init failed: $status"
      exit 125 ;;
    *)
      [[ "$status" =~ ^[0-9]+$ ]] || { log "bad exit line: $status"; exit 125; }
      log "program exited with status $status after ${elapsed}s total"
      exit "$status" ;;
  esac
fi

# No EXIT line: say why, with enough context to debug.
if [ -e "$WORK/timed-out" ]; then
  log "TIMEOUT after ${TIMEOUT}s (Bochs killed)"
  code=124
else
  log "guest ended without reporting an exit status (after ${elapsed}s)"
  code=125
fi
[ -e "$WORK/panic" ] && log "kernel: $(cat "$WORK/panic")"
if [ "$VERBOSE" != 1 ]; then
  log "last console lines:"; tail -n 20 "$WORK/serial.log" | tr -d '\r' >&2
fi
log "last Bochs messages:"; grep -v -e 'lt_dlhandle' -e 'loaded plugin' "$WORK/bochs.out" | tail -n 8 >&2
exit "$code"
