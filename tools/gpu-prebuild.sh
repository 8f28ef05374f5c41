#!/usr/bin/env bash
# Builds the GPU programs here, where no GPU is needed to compile them, for a
# GPU machine whose time is short: gpu-prebuilt/ (ignored by git) gets
# test_gpu_backend, test_gpu_cudnn, bench_gpu and bench_lstm for one CUDA
# architecture (default 90-real: H100 and H200), laid out as in a build folder,
# with a MANIFEST naming the sources they were built from. The core is linked
# statically (BUILD_SHARED_LIBS=OFF); the CUDA backend, a shared module in any
# build, is copied to gpu-prebuilt/lib/, which tools/gpu-check.sh puts on
# LD_LIBRARY_PATH. Carried to the GPU
# machine with gpu-deps/ (tools/gpu-deps.sh), they let tools/gpu-check.sh skip
# its build stage: it uses them only when the MANIFEST's source stamp equals
# the stamp of the tree it runs in, the GPU's architecture is the one built,
# and every library they need loads there; else it builds as usual.
#
#   bash tools/gpu-prebuild.sh            # GPU_PREBUILD_ARCH=90-real by default
#
# The programs are built without FluidSynth and RtMidi (a GPU machine has
# neither and the GPU programs do not use them), against this machine's
# OpenBLAS and libpng, which the kit provides on the GPU machine (both Debian
# 12 builds). The CUDA runtime, cuBLAS and cuDNN come from the GPU machine.
set -euo pipefail
cd "$(dirname "$0")/.."
arch=${GPU_PREBUILD_ARCH:-90-real}
build=${BUILD_DIR:-build-gpu-prebuild}
out=gpu-prebuilt
programs=(test/gpu/test_gpu_backend test/cudnn/test_gpu_cudnn bench/bench_gpu bench/bench_lstm)

cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DNOCTURNE_CUDA=ON -DNOCTURNE_WERROR=ON \
  -DCMAKE_CUDA_ARCHITECTURES="$arch" -DCMAKE_DISABLE_FIND_PACKAGE_PkgConfig=ON -DBUILD_SHARED_LIBS=OFF >/dev/null
targets=()
for p in "${programs[@]}"; do targets+=("$(basename "$p")"); done
cmake --build "$build" -j "$(nproc)" --target "${targets[@]}"

rm -rf "$out"
for p in "${programs[@]}"; do
  mkdir -p "$out/$(dirname "$p")"
  cp "$build/$p" "$out/$p"
done
mkdir -p "$out/lib"
cp "$build/libnocturne-cuda.so" "$out/lib/"
{
  echo "source-stamp: $(bash tools/source-stamp.sh)"
  echo "cuda-architectures: $arch"
  echo "nvcc: $(nvcc --version | grep -m1 release)"
  echo "cudnn: $(sed -n 's/^NOCTURNE_CUDNN_LIBRARY:FILEPATH=//p' "$build/CMakeCache.txt")"
  echo "system: $(. /etc/os-release && echo "$PRETTY_NAME"), glibc $(ldd --version | head -1 | grep -oE '[0-9]+\.[0-9]+$')"
  echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo ' (with changes)')"
  echo "built: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
} >"$out/MANIFEST"
du -sh "$out"
cat "$out/MANIFEST"
