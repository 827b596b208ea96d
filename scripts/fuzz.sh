#!/usr/bin/env bash
# Fuzzes the C core's file parsers with libFuzzer + ASan + UBSan.
#
#   bash scripts/fuzz.sh [SECONDS_PER_HARNESS]   # default 60 (or $FUZZ_SECONDS)
#   bash scripts/fuzz.sh --regressions-only      # replay corpus + regressions only
#
# Environment:
#   FUZZ_SECONDS    seconds per harness when no argument is given (default 60)
#   FUZZ_BUILD_DIR  build and work folder (default /tmp/hdrnn-fuzz); the fuzzers
#                   grow their corpora in $FUZZ_BUILD_DIR/work/<harness>/corpus,
#                   seeded from native/fuzz/corpus (never written to)
#   FUZZ_JOBS       harnesses fuzzed at the same time, 1 or 2 (default 1)
#   FUZZ_HARNESSES  space-separated subset (default: all)
#   CC              clang to use (default: clang-14, else clang)
#
# Build: -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -g -O1,
# plus -fsanitize=unsigned-integer-overflow for the parser sources.
#
# Exit status: 0 when nothing was found; 1 when a harness crashed, leaked, hit
# a timeout or OOM, or a sanitizer reported (the reproducer paths are printed;
# copy them into native/fuzz/regressions/<harness>/); 2 on a build problem.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FUZZ_DIR="$ROOT/native/fuzz"
CORE="$ROOT/native/core"
BUILD="${FUZZ_BUILD_DIR:-/tmp/hdrnn-fuzz}"
JOBS="${FUZZ_JOBS:-1}"
HARNESSES="${FUZZ_HARNESSES:-fuzz_network fuzz_idx fuzz_pgm}"

REGRESSIONS_ONLY=0
SECONDS_PER="${FUZZ_SECONDS:-60}"
for arg in "$@"; do
  case "$arg" in
    --regressions-only) REGRESSIONS_ONLY=1 ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *[!0-9]*|'') echo "fuzz.sh: unknown argument '$arg'" >&2; exit 2 ;;
    *) SECONDS_PER="$arg" ;;
  esac
done
case "$JOBS" in 1|2) ;; *) echo "fuzz.sh: FUZZ_JOBS must be 1 or 2" >&2; exit 2 ;; esac

# Per-harness input size cap: the network corpus holds a 31 KB seed .nn file
# (784-10); IDX and PGM headers and their checks need far less.
max_len() {
  case "$1" in
    fuzz_network) echo 32768 ;;
    fuzz_idx) echo 4096 ;;
    fuzz_pgm) echo 8192 ;;
    *) echo 4096 ;;
  esac
}

# ------------------------------------------------------------------ toolchain
FUZZ_FLAGS="-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -g -O1"
LIB_FLAGS="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -g -O1"

links_fuzzer() {
  local cc="$1" t
  t="$(mktemp -d)"
  printf '#include <stdint.h>\n#include <stddef.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }\n' >"$t/t.c"
  if "$cc" $FUZZ_FLAGS "$t/t.c" -o "$t/t" >/dev/null 2>&1; then rm -rf "$t"; return 0; fi
  rm -rf "$t"
  return 1
}

find_cc() {
  local c
  for c in ${CC:-} clang-14 clang; do
    if command -v "$c" >/dev/null 2>&1 && links_fuzzer "$c"; then echo "$c"; return 0; fi
  done
  return 1
}

if ! CLANG="$(find_cc)"; then
  echo "fuzz.sh: installing clang-14 and libclang-rt-14-dev (libFuzzer, sanitizer runtimes)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq || echo "fuzz.sh: apt-get update reported errors; trying the install anyway" >&2
  if ! apt-get install -y -qq clang-14 libclang-rt-14-dev >/dev/null; then
    echo "fuzz.sh: apt-get install clang-14 libclang-rt-14-dev failed" >&2
    exit 2
  fi
  if ! CLANG="$(find_cc)"; then
    echo "fuzz.sh: no clang that links -fsanitize=fuzzer,address,undefined" >&2
    exit 2
  fi
