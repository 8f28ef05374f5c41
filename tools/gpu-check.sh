#!/usr/bin/env bash
# One-call GPU check for a machine with an NVIDIA GPU (fits in 10 minutes):
# configure + build with the CUDA backend (Release), run the GPU tests with
# skips turned into failures, run them (reduced shapes) under
# compute-sanitizer memcheck and racecheck, run the GPU benchmark, and write a
# markdown report with the versions, where each dependency came from, and the
# results.
#
#   bash tools/gpu-check.sh            # report in ${OUT:-build-gpu}/gpu-report.md
#   BUILD_DIR=... JOBS=... bash tools/gpu-check.sh
#
# Dependencies: with package access it runs tools/setup.sh (Debian packages).
# A machine without package access needs the kit that tools/gpu-deps.sh makes
# (gpu-deps/, copied along with the repository): its .deb files are unpacked
# with dpkg-deb into a private prefix (DEPS_PREFIX, default /tmp/nocturne-deps)
# and CMake is pointed at it; nothing is installed. When the kit is present it
# is used, with package access or without. cuDNN is taken from
# NOCTURNE_CUDNN_ROOT when set, else the CUDA toolkit, else the system, else
# the Python wheel nvidia-cudnn (site-packages/nvidia/cudnn on python3's path).
#
# Other variables: PACKAGE_ACCESS=0|1 skips the 5-second probe of apt's
# mirror; TIME_SCALE=N multiplies every stage's time limit (slow machines);
# GPU_DEPS_DIR names another kit folder.
#
# Exit status: 0 when the build and every test stage passed, 1 otherwise (the
# report is written either way).
set -u
cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)
BUILD=${BUILD_DIR:-$ROOT/build-gpu}
OUTDIR=${OUT:-$BUILD}
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 16)}
TIME_SCALE=${TIME_SCALE:-1}
case "$JOBS,$TIME_SCALE" in
  *[!0-9,]* | 0,* | *,0 | ,* | *,) echo "gpu-check.sh: JOBS and TIME_SCALE must be positive integers" >&2; exit 1 ;;
esac
KIT=${GPU_DEPS_DIR:-$ROOT/gpu-deps}
DEPS_PREFIX=${DEPS_PREFIX:-/tmp/nocturne-deps}
mkdir -p "$OUTDIR" "$BUILD"
REPORT=$OUTDIR/gpu-report.md
export PATH=/usr/local/cuda/bin:$PATH
START=$SECONDS
FAILED=0

log() { echo "[gpu-check $((SECONDS - START))s] $*"; }
# run_stage NAME LIMIT_S LOG COMMAND...: runs under a time limit, records status.
declare -A STATUS
run_stage() {
  local name=$1 limit=$(($2 * TIME_SCALE)) logfile=$3
  shift 3
  log "$name (limit ${limit}s)"
  local t0=$SECONDS
  timeout --kill-after=10 "$limit" "$@" >"$logfile" 2>&1
  local rc=$?
  STATUS[$name]="exit $rc, $((SECONDS - t0)) s"
  log "$name: exit $rc"
  return $rc
}
time_left() { echo $((570 * TIME_SCALE - (SECONDS - START))); }
# scaled N: N seconds times TIME_SCALE (for comparisons with time_left).
scaled() { echo $(($1 * TIME_SCALE)); }

# ---- dependencies ----------------------------------------------------------------
# package_access: can apt reach its mirror (or proxy)? One TCP connection, 5 s at most.
package_access() {
  case "${PACKAGE_ACCESS:-}" in 0) return 1 ;; 1) return 0 ;; esac
  command -v apt-get >/dev/null || return 1
  [ "$(id -u)" -eq 0 ] || sudo -n true 2>/dev/null || return 1
  local url hostport host port
  url=$(apt-config dump 2>/dev/null | sed -n 's/^Acquire::https\?::Proxy "\(https\?:\/\/[^"]*\)";$/\1/p' | head -1)
  url=${url:-${http_proxy:-${HTTP_PROXY:-}}}  # apt also honours the environment's proxy
  if [ -z "$url" ]; then
    url=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null |
      grep -vE '^[[:space:]]*#' | grep -oE '(https?|ftp)://[^[:space:]]+' | head -1)
  fi
  [ -n "$url" ] || return 1
  hostport=${url#*://}; hostport=${hostport%%/*}; hostport=${hostport##*@}
  host=${hostport%:*}; port=${hostport##*:}
  if [ "$host" = "$hostport" ]; then
    case "$url" in https*) port=443 ;; ftp*) port=21 ;; *) port=80 ;; esac
  fi
  timeout 5 bash -c "exec 3<>/dev/tcp/$host/$port" 2>/dev/null
}

