#!/usr/bin/env bash
# One-call GPU check for a machine with an NVIDIA GPU, within a time budget
# (default 450 s, so that one call of at most 8 minutes holds it with the
# machine's start around it): configure and build with the CUDA backend
# (Release, for the GPU that nvidia-smi reports), then, most valuable first,
# the GPU tests with skips turned into failures (the fused path's first), the
# GPU benchmark (bench_gpu: its decisive rows first), the cuDNN tests,
# compute-sanitizer memcheck and racecheck on reduced shapes, the LSTM layer
# suite (ours, every cuDNN algorithm, PyTorch's nn.LSTM), and ctest for the
# rest. Writes a
# markdown report with the versions, where each dependency came from, and the
# results, and ends by printing a short summary.
#
#   bash tools/gpu-check.sh            # results in ${OUT:-build-gpu}/
#   BUILD_DIR=... JOBS=... GPU_CHECK_BUDGET=... bash tools/gpu-check.sh
#
# What lands in ${OUT:-BUILD_DIR} (at most 7 files, no folders): gpu-report.md,
# gpu-logs.tar.gz (every log; the logs themselves are in BUILD_DIR/gpu-logs/)
# and the LSTM suite's lstm-ours.{csv,json} and lstm-torch.{csv,json}.
#
# Time: each stage has its own limit, cut to what the budget has left; a stage
# that cannot start in time is reported "skipped: out of time", one stopped at
# the budget's end "out of time".
#
# Prebuilt programs: where gpu-prebuilt/ (tools/gpu-prebuild.sh, made on a
# machine without a GPU) was built from the very sources of this tree, for
# this GPU's architecture, and its programs' libraries all load here, the check
# runs them and skips configure and build (GPU_CHECK_PREBUILT=0: build anyway).
#
# Dependencies: with package access it runs tools/setup.sh --without-lilypond (Debian packages).
# A machine without package access needs the kit that tools/gpu-deps.sh makes
# (gpu-deps/, copied along with the repository): its .deb files are unpacked
# with dpkg-deb into a private prefix (DEPS_PREFIX, default /tmp/nocturne-deps)
# and CMake is pointed at it; nothing is installed. When the kit is present it
# is used, with package access or without. cuDNN is taken from
# NOCTURNE_CUDNN_ROOT when set, else the CUDA toolkit, else the system, else
# the Python wheel nvidia-cudnn (site-packages/nvidia/cudnn on python3's path).
#
# Other variables: GPU_CHECK_BUDGET=S the whole run's budget in seconds;
# GPU_CHECK_SKIP="STAGE ..." leaves out some of gpu-tests, cudnn-tests, bench,
# lstm-bench, memcheck, racecheck and ctest (a second, shorter call: the
# sanitizers alone, say); a stage left out reads "skipped: GPU_CHECK_SKIP"
# and does not decide the exit status;
# PACKAGE_ACCESS=0|1 skips the 5-second probe of apt's mirror; TIME_SCALE=N
# multiplies every stage's time limit and the default budget (slow machines);
# GPU_DEPS_DIR names another kit folder.
#
# Exit status: 0 when the build and every GPU test stage passed (gpu-tests,
# cudnn-tests where cuDNN was found, memcheck and racecheck unless they were
# unavailable or out of time), 1 otherwise. build-rest, ctest and the benchmarks are
# reported but do not decide it. The report and the archive are written
# either way.
# shellcheck disable=SC2317  # the report's functions run from the EXIT trap
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
BUDGET=${GPU_CHECK_BUDGET:-$((450 * TIME_SCALE))}
case "$BUDGET" in
  "" | *[!0-9]* | 0) echo "gpu-check.sh: GPU_CHECK_BUDGET must be a positive number of seconds" >&2; exit 1 ;;
esac
SKIP=" ${GPU_CHECK_SKIP:-} "
for stage in $SKIP; do
  case "$stage" in
    gpu-tests | cudnn-tests | bench | lstm-bench | memcheck | racecheck | ctest) ;;
    *) echo "gpu-check.sh: GPU_CHECK_SKIP: '$stage' is not a stage that can be left out" \
      "(gpu-tests cudnn-tests bench lstm-bench memcheck racecheck ctest)" >&2; exit 1 ;;
  esac