fi

# ---------------------------------------------------------------------- build
# The parsers and what they call. Only these are compiled at first: the rest of
# the core (the training kernels: kernels_avx2.c alone takes minutes under
# ASan) is compiled only if a harness fails to link without it.
PARSER_SOURCES="src/format.c src/model.c src/network.c src/status.c src/crc32.c src/rng.c src/idx.c src/pgm.c"
mkdir -p "$BUILD/obj" "$BUILD/bin"
INCLUDES=(-I "$CORE/include" -I "$CORE/src" -I "$CORE/kernels")
echo "fuzz.sh: building with $CLANG into $BUILD"

# Compiles one core source to $BUILD/obj unless its object is newer than the
# source, every header and this script.
compile() {
  local src="$CORE/$1" name extra=() obj newest
  name="$(basename "$1" .c)"
  obj="$BUILD/obj/$name.o"
  [ "$name" = kernels_avx2 ] && extra=(-mavx2 -mfma)
  # The parsers' size arithmetic must never wrap (an unsigned wrap there is how a
  # lying header slips past a check): trap it too. Write intentional wraps with
  # explicit masks instead.
  case "$name" in
    format|idx|pgm|network|crc32|status) extra=(-fsanitize=unsigned-integer-overflow) ;;
  esac
  newest="$(ls -t "$src" "$0" "$CORE"/include/*.h "$CORE"/src/*.h "$CORE"/kernels/*.h 2>/dev/null | head -n 1)"
  if [ -f "$obj" ] && [ "$obj" -nt "$newest" ]; then echo "$obj"; return 0; fi
  # shellcheck disable=SC2086
  "$CLANG" -std=c99 $LIB_FLAGS "${extra[@]}" "${INCLUDES[@]}" -c "$src" -o "$obj" >&2 || return 1
  echo "$obj"
}

link_all() {
  local h
  for h in $HARNESSES; do
    # shellcheck disable=SC2086
    "$CLANG" -std=c99 $FUZZ_FLAGS "${INCLUDES[@]}" "$FUZZ_DIR/$h.c" "$@" -lm -lpthread \
      -o "$BUILD/bin/$h" || return 1
  done
}

objs=()
for src in $PARSER_SOURCES; do
  obj="$(compile "$src")" || { echo "fuzz.sh: failed to compile $src" >&2; exit 2; }
  objs+=("$obj")