t0=$SECONDS
if package_access; then
  ACCESS="yes"
  if [ -f tools/setup.sh ]; then
    log "package access: running tools/setup.sh"
    timeout $((120 * TIME_SCALE)) bash tools/setup.sh >"$OUTDIR/setup.log" 2>&1 ||
      log "setup.sh failed (see setup.log); going on"
  fi
else
  ACCESS="no"
  log "no package access: tools/setup.sh not run"
fi
STATUS[packages]="package access: $ACCESS, $((SECONDS - t0)) s"

# unpack_kit: every .deb of the kit into DEPS_PREFIX (dpkg-deb -x: files only,
# no maintainer scripts, nothing installed).
unpack_kit() {
  # Only a folder this script made (or an empty one) is removed.
  if [ -d "$DEPS_PREFIX" ] && [ ! -f "$DEPS_PREFIX/.kit-stamp" ] && [ -n "$(ls -A "$DEPS_PREFIX")" ]; then
    echo "gpu-check.sh: DEPS_PREFIX=$DEPS_PREFIX exists and was not made by gpu-check.sh; choose another" >&2
    exit 1
  fi
  rm -rf "$DEPS_PREFIX" && mkdir -p "$DEPS_PREFIX" || { echo "gpu-check.sh: cannot create $DEPS_PREFIX" >&2; exit 1; }
  for deb in "$KIT"/*.deb; do
    if command -v dpkg-deb >/dev/null; then
      dpkg-deb -x "$deb" "$DEPS_PREFIX"
    else  # no dpkg: a .deb is an ar archive holding data.tar.*
      (tmp=$(mktemp -d) && cd "$tmp" && ar x "$deb" && tar -xf data.tar.* -C "$DEPS_PREFIX"; rc=$?; rm -rf "$tmp"; exit $rc)
    fi || { echo "gpu-check.sh: cannot unpack $deb" >&2; exit 1; }
  done
  # Absolute links (libz.so -> /lib/...) point into the prefix instead.
  while IFS= read -r link; do
    target=$(readlink "$link")
    case "$target" in /*) [ -e "$DEPS_PREFIX$target" ] && ln -sfn "$DEPS_PREFIX$target" "$link" ;; esac
  done < <(find "$DEPS_PREFIX" -type l)
  # Run-time libraries the machine lacks (libopenblas.so.0, libgfortran.so.5,
  # ...) go on LD_LIBRARY_PATH through one folder; the machine's own come first
  # where it has them.
  mkdir -p "$DEPS_PREFIX/runtime"
  known=$( (ldconfig -p 2>/dev/null || /sbin/ldconfig -p 2>/dev/null) | awk '{print $1}')
  while IFS= read -r lib; do
    name=$(basename "$lib")
    soname=$(echo "$name" | sed -E 's/^(.*\.so\.[0-9]+).*$/\1/')
    grep -qxF "$soname" <<<"$known" || [ -e "$DEPS_PREFIX/runtime/$soname" ] ||
      ln -s "$lib" "$DEPS_PREFIX/runtime/$soname"
  done < <(find "$DEPS_PREFIX"/lib "$DEPS_PREFIX"/usr/lib -name '*.so.[0-9]*' \( -type f -o -type l \) 2>/dev/null | sort)
  echo "$1" >"$DEPS_PREFIX/.kit-stamp"
}

CMAKE_DEPS_ARGS=()
KIT_USED=""
if compgen -G "$KIT/*.deb" >/dev/null; then
  t0=$SECONDS
  case "$DEPS_PREFIX" in
    /?*) ;;
    *) echo "gpu-check.sh: DEPS_PREFIX must be an absolute folder other than /, not '$DEPS_PREFIX'" >&2; exit 1 ;;
  esac
  # The same kit as last time: keep the unpacked prefix (and the build's view of it).
  stamp=$(cd "$KIT" && ls -l --time-style=+%s -- *.deb | md5sum | cut -d' ' -f1)
  if [ "$(cat "$DEPS_PREFIX/.kit-stamp" 2>/dev/null)" = "$stamp" ]; then
    log "kit already unpacked in $DEPS_PREFIX"
    kit_how="reused"
  else
    log "unpacking the kit $KIT into $DEPS_PREFIX"
    unpack_kit "$stamp"
    kit_how="unpacked"
  fi
  export LD_LIBRARY_PATH="$DEPS_PREFIX/runtime${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  openblas=$(find "$DEPS_PREFIX/usr/lib" -name libopenblas.so | head -1)
  cblas=$(find "$DEPS_PREFIX/usr/include" -name cblas.h | head -1)
  CMAKE_DEPS_ARGS+=(-DCMAKE_PREFIX_PATH="$DEPS_PREFIX/usr")
  if [ -n "$openblas" ]; then
    # Debian's alternatives links (libblas.so, cblas.h) are not made by an unpack.
    CMAKE_DEPS_ARGS+=(-DBLA_VENDOR=OpenBLAS -DCMAKE_LIBRARY_PATH="$(dirname "$openblas")")
  fi
  [ -n "$cblas" ] && CMAKE_DEPS_ARGS+=(-DNOCTURNE_CBLAS_INCLUDE_DIR="$(dirname "$cblas")")
  kit_distribution=$(sed -n 's/^distribution: //p' "$KIT/MANIFEST" 2>/dev/null)
  KIT_USED="$KIT (made on ${kit_distribution:-an unknown distribution: no MANIFEST})"
  kit_glibc=$(sed -n 's/^glibc: //p' "$KIT/MANIFEST" 2>/dev/null)
  own_glibc=$(ldd --version 2>/dev/null | head -1 | grep -oE '[0-9]+\.[0-9]+$')
  if [ -n "$kit_glibc" ] && [ -n "$own_glibc" ] &&
    [ "$(printf '%s\n%s\n' "$kit_glibc" "$own_glibc" | sort -V | tail -1)" != "$own_glibc" ]; then
    log "warning: the kit was made with glibc $kit_glibc, this machine has $own_glibc; its libraries may not load"
  fi
  STATUS[kit-unpack]="$kit_how, $((SECONDS - t0)) s ($(find "$DEPS_PREFIX/runtime" -type l | wc -l) run-time libraries the machine lacks)"
  log "kit $kit_how in $((SECONDS - t0)) s"
elif [ "$ACCESS" = no ]; then
  log "warning: no package access and no kit ($KIT): configure needs the Debian packages already installed;" \
    "run tools/gpu-deps.sh on a machine with package access and copy gpu-deps/ along"
fi

# cuDNN: NOCTURNE_CUDNN_ROOT, the CUDA toolkit, the system, the Python wheel.
NVCC_BIN=$(command -v nvcc || true)
CUDA_HOME=${NVCC_BIN:+$(dirname "$(dirname "$(readlink -f "$NVCC_BIN")")")}
CUDA_HOME=${CUDA_HOME:-/usr/local/cuda}
has_cudnn() { [ -f "$1/include/cudnn.h" ] && compgen -G "$1/lib*/libcudnn.so*" >/dev/null; }
CUDNN_ROOT=${NOCTURNE_CUDNN_ROOT:-}
if [ -n "$CUDNN_ROOT" ]; then
  CUDNN_FROM="NOCTURNE_CUDNN_ROOT"
elif has_cudnn "$CUDA_HOME"; then
  CUDNN_ROOT=$CUDA_HOME CUDNN_FROM="CUDA toolkit"
elif compgen -G "/usr/include/cudnn.h" >/dev/null || compgen -G "/usr/include/*/cudnn.h" >/dev/null; then
  CUDNN_FROM="system"
else
  # The wheel lays it out as site-packages/nvidia/cudnn/{include,lib}.
  wheel=$(timeout 20 python3 -c 'import glob, os, sys
print(next((os.path.dirname(os.path.dirname(h)) for p in sys.path if p
            for h in sorted(glob.glob(os.path.join(p, "nvidia", "*", "include", "cudnn.h")))), ""))' 2>/dev/null | tail -1)
  if [ -n "$wheel" ] && has_cudnn "$wheel"; then
    CUDNN_ROOT=$wheel CUDNN_FROM="Python wheel ($(python3 -c 'import sys; print(sys.prefix)' 2>/dev/null))"
  else
    CUDNN_FROM="not found"
  fi
fi
# Passed even when empty, so that a root cached by an earlier run is dropped.
CMAKE_DEPS_ARGS+=(-DNOCTURNE_CUDNN_ROOT="$CUDNN_ROOT")
if [ -n "$CUDNN_ROOT" ]; then
  for d in "$CUDNN_ROOT"/lib64 "$CUDNN_ROOT"/lib; do
    [ -d "$d" ] && export LD_LIBRARY_PATH="$d${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  done
fi
# cuDNN loads cuBLAS and its own parts at run time.
for d in "$CUDA_HOME"/lib64 "$CUDA_HOME"/lib; do
  if [ -d "$d" ]; then
    export LD_LIBRARY_PATH="${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}$d"
    break
  fi
done

SMI="unavailable (nvidia-smi not found)"
command -v nvidia-smi >/dev/null &&
  SMI=$(nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv,noheader 2>&1 | head -4)
GENERATOR=()
if [ -f "$BUILD/CMakeCache.txt" ]; then
  :  # keep the generator the folder was configured with
elif command -v ninja >/dev/null; then
  GENERATOR=(-G Ninja)
fi

# ---- build ------------------------------------------------------------------------
run_stage configure 120 "$OUTDIR/build.log" \
  cmake -S "$ROOT" -B "$BUILD" "${GENERATOR[@]}" -DNOCTURNE_CUDA=ON -DCMAKE_BUILD_TYPE=Release \
  "${CMAKE_DEPS_ARGS[@]}" || FAILED=1
if [ "$FAILED" = 0 ]; then
  # Everything first; if another part fails to build, at least our targets.
  if ! run_stage build 360 "$OUTDIR/build-all.log" cmake --build "$BUILD" -j "$JOBS"; then
    run_stage build-gpu-targets 240 "$OUTDIR/build-gpu-targets.log" \
      cmake --build "$BUILD" -j "$JOBS" --target test_gpu_backend bench_gpu || FAILED=1
    cat "$OUTDIR/build-gpu-targets.log" >>"$OUTDIR/build-all.log"
    rm -f "$OUTDIR/build-gpu-targets.log"
  fi
  tail -c 200000 "$OUTDIR/build-all.log" >>"$OUTDIR/build.log"
  rm -f "$OUTDIR/build-all.log"
fi
TEST_BIN=$(find "$BUILD" -name test_gpu_backend -type f -perm -u+x 2>/dev/null | head -1)
BENCH_BIN=$(find "$BUILD" -name bench_gpu -type f -perm -u+x 2>/dev/null | head -1)
CUDNN_BIN=$(find "$BUILD" -name test_gpu_cudnn -type f -perm -u+x 2>/dev/null | head -1)

# ---- tests ------------------------------------------------------------------------
if [ -n "$TEST_BIN" ]; then
  run_stage gpu-tests 240 "$OUTDIR/test.log" \
    env NOCTURNE_REQUIRE_ALL_TESTS=1 "$TEST_BIN" --durations yes || FAILED=1
  # cuDNN against our kernels and the CPU: every algorithm and math mode.
  if [ -n "$CUDNN_BIN" ]; then
    run_stage cudnn-tests 180 "$OUTDIR/cudnn.log" \
      env NOCTURNE_REQUIRE_ALL_TESTS=1 "$CUDNN_BIN" --durations yes || FAILED=1
  else
    STATUS[cudnn-tests]="not built (no cuDNN found at configure)"
  fi
  SANITIZER=$(command -v compute-sanitizer || true)
  if [ -n "$SANITIZER" ]; then
    if [ "$(time_left)" -gt "$(scaled 200)" ]; then
      run_stage memcheck 150 "$OUTDIR/sanitizer.log" \
        env NOCTURNE_REQUIRE_ALL_TESTS=1 NOCTURNE_GPU_TEST_SMALL=1 \
        "$SANITIZER" --tool memcheck --error-exitcode 3 "$TEST_BIN" "~[tf32]" || FAILED=1
    else
      STATUS[memcheck]="skipped: out of time"
    fi
    if [ "$(time_left)" -gt "$(scaled 150)" ]; then
      echo "==== racecheck ====" >>"$OUTDIR/sanitizer.log"
      run_stage racecheck 120 "$OUTDIR/racecheck.tmp" \
        env NOCTURNE_REQUIRE_ALL_TESTS=1 NOCTURNE_GPU_TEST_SMALL=1 \
        "$SANITIZER" --tool racecheck --error-exitcode 3 "$TEST_BIN" "~[training]" || FAILED=1
      cat "$OUTDIR/racecheck.tmp" >>"$OUTDIR/sanitizer.log"
      rm -f "$OUTDIR/racecheck.tmp"
    else
      STATUS[racecheck]="skipped: out of time"
    fi
  else
    STATUS[memcheck]="skipped: compute-sanitizer not found"
    STATUS[racecheck]="skipped: compute-sanitizer not found"
  fi
else
  STATUS[gpu-tests]="not built"
  FAILED=1
fi

# The rest of the test suite (CPU tests; corpus tests skip where it is absent).
if [ -d "$BUILD" ] && [ "$(time_left)" -gt "$(scaled 130)" ]; then
  run_stage ctest 100 "$OUTDIR/ctest.log" \
    ctest --test-dir "$BUILD" -j "$JOBS" --timeout $((90 * TIME_SCALE)) --output-on-failure -E 'test_gpu_backend|test_gpu_cudnn' || true
fi

# ---- benchmark --------------------------------------------------------------------
if [ -n "$BENCH_BIN" ] && [ "$(time_left)" -gt "$(scaled 40)" ]; then
  limit=$(($(time_left) / TIME_SCALE - 20))
  [ "$limit" -gt 150 ] && limit=150
  run_stage bench "$limit" "$OUTDIR/bench.log" "$BENCH_BIN" 50 200 || true
else
  STATUS[bench]=${BENCH_BIN:+"skipped: out of time"}
  STATUS[bench]=${STATUS[bench]:-"not built (is bench/gpu.cmake included?)"}
fi

# ---- report -----------------------------------------------------------------------
# What the configure actually used, from the cache: where each thing came from.
cache_get() { sed -n "s/^$1:[A-Z]*=//p" "$BUILD/CMakeCache.txt" 2>/dev/null | head -1; }
origin() {
  case "$1" in
    "" | *NOTFOUND) echo "not found" ;;
    "$DEPS_PREFIX"/*) echo "kit: $1" ;;
    *) echo "system: $1" ;;
  esac
}
first_line() { [ -n "$1" ] && "$1" --version 2>&1 | grep -m1 -E "${2:-.}" || echo "unknown"; }
CUDNN_INCLUDE=$(cache_get NOCTURNE_CUDNN_INCLUDE)
CUDNN_VERSION="not used"
if [ -f "$CUDNN_INCLUDE/cudnn_version.h" ]; then
  CUDNN_VERSION=$(awk '/#define CUDNN_(MAJOR|MINOR|PATCHLEVEL) /{printf "%s%s", sep, $3; sep="."}' "$CUDNN_INCLUDE/cudnn_version.h")
fi
BLAS_LIB=$(sed -n 's/^BLAS_[A-Za-z0-9_]*_LIBRARY:FILEPATH=\(.*\)$/\1/p' "$BUILD/CMakeCache.txt" 2>/dev/null | grep -v NOTFOUND | head -1)
GEN=$(cache_get CMAKE_GENERATOR)
# The nvcc that CMake used (not cached: CMake records it under CMakeFiles/).
CUDA_COMPILER=$(sed -n 's/^set(CMAKE_CUDA_COMPILER "\(.*\)")$/\1/p' "$BUILD"/CMakeFiles/*/CMakeCUDACompiler.cmake 2>/dev/null | head -1)
CUDA_COMPILER=${CUDA_COMPILER:-$NVCC_BIN}
{
  echo "# Nocturne GPU check"
  echo
  echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ); commit: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "- GPU (nvidia-smi: name, driver, memory, compute capability): ${SMI:-unavailable}"
  echo "- driver: $(nvidia-smi --query-gpu=driver_version --format=csv,noheader 2>/dev/null | head -1 | grep . || echo unavailable)"
  echo "- CUDA compiler: $(first_line "$CUDA_COMPILER" release) (${CUDA_COMPILER:-nvcc not found})"
  echo "- cuDNN: $CUDNN_VERSION (${CUDNN_FROM}: $(cache_get NOCTURNE_CUDNN_LIBRARY | grep -v NOTFOUND || echo "no library"))"
  echo "- C++ compiler: $(first_line "$(cache_get CMAKE_CXX_COMPILER)") ($(cache_get CMAKE_CXX_COMPILER))"
  echo "- CMake: $(first_line cmake) ($(command -v cmake)); generator ${GEN:-unknown}$([ "$GEN" = Ninja ] && echo " $(ninja --version 2>/dev/null)"), $JOBS jobs"
  echo "- system: $(. /etc/os-release 2>/dev/null && echo "${PRETTY_NAME:-unknown}"), glibc $(ldd --version 2>/dev/null | head -1 | grep -oE '[0-9]+\.[0-9]+$' || echo unknown), $(nproc) cores"
  echo "- packages: package access $ACCESS; kit ${KIT_USED:-not used}"
  echo "- dependencies (kit = unpacked from gpu-deps/ into $DEPS_PREFIX):"
  echo "  - BLAS: $(origin "$BLAS_LIB"); cblas.h: $(origin "$(cache_get NOCTURNE_CBLAS_INCLUDE_DIR)")"
  echo "  - Catch2: $(origin "$(cache_get Catch2_DIR)")"
  echo "  - CLI11: $(origin "$(cache_get CLI11_DIR)")"
  echo "  - nlohmann_json: $(origin "$(cache_get nlohmann_json_DIR)")"
  echo "  - libpng: $(origin "$(cache_get PNG_LIBRARY_RELEASE)"); zlib: $(origin "$(cache_get ZLIB_LIBRARY_RELEASE)")"
  grep -E "^-- Nocturne:" "$OUTDIR/build.log" 2>/dev/null | sed 's/^-- Nocturne: /  - configure: /'
  echo "- total time: $((SECONDS - START)) s"
  echo
  echo "| stage | result |"
  echo "| --- | --- |"
  for stage in packages kit-unpack configure build build-gpu-targets gpu-tests cudnn-tests memcheck racecheck ctest \
    bench; do
    [ -n "${STATUS[$stage]:-}" ] && echo "| $stage | ${STATUS[$stage]} |"
  done
  echo
  if [ -f "$OUTDIR/test.log" ]; then
    echo "## GPU tests (strict FP32 vs the CPU reference; training and TF32 lines)"
    echo '```'
    grep -E "^step |gpu vs cpu|tf32 vs fp32|test cases|assertions|FAILED|SKIPPED|REQUIRE|CHECK\(|with expansion|normalised" \
      "$OUTDIR/test.log" | head -80
    echo '```'
  fi
  if [ -f "$OUTDIR/cudnn.log" ]; then
    echo "## cuDNN tests (every algorithm and math mode against ours and the CPU)"
    echo '```'
    grep -E "^cuDNN |not supported|pairs ran|test cases|assertions|FAILED|SKIPPED|with expansion" "$OUTDIR/cudnn.log" |
      head -60
    echo '```'
  fi
  if [ -f "$OUTDIR/sanitizer.log" ]; then
    echo "## compute-sanitizer"
    echo '```'
    grep -E "ERROR SUMMARY|RACECHECK SUMMARY|LEAK SUMMARY|test cases|==== racecheck" "$OUTDIR/sanitizer.log" | head -20
    echo '```'
  fi
  if [ -f "$OUTDIR/ctest.log" ]; then
    echo "## ctest (all but the GPU tests)"
    echo '```'
    grep -E "tests passed|Failed|Not Run|Skipped|\*\*\*" "$OUTDIR/ctest.log" | head -30
    echo '```'
  fi
  if [ -f "$OUTDIR/bench.log" ]; then
    echo "## Benchmark (bench_gpu)"
    echo '```'
    cat "$OUTDIR/bench.log"
    echo '```'
  fi
  errors=$(grep -E "error|Error" "$OUTDIR/build.log" 2>/dev/null | head -30)
  if [ "$FAILED" != 0 ] && [ -n "$errors" ]; then
    echo "## Build log (errors)"
    echo '```'
    echo "$errors"
    echo '```'
  fi
} >"$REPORT"
log "report: $REPORT"
cat "$REPORT"
exit "$FAILED"
