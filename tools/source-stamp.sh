#!/usr/bin/env bash
# Prints one hash of the sources a build reads (CMake files, headers, sources,
# kernels, tests, benchmarks), the same on any machine for the same files: how
# tools/gpu-check.sh knows that programs built elsewhere (gpu-prebuilt/) were
# built from the tree it runs in. Needs no git (a copied tree has none).
set -euo pipefail
cd "$(dirname "$0")/.."
find CMakeLists.txt cmake include src kernels test bench -type f \
  \( -name '*.cpp' -o -name '*.hpp' -o -name '*.cu' -o -name '*.cuh' -o -name '*.in' -o -name '*.txt' \
  -o -name '*.cmake' -o -name '*.json' \) -print0 2>/dev/null |
  LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16