done
if ! link_all "${objs[@]}" 2>"$BUILD/link.log"; then
  echo "fuzz.sh: the parsers need more of the core; compiling all of it"
  objs=()
  for src in "$CORE"/src/*.c "$CORE"/kernels/*.c; do
    obj="$(compile "${src#"$CORE"/}")" || { echo "fuzz.sh: failed to compile $src" >&2; exit 2; }
    objs+=("$obj")
  done
  rm -f "$BUILD/obj/libhdrnn_fuzz.a"
  ar rcs "$BUILD/obj/libhdrnn_fuzz.a" "${objs[@]}"
  if ! link_all "$BUILD/obj/libhdrnn_fuzz.a"; then
    echo "fuzz.sh: failed to link the harnesses" >&2
    exit 2
  fi
fi

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=0:strict_string_checks=1:detect_stack_use_after_return=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
COMMON=(-rss_limit_mb=512 -malloc_limit_mb=256 -timeout=10)

# ------------------------------------------------- replay corpus + regressions
status=0
for h in $HARNESSES; do
  files=()
  for d in "$FUZZ_DIR/regressions/$h" "$FUZZ_DIR/corpus/$h"; do
    [ -d "$d" ] || continue
    while IFS= read -r -d '' f; do files+=("$f"); done < <(find "$d" -type f ! -name '.*' ! -name '*.md' -print0 | sort -z)
  done
  if [ "${#files[@]}" -eq 0 ]; then echo "fuzz.sh: $h: nothing to replay"; continue; fi
  log="$BUILD/replay-$h.log"
  # Files (not folders) as arguments: libFuzzer runs each once and writes nothing.
  if "$BUILD/bin/$h" "${COMMON[@]}" "${files[@]}" >"$log" 2>&1; then
    echo "fuzz.sh: $h: replayed ${#files[@]} inputs, ok"
  else
    echo "fuzz.sh: $h: REPLAY FAILED (log: $log)"
    grep -E "^Running: |ERROR|SUMMARY|check failed|runtime error" "$log" | tail -n 15 || true
    status=1
  fi
done
if [ "$REGRESSIONS_ONLY" = 1 ]; then
  [ "$status" = 0 ] && echo "fuzz.sh: corpus and regressions replayed without findings"
  exit "$status"
fi

# ---------------------------------------------------------------------- fuzz
run_one() {
  local h="$1" work="$BUILD/work/$1"
  mkdir -p "$work/corpus" "$work/artifacts"
  rm -f "$work"/artifacts/* "$work"/fuzz.log
  # A copy of the checked-in corpus (and regressions) to grow; what earlier
  # runs in this build folder found is kept.
  for d in "$FUZZ_DIR/corpus/$h" "$FUZZ_DIR/regressions/$h"; do
    [ -d "$d" ] && find "$d" -type f ! -name '.*' ! -name '*.md' -exec cp -n {} "$work/corpus/" \;
  done
  local start end rc=0
  start=$(date +%s)
  "$BUILD/bin/$h" "${COMMON[@]}" -max_len="$(max_len "$h")" -max_total_time="$SECONDS_PER" \
    -print_final_stats=1 -artifact_prefix="$work/artifacts/" "$work/corpus" \
    >"$work/fuzz.log" 2>&1 || rc=$?
  end=$(date +%s)
  echo "$rc $((end - start))" >"$work/result"
}

pids=()
for h in $HARNESSES; do
  echo "fuzz.sh: fuzzing $h for ${SECONDS_PER}s (max_len $(max_len "$h"))"
  run_one "$h" &
  pids+=($!)
  if [ "${#pids[@]}" -ge "$JOBS" ]; then wait "${pids[0]}" || true; pids=("${pids[@]:1}"); fi
done
for p in "${pids[@]}"; do wait "$p" || true; done

# ---------------------------------------------------------------------- report
printf '\n%-14s %14s %8s %10s %8s\n' harness executions seconds exec/s crashes
found=()
for h in $HARNESSES; do
  work="$BUILD/work/$h"
  rc=1 secs=0
  [ -f "$work/result" ] && read -r rc secs <"$work/result"
  execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/fuzz.log" | tail -n 1)"
  rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/fuzz.log" | tail -n 1)"
  crashes=0
  while IFS= read -r -d '' a; do
    crashes=$((crashes + 1))
    found+=("$h: $a")
  done < <(find "$work/artifacts" -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' \
             -o -name 'oom-*' \) -print0)
  if [ "$rc" != 0 ] && [ "$crashes" = 0 ]; then
    crashes=1
    found+=("$h: exit code $rc without an artifact; see $work/fuzz.log")
  fi
  printf '%-14s %14s %8s %10s %8s\n' "$h" "${execs:-?}" "$secs" "${rate:-?}" "$crashes"
  [ "$crashes" = 0 ] || status=1
done
echo
if [ "$status" != 0 ]; then
  echo "fuzz.sh: FINDINGS (reproduce with: $BUILD/bin/<harness> <file>):"
  for f in "${found[@]}"; do echo "  $f"; done
  for h in $HARNESSES; do
    grep -E "^==[0-9]+==ERROR|SUMMARY|check failed|runtime error|^Running" "$BUILD/work/$h/fuzz.log" 2>/dev/null |
      head -n 5 | sed "s/^/  $h: /" || true
  done
  exit 1
fi
echo "fuzz.sh: no findings"
