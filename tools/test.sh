#!/usr/bin/env bash
# Builds Nocturne from scratch and runs every test, as CI does:
#  1. the release build (CUDA backend ON when nvcc is found) and all CTest tests
#     (GPU tests report "skipped" without a usable GPU);
#  2. the CPU tests again under AddressSanitizer + UndefinedBehaviorSanitizer;
#  3. install, then build and run the consumer program against the installed package.
# Usage: bash tools/test.sh [build-root]   (default: build-test)
set -euo pipefail
cd "$(dirname "$0")/.."
root="${1:-build-test}"
case "$root" in /*) ;; *) root="$PWD/$root" ;; esac  # absolute, so the install prefix is where it says
jobs="$(nproc)"

bash tools/setup.sh

cuda=OFF
if command -v nvcc >/dev/null 2>&1 || [ -x /usr/local/cuda/bin/nvcc ]; then cuda=ON; fi

echo "== release build (CUDA ${cuda})"
cmake -S . -B "$root/release" -DCMAKE_BUILD_TYPE=Release -DNOCTURNE_WERROR=ON -DNOCTURNE_CUDA="$cuda" \
      -DCMAKE_INSTALL_PREFIX="$root/install"
cmake --build "$root/release" -j"$jobs"
ctest --test-dir "$root/release" --output-on-failure -j"$jobs"

echo "== sanitizer build (ASan + UBSan, CPU)"
cmake -S . -B "$root/sanitize" -DCMAKE_BUILD_TYPE=Debug -DNOCTURNE_WERROR=ON -DNOCTURNE_CUDA=OFF \
      -DNOCTURNE_SANITIZE=ON -DNOCTURNE_BENCH=OFF
cmake --build "$root/sanitize" -j"$jobs"
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir "$root/sanitize" --output-on-failure -j"$jobs" -LE slow

echo "== install and consumer"
cmake --install "$root/release" >/dev/null
cmake -S test/consumer -B "$root/consumer" -DCMAKE_PREFIX_PATH="$root/install"
cmake --build "$root/consumer" -j"$jobs"
"$root/consumer/nocturne_consumer"
echo "== all tests passed"