done
KIT=${GPU_DEPS_DIR:-$ROOT/gpu-deps}
DEPS_PREFIX=${DEPS_PREFIX:-/tmp/nocturne-deps}
LOGS=$BUILD/gpu-logs
mkdir -p "$OUTDIR" "$BUILD" || exit 1
rm -rf "$LOGS" && mkdir -p "$LOGS" || exit 1
# An earlier run's results go first, so that none passes for this run's.
rm -f "$OUTDIR"/gpu-report.md "$OUTDIR"/gpu-logs.tar.gz "$OUTDIR"/lstm-{ours,torch}.{csv,json}
REPORT=$OUTDIR/gpu-report.md
export PATH=/usr/local/cuda/bin:$PATH
START=$SECONDS
FAILED=0

log() { echo "[gpu-check $((SECONDS - START))s] $*" | tee -a "$LOGS/gpu-check.log"; }
time_left() { echo $((BUDGET - (SECONDS - START))); }
RESERVE=$((10 * TIME_SCALE))    # kept back for the report and the archive
MIN_STAGE=$((15 * TIME_SCALE))  # a stage given less than this is not started

# The stages in the order they run, each with its status.
STAGES=(packages setup kit-unpack configure build gpu-tests bench cudnn-tests memcheck racecheck lstm-bench build-rest
        ctest)
declare -A STATUS
# run_stage NAME LIMIT_S COMMAND...: runs COMMAND with its output in
# $LOGS/NAME.log under LIMIT_S x TIME_SCALE, cut to what the budget has left.
# Returns 0 when it passed, 1 when it failed or ran past its own limit, 2 when
# the budget had no time for it or ran out while it ran.
run_stage() {
  local name=$1 limit=$(($2 * TIME_SCALE)) logfile=$LOGS/$1.log cut=""
  shift 2
  case "$SKIP" in
    *" $name "*)
      STATUS[$name]="skipped: GPU_CHECK_SKIP"
      log "$name: skipped (GPU_CHECK_SKIP)"
      return 0 ;;
  esac
  local left=$(($(time_left) - RESERVE))
  if [ "$left" -lt "$MIN_STAGE" ]; then
    STATUS[$name]="skipped: out of time"
    log "$name: skipped, out of time (${left}s left)"
    return 2
  fi
  [ "$left" -lt "$limit" ] && limit=$left cut=", cut to the budget"
  log "$name (limit ${limit}s$cut)"
  echo "\$ $* (limit ${limit}s)" >>"$logfile"
  local t0=$SECONDS rc
  # In the background so that a TERM to the check is handled at once (wait
  # returns), not after the stage.
  timeout --kill-after=5 "$limit" "$@" >>"$logfile" 2>&1 </dev/null &
  STAGE_PID=$! STAGE_NAME=$name
  wait "$STAGE_PID"
  rc=$?
  STAGE_PID=""
  local took=$((SECONDS - t0))
  case "$rc,$cut" in
    0,*) STATUS[$name]="passed, $took s" ;;
    124,?* | 137,?*) STATUS[$name]="out of time: stopped at the budget's end after $took s"; rc=2 ;;
    124,* | 137,*) STATUS[$name]="failed: timed out after $took s (limit ${limit}s)"; rc=1 ;;
    *) STATUS[$name]="failed: exit $rc, $took s"; rc=1 ;;
  esac
  log "$name: ${STATUS[$name]}"
  return "$rc"
}

# Filled in below; set here so that the report can be written at any exit.
ACCESS="not probed" KIT_USED="" CUDNN_FROM="not looked for" CUDNN_ROOT="" NVCC_BIN=""
SMI="not queried" ARCH_NOTE="not chosen (no configure)"
STAGE_PID="" STAGE_NAME=""
# on_signal CODE: stops the running stage (timeout passes the signal on) and exits.
on_signal() {
  if [ -n "$STAGE_PID" ]; then
    kill -TERM "$STAGE_PID" 2>/dev/null
    wait "$STAGE_PID"
    STATUS[$STAGE_NAME]="stopped: the check was terminated"
  fi
  exit "$1"
}
trap finish EXIT
trap 'on_signal 143' TERM
trap 'on_signal 130' INT

