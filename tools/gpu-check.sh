#!/usr/bin/env bash
# One-call GPU check for a machine with an NVIDIA GPU (fits in 10 minutes):
# configure + build with the CUDA backend (Release), run the GPU tests with
# skips turned into failures, run them (reduced shapes) under
# compute-sanitizer memcheck and racecheck, run the GPU benchmark, and write a
# markdown report with the versions and the results.
#
#   bash tools/gpu-check.sh            # report in ${OUT:-build-gpu}/gpu-report.md
#   BUILD_DIR=... JOBS=... bash tools/gpu-check.sh
#
# Exit status: 0 when the build and every test stage passed, 1 otherwise (the
# report is written either way).
set -u
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD=${BUILD_DIR:-$ROOT/build-gpu}
OUTDIR=${OUT:-$BUILD}
JOBS=${JOBS:-16}
mkdir -p "$OUTDIR" "$BUILD"
REPORT=$OUTDIR/gpu-report.md
export PATH=/usr/local/cuda/bin:$PATH
START=$SECONDS
FAILED=0

log() { echo "[gpu-check $((SECONDS - START))s] $*"; }
# run_stage NAME LIMIT_S LOG COMMAND...: runs under a time limit, records status.
declare -A STATUS
run_stage() {
  local name=$1 limit=$2 logfile=$3
  shift 3
  log "$name (limit ${limit}s)"
  local t0=$SECONDS
  timeout --kill-after=10 "$limit" "$@" >"$logfile" 2>&1
  local rc=$?
  STATUS[$name]="exit $rc, $((SECONDS - t0)) s"
  log "$name: exit $rc"
  return $rc
}
time_left() { echo $((570 - (SECONDS - START))); }

# ---- setup and versions ---------------------------------------------------------
if [ -f tools/setup.sh ]; then
  log "tools/setup.sh"
  timeout 120 bash tools/setup.sh >"$OUTDIR/setup.log" 2>&1 || log "setup.sh failed (see setup.log); going on"
fi
SMI=$(nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv,noheader 2>&1 | head -4)
NVCC=$(nvcc --version 2>&1 | grep -i release | head -1)
CUDNN_H=$(ls /usr/include/cudnn_version*.h /usr/local/cuda/include/cudnn_version*.h 2>/dev/null | head -1)
if [ -n "$CUDNN_H" ]; then
  CUDNN=$(awk '/#define CUDNN_(MAJOR|MINOR|PATCHLEVEL) /{printf "%s%s", sep, $3; sep="."}' "$CUDNN_H")
else
  CUDNN="not found"
fi

# ---- build ------------------------------------------------------------------------
run_stage configure 120 "$OUTDIR/build.log" \
  cmake -S "$ROOT" -B "$BUILD" -DNOCTURNE_CUDA=ON -DCMAKE_BUILD_TYPE=Release || FAILED=1
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

# ---- tests ------------------------------------------------------------------------
if [ -n "$TEST_BIN" ]; then
  run_stage gpu-tests 240 "$OUTDIR/test.log" \
    env NOCTURNE_REQUIRE_ALL_TESTS=1 "$TEST_BIN" --durations yes || FAILED=1
  SANITIZER=$(command -v compute-sanitizer || true)
  if [ -n "$SANITIZER" ]; then
    if [ "$(time_left)" -gt 200 ]; then
      run_stage memcheck 150 "$OUTDIR/sanitizer.log" \
        env NOCTURNE_REQUIRE_ALL_TESTS=1 NOCTURNE_GPU_TEST_SMALL=1 \
        "$SANITIZER" --tool memcheck --error-exitcode 3 "$TEST_BIN" "~[tf32]" || FAILED=1
    else
      STATUS[memcheck]="skipped: out of time"
    fi
    if [ "$(time_left)" -gt 150 ]; then
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
if [ -d "$BUILD" ] && [ "$(time_left)" -gt 130 ]; then
  run_stage ctest 100 "$OUTDIR/ctest.log" \
    ctest --test-dir "$BUILD" -j 8 --timeout 90 --output-on-failure -E test_gpu_backend || true
fi

# ---- benchmark --------------------------------------------------------------------
if [ -n "$BENCH_BIN" ] && [ "$(time_left)" -gt 40 ]; then
  limit=$(($(time_left) - 20))
  [ "$limit" -gt 150 ] && limit=150
  run_stage bench "$limit" "$OUTDIR/bench.log" "$BENCH_BIN" 50 200 || true
else
  STATUS[bench]=${BENCH_BIN:+"skipped: out of time"}
  STATUS[bench]=${STATUS[bench]:-"not built (is bench/gpu.cmake included?)"}
fi

# ---- report -----------------------------------------------------------------------
{
  echo "# Nocturne GPU check"
  echo
  echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ); commit: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "- GPU (nvidia-smi: name, driver, memory, compute capability): ${SMI:-unavailable}"
  echo "- CUDA toolkit: ${NVCC:-nvcc not found}"
  echo "- cuDNN: $CUDNN (the backend does not use it)"
  echo "- total time: $((SECONDS - START)) s"
  echo
  echo "| stage | result |"
  echo "| --- | --- |"
  for stage in configure build build-gpu-targets gpu-tests memcheck racecheck ctest bench; do
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
  if [ "$FAILED" != 0 ] && [ -f "$OUTDIR/build.log" ]; then
    echo "## Build log (errors)"
    echo '```'
    grep -E "error|Error" "$OUTDIR/build.log" | head -30
    echo '```'
  fi
} >"$REPORT"
log "report: $REPORT"
cat "$REPORT"
exit "$FAILED"
