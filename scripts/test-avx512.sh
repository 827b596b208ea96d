#!/usr/bin/env bash
# npm run test:avx512 - the AVX-512 kernels, tested on a CPU that has them.
#
# Most x64 machines this project is built on (its CI included) have AVX2
# only, and QEMU's user mode emulates no AVX-512, so the real AVX-512 binary
# would otherwise never run before a user's CPU picks it. This builds the C
# tests statically and runs them on Bochs' emulated Skylake-X (AVX-512F),
# booting a small Linux (scripts/bochs-run.sh):
#   test_kernels --table avx512   every kernel against the double reference,
#                                 the determinism contract, tails and masks
#   test_core <names>             training, inference and evaluation through
#                                 every kernel table the CPU has (avx512
#                                 included): batched = reference, the same
#                                 weights whatever the thread count
# Both must also see that "best" is avx512 there; a run where the emulated
# CPU did not offer AVX-512 fails instead of passing vacuously.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)
build=build-avx512-static

cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DHDRNN_BUILD_TESTS=ON \
  -DCMAKE_EXE_LINKER_FLAGS=-static >/dev/null
cmake --build "$build" -j"$jobs" --target test_kernels test_core

log=$(mktemp)
trap 'rm -f "$log"' EXIT

echo "== test_kernels --table avx512 (emulated Skylake-X)"
bash scripts/bochs-run.sh "$build/test_kernels" --table avx512 | tee "$log"
grep -q 'best on this CPU is "avx512"' "$log" || { echo "test-avx512: the emulated CPU did not offer AVX-512" >&2; exit 1; }
grep -q '^\[avx512\] PASS' "$log" || { echo "test-avx512: the avx512 table did not pass" >&2; exit 1; }

echo "== test_core (training, inference, evaluation through every table, emulated Skylake-X)"
bash scripts/bochs-run.sh "$build/test_core" --quick \
  batched_vs_reference thread_determinism evaluate_infer stepwise | tee "$log"
grep -q 'kernels: .*avx512' "$log" || { echo "test-avx512: test_core did not run the avx512 table" >&2; exit 1; }
echo "test-avx512: passed"