# ---- report, archive, summary (at every exit) -------------------------------------
# compute-sanitizer's words when it cannot work on this GPU or machine.
SANITIZER_UNAVAILABLE='Device not supported|[Nn]ot supported on this (device|GPU|platform)|[Uu]nable to (attach|initialize|load|find)|[Cc]ould not (attach|initialize|load)|[Ff]ailed to (attach|initialize|load)'
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
# stage_log NAME: the path of a stage's log where it exists.
stage_log() { [ -s "$LOGS/$1.log" ] && echo "$LOGS/$1.log"; }
# The merged table of bench/run_lstm_bench.sh, from its header lines to its key.
lstm_table() { sed -n '/^# bench_lstm: /,/^(ms per layer call/p' "$LOGS/lstm-bench.log" 2>/dev/null; }
# bench_gpu's output without its per-variant table (the speed-ups and times stay).
bench_key_lines() {
  awk '/^== training step, batch/ { skip = 1; next } skip && /^$/ { skip = 0 } !skip && NF' "$LOGS/bench.log" 2>/dev/null
}
stage_table() {
  echo "| stage | result |"
  echo "| --- | --- |"
  for stage in "${STAGES[@]}"; do
    echo "| $stage | ${STATUS[$stage]:-not run} |"
  done
}
test_totals() {  # Catch2's, compute-sanitizer's and ctest's totals (else a log's last line)
  local name file lines line
  for name in gpu-tests cudnn-tests memcheck racecheck ctest; do
    file=$(stage_log "$name") || continue
    lines=$(grep -E "^(All tests passed|test cases:)|ERROR SUMMARY|RACECHECK SUMMARY|tests passed, " "$file" | head -4)
    while IFS= read -r line; do echo "$name: $line"; done <<<"${lines:-$(tail -n 1 "$file")}"
  done
}

write_report() {
  local cudnn_include cudnn_version="not used" blas_lib gen cuda_compiler file errors
  cudnn_include=$(cache_get NOCTURNE_CUDNN_INCLUDE)
  if [ -f "$cudnn_include/cudnn_version.h" ]; then
    cudnn_version=$(awk '/#define CUDNN_(MAJOR|MINOR|PATCHLEVEL) /{printf "%s%s", sep, $3; sep="."}' "$cudnn_include/cudnn_version.h")
  fi
  blas_lib=$(sed -n 's/^BLAS_[A-Za-z0-9_]*_LIBRARY:FILEPATH=\(.*\)$/\1/p' "$BUILD/CMakeCache.txt" 2>/dev/null | grep -v NOTFOUND | head -1)
  gen=$(cache_get CMAKE_GENERATOR)
  # The nvcc that CMake used (not cached: CMake records it under CMakeFiles/).
  cuda_compiler=$(sed -n 's/^set(CMAKE_CUDA_COMPILER "\(.*\)")$/\1/p' "$BUILD"/CMakeFiles/*/CMakeCUDACompiler.cmake 2>/dev/null | head -1)
  cuda_compiler=${cuda_compiler:-$NVCC_BIN}
  echo "# Nocturne GPU check"
  echo
  echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ); commit: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "- GPU (nvidia-smi: name, driver, memory, compute capability): ${SMI:-unavailable}"
  echo "- driver: $(nvidia-smi --query-gpu=driver_version --format=csv,noheader 2>/dev/null | head -1 | grep . || echo unavailable)"
  echo "- CUDA compiler: $(first_line "$cuda_compiler" release) (${cuda_compiler:-nvcc not found})"
  echo "- CUDA architectures built: $ARCH_NOTE"
  echo "- cuDNN: $cudnn_version (${CUDNN_FROM}: $(cache_get NOCTURNE_CUDNN_LIBRARY | grep -v NOTFOUND || echo "no library"))"
  echo "- C++ compiler: $(first_line "$(cache_get CMAKE_CXX_COMPILER)") ($(cache_get CMAKE_CXX_COMPILER))"
  echo "- CMake: $(first_line cmake) ($(command -v cmake)); generator ${gen:-unknown}$([ "$gen" = Ninja ] && echo " $(ninja --version 2>/dev/null)"), $JOBS jobs"
  echo "- system: $(. /etc/os-release 2>/dev/null && echo "${PRETTY_NAME:-unknown}"), glibc $(ldd --version 2>/dev/null | head -1 | grep -oE '[0-9]+\.[0-9]+$' || echo unknown), $(nproc) cores"
  echo "- packages: package access $ACCESS; kit ${KIT_USED:-not used}"
  echo "- dependencies (kit = unpacked from gpu-deps/ into $DEPS_PREFIX):"
  echo "  - BLAS: $(origin "$blas_lib"); cblas.h: $(origin "$(cache_get NOCTURNE_CBLAS_INCLUDE_DIR)")"
  echo "  - Catch2: $(origin "$(cache_get Catch2_DIR)")"
  echo "  - CLI11: $(origin "$(cache_get CLI11_DIR)")"
  echo "  - nlohmann_json: $(origin "$(cache_get nlohmann_json_DIR)")"
  echo "  - libpng: $(origin "$(cache_get PNG_LIBRARY_RELEASE)"); zlib: $(origin "$(cache_get ZLIB_LIBRARY_RELEASE)")"
  grep -E "^-- Nocturne:" "$LOGS/configure.log" 2>/dev/null | sed 's/^-- Nocturne: /  - configure: /'
  echo "- time: $((SECONDS - START)) s of a ${BUDGET} s budget; logs: gpu-logs.tar.gz (gpu-logs/*.log)"
  echo
  stage_table
  echo
  if file=$(stage_log gpu-tests); then
    echo "## GPU tests (strict FP32 vs the CPU reference; training and TF32 lines)"
    echo '```'
    grep -E "^step |gpu vs cpu|tf32 vs fp32|test cases|assertions|All tests passed|FAILED|SKIPPED|REQUIRE|CHECK\(|with expansion|normalised" \
      "$file" | head -80
    echo '```'
  fi
  if file=$(stage_log cudnn-tests); then
    echo "## cuDNN tests (every algorithm and math mode against ours and the CPU)"
    echo '```'
    grep -E "^cuDNN |not supported|pairs ran|test cases|assertions|All tests passed|FAILED|SKIPPED|with expansion" "$file" | head -60
    echo '```'
  fi
  if file=$(stage_log bench); then
    echo "## Benchmark (bench_gpu --steps 30 --notes 100)"
    echo '```'
    head -c 20000 "$file"
    echo '```'
  fi
  if file=$(stage_log lstm-bench); then
    echo "## LSTM layer suite (bench/run_lstm_bench.sh -- --quick; rows in lstm-{ours,torch}.{csv,json})"
    echo '```'
    if [ -n "$(lstm_table)" ]; then lstm_table; else tail -n 25 "$file"; fi
    echo '```'
  fi
  for name in memcheck racecheck; do
    file=$(stage_log "$name") || continue
    echo "## compute-sanitizer $name"
    echo '```'
    grep -E "ERROR SUMMARY|RACECHECK SUMMARY|LEAK SUMMARY|test cases|All tests passed|$SANITIZER_UNAVAILABLE" "$file" | head -20
    echo '```'
  done
  if file=$(stage_log ctest); then
    echo "## ctest (all but the GPU tests)"
    echo '```'
    grep -E "tests passed|Failed|Not Run|Skipped|\*\*\*" "$file" | head -30
    echo '```'
  fi
  errors=$(cat "$LOGS/configure.log" "$LOGS/build.log" 2>/dev/null | grep -E "error|Error" | head -30)
  if [ "$FAILED" != 0 ] && [ -n "$errors" ]; then
    echo "## Build log (errors)"
    echo '```'
    echo "$errors"
    echo '```'
  fi
}

# pack_logs: every log into one archive (a log over 8 MiB keeps its first 1
# MiB and last 4 MiB, so the archive stays far below 16 MiB).
pack_logs() {
  local f
  for f in "$LOGS"/*.log; do
    [ "$(stat -c %s "$f" 2>/dev/null || echo 0)" -gt $((8 << 20)) ] || continue
    { head -c $((1 << 20)) "$f"; printf '\n[... cut by gpu-check.sh ...]\n'; tail -c $((4 << 20)) "$f"; } >"$f.cut" &&
      mv "$f.cut" "$f"
  done
  tar -czf "$OUTDIR/gpu-logs.tar.gz" -C "$(dirname "$LOGS")" "$(basename "$LOGS")"
}

# check_out: what comes back from OUT is at most 8 files, each at most 16 MiB,
# at most 2 folders down, named with letters, digits, '.', '_' and '-'.
check_out() {
  [ -n "${OUT:-}" ] || return 0  # the build folder itself: nothing to check
  local count bad
  count=$(find "$OUTDIR" -type f | wc -l)
  [ "$count" -le 8 ] || echo "gpu-check.sh: warning: $count files under $OUTDIR, more than 8: some would be lost"
  bad=$( (find "$OUTDIR" -mindepth 1 \( -size +16M -o -name '*[!A-Za-z0-9._-]*' \); find "$OUTDIR" -mindepth 4) | head -5 | paste -sd' ')
  [ -z "$bad" ] || echo "gpu-check.sh: warning: too big, too deep or oddly named under $OUTDIR: $bad"
}

finish() {
  local rc=$?
  trap - EXIT
  [ "$rc" != 0 ] && [ "$FAILED" = 0 ] && FAILED=$rc
  write_report >"$REPORT" 2>/dev/null
  log "report: $REPORT"
  pack_logs || echo "gpu-check.sh: warning: could not pack the logs into $OUTDIR/gpu-logs.tar.gz"
  cat "$REPORT"
  # The summary comes last, so that the end of the output tells the story.
  echo
  echo "==== gpu-check summary: exit $([ "$FAILED" = 0 ] && echo 0 || echo 1), $((SECONDS - START)) s of ${BUDGET} s"
  echo "GPU: $(echo "$SMI" | head -1 | cut -c1-150)"
  echo "CUDA architectures: $ARCH_NOTE"
  stage_table
  echo "-- test totals"
  test_totals | cut -c1-200
  if [ -s "$LOGS/bench.log" ]; then
    echo "-- bench_gpu (without the per-variant table; all of it in the report)"
    bench_key_lines | head -30 | cut -c1-200
  fi
  if [ -s "$LOGS/lstm-bench.log" ]; then
    echo "-- lstm-bench (forward+backward rows; every phase in the report)"
    if [ -n "$(lstm_table)" ]; then
      lstm_table | grep -E "^shape |forward\+backward|^\(ms" | head -24 | cut -c1-200
    else
      tail -n 3 "$LOGS/lstm-bench.log" | cut -c1-200
    fi
  fi
  echo "-- written to $OUTDIR:$(for f in gpu-report.md gpu-logs.tar.gz lstm-{ours,torch}.{csv,json}; do
    [ -f "$OUTDIR/$f" ] && printf ' %s' "$f"; done)"
  check_out
  [ "$FAILED" = 0 ] || exit 1
  exit 0
}

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
ACCESS=no
package_access && ACCESS=yes
STATUS[packages]="package access: $ACCESS, $((SECONDS - t0)) s"
if [ "$ACCESS" = no ]; then
  STATUS[setup]="not run: no package access"
  log "no package access: tools/setup.sh not run"
elif [ -f tools/setup.sh ]; then
  # LilyPond (score PNGs) is left out: the check renders no scores, and its
  # install would take the budget's time.
  log "package access: running tools/setup.sh --without-lilypond"
  run_stage setup 120 bash tools/setup.sh --without-lilypond || log "setup.sh did not pass (see setup.log); going on"
fi

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
else
  STATUS[kit-unpack]="not used: no .deb files in $KIT"
  [ "$ACCESS" = no ] &&
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

# Build for the GPU that is here: one real architecture instead of the default
# three, about half nvcc's work. The default of cmake/NocturneCuda.cmake where
# there is no GPU or nvcc does not know its architecture.
DEFAULT_ARCHS="80-real 90-real 90-virtual"
caps=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | tr -d ' ' | grep -E '^[0-9]+\.[0-9]+$' | sort -u)
archs=""
for cap in $caps; do
  if nvcc --list-gpu-code 2>/dev/null | grep -qx "sm_${cap/./}"; then
    archs+="${archs:+;}${cap/./}-real"
  else
    archs="" ARCH_NOTE="$DEFAULT_ARCHS (the default: nvcc does not list sm_${cap/./} for compute capability $cap)"
    break
  fi
done
if [ -n "$archs" ]; then
  ARCH_ARGS=(-DCMAKE_CUDA_ARCHITECTURES="$archs")
  ARCH_NOTE="$archs (compute capability $(echo "$caps" | paste -sd' ') from nvidia-smi)"
else
  # Drops an architecture cached by an earlier run, so the default applies.
  ARCH_ARGS=(-UCMAKE_CUDA_ARCHITECTURES)
  [ -z "$caps" ] && ARCH_NOTE="$DEFAULT_ARCHS (the default: nvidia-smi reported no compute capability)"
fi

GENERATOR=()
KEEP_GOING=()
if [ -f "$BUILD/CMakeCache.txt" ]; then
  :  # keep the generator the folder was configured with
elif command -v ninja >/dev/null; then
  GENERATOR=(-G Ninja)
fi
find_bin() { find "$BUILD" -name "$1" -type f -perm -u+x 2>/dev/null | head -1; }
GPU_PROGRAMS=(test_gpu_backend test_gpu_cudnn bench_gpu bench_lstm)

# ---- prebuilt GPU programs (tools/gpu-prebuild.sh), when they fit this tree -------
# prebuilt_problem: why gpu-prebuilt/ cannot stand in for the build (empty when it can).
PREBUILT=${GPU_PREBUILT_DIR:-$ROOT/gpu-prebuilt}
prebuilt_problem() {
  [ -f "$PREBUILT/MANIFEST" ] || { echo "no $PREBUILT/MANIFEST"; return; }
  local want have built_arch missing bin
  want=$(sed -n 's/^source-stamp: //p' "$PREBUILT/MANIFEST")
  have=$(bash "$ROOT/tools/source-stamp.sh" 2>/dev/null)
  [ -n "$want" ] && [ "$want" = "$have" ] || { echo "built from other sources (stamp $want, this tree $have)"; return; }
  built_arch=$(sed -n 's/^cuda-architectures: //p' "$PREBUILT/MANIFEST")
  for cap in $caps; do
    [ "${cap/./}-real" = "$built_arch" ] || { echo "built for $built_arch, the GPU is compute $cap"; return; }
  done
  [ -n "$caps" ] || { echo "no compute capability from nvidia-smi"; return; }
  for bin in "$PREBUILT"/test/gpu/test_gpu_backend "$PREBUILT"/bench/bench_gpu "$PREBUILT"/lib/libnocturne-cuda.so; do
    [ -x "$bin" ] || { echo "$bin is missing"; return; }
  done
  for bin in $(find "$PREBUILT" -type f -perm -u+x); do
    missing=$(LD_LIBRARY_PATH="$PREBUILT/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" ldd "$bin" 2>&1 | grep -E "not found" | awk '{print $1}' | sort -u | paste -sd' ')
    [ -z "$missing" ] || { echo "$(basename "$bin") lacks $missing here"; return; }
  done
}
USE_PREBUILT=0
if [ "${GPU_CHECK_PREBUILT:-1}" != 0 ] && [ -d "$PREBUILT" ]; then
  why=$(prebuilt_problem)
  if [ -z "$why" ]; then
    USE_PREBUILT=1
    log "using the prebuilt GPU programs in $PREBUILT ($(sed -n 's/^built: //p' "$PREBUILT/MANIFEST"))"
  else
    log "not using $PREBUILT: $why; building"
  fi
fi

# ---- build ------------------------------------------------------------------------
STATUS[build]="not run: configure did not pass"
if [ "$USE_PREBUILT" = 1 ]; then
  STATUS[configure]="skipped: prebuilt GPU programs"
  STATUS[build]="prebuilt: $(sed -n 's/^commit: //p' "$PREBUILT/MANIFEST"), $(sed -n 's/^nvcc: //p' "$PREBUILT/MANIFEST")"
  ARCH_NOTE="$(sed -n 's/^cuda-architectures: //p' "$PREBUILT/MANIFEST") (prebuilt)"
  # The programs link the CUDA module, which the prebuild puts in lib/.
  export LD_LIBRARY_PATH="$PREBUILT/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  find_bin() { find "$PREBUILT" -name "$1" -type f -perm -u+x 2>/dev/null | head -1; }
elif run_stage configure 120 cmake -S "$ROOT" -B "$BUILD" "${GENERATOR[@]}" -DNOCTURNE_CUDA=ON \
  -DCMAKE_BUILD_TYPE=Release "${ARCH_ARGS[@]}" "${CMAKE_DEPS_ARGS[@]}"; then
  # The GPU programs of an earlier build go, so that a failed build cannot
  # leave old ones to be tested. Everything else keeps going past a failure
  # (ninja -k 0, make -k), so that one broken part does not stop the GPU ones.
  for program in "${GPU_PROGRAMS[@]}"; do
    bin=$(find_bin "$program") && [ -n "$bin" ] && rm -f "$bin"
  done
  case "$(sed -n 's/^CMAKE_GENERATOR:[A-Z]*=//p' "$BUILD/CMakeCache.txt")" in
    Ninja*) KEEP_GOING=(-k 0) ;;
    *Makefiles) KEEP_GOING=(-k) ;;
    *) KEEP_GOING=() ;;
  esac
  # The GPU programs alone first, so that the GPU stages start as early as
  # possible; the rest of the build waits for ctest (build-rest).
  # (A target this configuration has gets a CMakeFiles/<target>.dir folder,
  # whatever the generator.)
  GPU_TARGETS=()
  for program in "${GPU_PROGRAMS[@]}"; do
    [ -n "$(find "$BUILD" -type d -name "$program.dir" -print -quit 2>/dev/null)" ] && GPU_TARGETS+=("$program")
  done
  if [ ${#GPU_TARGETS[@]} -gt 0 ]; then
    run_stage build 300 cmake --build "$BUILD" -j "$JOBS" --target "${GPU_TARGETS[@]}" -- "${KEEP_GOING[@]}" ||
      FAILED=1
  else
    run_stage build 300 cmake --build "$BUILD" -j "$JOBS" -- "${KEEP_GOING[@]}" || FAILED=1
  fi
else
  FAILED=1
fi
# not_built WHY: the status of a stage whose program is missing.
not_built() { case "${STATUS[build]}" in passed*) echo "not built ($1)" ;; *) echo "not built: the build did not pass" ;; esac; }
TEST_BIN=$(find_bin test_gpu_backend)
CUDNN_BIN=$(find_bin test_gpu_cudnn)
BENCH_BIN=$(find_bin bench_gpu)
LSTM_BIN=$(find_bin bench_lstm)

# ---- GPU tests and benchmarks, most valuable first ----------------------------------
if [ -n "$TEST_BIN" ]; then
  # The fused path's tests first, so that a time-out later cannot take their
  # result with it.
  run_stage gpu-tests 180 env NOCTURNE_REQUIRE_ALL_TESTS=1 bash -c \
    '"$0" "[fused]" --durations yes; first=$?; "$0" "~[fused]" --durations yes; exit $((first | $?))' \
    "$TEST_BIN" || FAILED=1
else
  STATUS[gpu-tests]=$(not_built "not in this build")
  FAILED=1
fi
# The training step of every implementation and precision, the per-phase
# table, the 200-epoch projection and ms per note: its decisive rows print
# first, so a stage cut short still shows them.
if [ -n "$BENCH_BIN" ]; then
  run_stage bench 120 "$BENCH_BIN" --steps 30 --notes 100
else
  STATUS[bench]=$(not_built "is bench/gpu.cmake included?")
fi
# cuDNN against our kernels and the CPU: every algorithm and math mode.
if [ -n "$CUDNN_BIN" ]; then
  # The recipe-training test first: the layer test after it builds up to 24
  # PERSIST_DYNAMIC kernels (NVRTC) of unknown cost, and a time-out there
  # must not take the training result with it.
  run_stage cudnn-tests 150 env NOCTURNE_REQUIRE_ALL_TESTS=1 bash -c \
    '"$0" "[training]" --durations yes; first=$?; "$0" "~[training]" --durations yes; exit $((first | $?))' \
    "$CUDNN_BIN" || FAILED=1
elif grep -q '^NOCTURNE_CUDNN_LIBRARY:FILEPATH=/' "$BUILD/CMakeCache.txt" 2>/dev/null; then
  STATUS[cudnn-tests]=$(not_built "cuDNN was found at configure")
  FAILED=1
else
  STATUS[cudnn-tests]="not built (no cuDNN found at configure)"
fi

# compute-sanitizer on reduced shapes. A machine where it cannot attach to the
# GPU (SANITIZER_UNAVAILABLE in its log) makes the stage "unavailable", not
# failed; otherwise an error summary (exit 3) fails it.
run_sanitizer() {
  local name=$1 reason
  run_stage "$@"
  local rc=$?
  [ "$rc" = 2 ] && return 0  # out of time: reported, not a failure
  reason=$(grep -m1 -E "$SANITIZER_UNAVAILABLE" "$LOGS/$name.log" 2>/dev/null | sed 's/^=* *//' | tr '|' '/' | cut -c1-160)
  if [ -n "$reason" ]; then
    STATUS[$name]="unavailable: $reason"
    log "$name: ${STATUS[$name]}"
  elif [ "$rc" != 0 ]; then
    FAILED=1
  fi
}
SANITIZER=$(command -v compute-sanitizer || true)
if [ -z "$TEST_BIN" ]; then
  STATUS[memcheck]="not run: test_gpu_backend not built"
  STATUS[racecheck]=${STATUS[memcheck]}
elif [ -z "$SANITIZER" ]; then
  STATUS[memcheck]="skipped: compute-sanitizer not found"
  STATUS[racecheck]=${STATUS[memcheck]}
else
  run_sanitizer memcheck 120 env NOCTURNE_REQUIRE_ALL_TESTS=1 NOCTURNE_GPU_TEST_SMALL=1 \
    "$SANITIZER" --tool memcheck --error-exitcode 3 "$TEST_BIN" "~[tf32]"
  run_sanitizer racecheck 100 env NOCTURNE_REQUIRE_ALL_TESTS=1 NOCTURNE_GPU_TEST_SMALL=1 \
    "$SANITIZER" --tool racecheck --error-exitcode 3 "$TEST_BIN" "~[training]"
fi

# The LSTM layer suite: ours, every cuDNN algorithm and PyTorch, quick sweep.
if [ -n "$LSTM_BIN" ]; then
  run_stage lstm-bench 150 env OUT_DIR="$OUTDIR" bash "$ROOT/bench/run_lstm_bench.sh" \
    "$([ "$USE_PREBUILT" = 1 ] && echo "$PREBUILT" || echo "$BUILD")" -- --quick
else
  STATUS[lstm-bench]=$(not_built "bench_lstm needs NOCTURNE_BENCH=ON")
fi

# The rest of the test suite (CPU tests, which CI runs too; corpus tests skip
# where it is absent): reported, not counted in the exit status.
if [ "$USE_PREBUILT" = 1 ]; then
  STATUS[build-rest]="not run: prebuilt GPU programs (CI runs the other tests)"
  STATUS[ctest]=${STATUS[build-rest]}
elif [ -f "$BUILD/CTestTestfile.cmake" ]; then
  case "$SKIP" in
    *" ctest "*) STATUS[build-rest]="skipped: GPU_CHECK_SKIP (ctest)" ;;
    *) run_stage build-rest 240 cmake --build "$BUILD" -j "$JOBS" -- "${KEEP_GOING[@]}" ;;
  esac
  run_stage ctest 100 ctest --test-dir "$BUILD" -j "$JOBS" --timeout $((90 * TIME_SCALE)) --output-on-failure \
    -E 'test_gpu_backend|test_gpu_cudnn'
else
  STATUS[ctest]="not run: no configured build"
fi
exit "$FAILED"
