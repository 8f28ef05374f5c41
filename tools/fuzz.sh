#!/usr/bin/env bash
# Fuzzes the readers of user files with libFuzzer: the MIDI reader (with the
# tokenizer and writer behind it), the checkpoint decoder and the token
# decoder. Each target checks the properties of test/fuzz/fuzz_properties.hpp
# under ASan + UBSan; an input that breaks one is kept for replay.
#
# Usage: bash tools/fuzz.sh [seconds-per-target] [target...]
#   seconds-per-target  default 120; targets: midi checkpoint tokens (default all)
# Environment: BUILD_DIR (default build-fuzz), JOBS (fuzzers run side by side,
# default the number of cores), NOCTURNE_CHOPIN_DIR (extra MIDI inputs, read
# only; default ../shared/data/chopin where present).
#
# Output: BUILD_DIR/fuzz/<target>/corpus (what each run learned; the next run
# starts from it), BUILD_DIR/fuzz/<target>/crash-* (inputs that failed) and
# BUILD_DIR/fuzz/<target>.log. Exit 1 when any target failed. A failing input
# becomes a regression test once fixed: copy it into
# test/fuzz/regressions/<target>/ under a name that says what it caught.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"

seconds="${1:-120}"
shift || true
case "$seconds" in "" | *[!0-9]* | 0) echo "fuzz.sh: seconds-per-target must be a positive whole number, got '$seconds'" >&2; exit 2 ;; esac
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(midi checkpoint tokens)
for t in "${targets[@]}"; do
  case "$t" in midi | checkpoint | tokens) ;; *) echo "fuzz.sh: unknown target '$t' (midi, checkpoint, tokens)" >&2; exit 2 ;; esac
done
build="${BUILD_DIR:-build-fuzz}"
jobs="${JOBS:-$(nproc)}"
chopin="${NOCTURNE_CHOPIN_DIR:-$root/../shared/data/chopin}"

bash tools/setup.sh --with-fuzz

echo "== build ($build: clang, libFuzzer, ASan + UBSan)"
cmake -S . -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
      -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNOCTURNE_FUZZ=ON -DNOCTURNE_BENCH=OFF -DNOCTURNE_CLI=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" --target fuzz_write_seeds "${targets[@]/#/fuzz_}"

work="$build/fuzz"
"$build/test/fuzz/fuzz_write_seeds" "$work/seeds"

# run_target NAME: one libFuzzer run; its own log, its own crash folder.
run_target() {
  local name="$1" dir="$work/$1"
  mkdir -p "$dir/corpus"
  local inputs=("$dir/corpus" "$work/seeds/$name" "$root/test/fuzz/regressions/$name")
  [ "$name" = midi ] && [ -d "$chopin" ] && inputs+=("$chopin")
  local existing=()
  for d in "${inputs[@]}"; do [ -d "$d" ] && existing+=("$d"); done
  # -max_len keeps single inputs small enough for thousands of runs a second;
  # -timeout and -rss_limit_mb turn a hang or a runaway allocation into a failure.
  "$build/test/fuzz/fuzz_$name" -max_total_time="$seconds" -max_len=16384 -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$dir/" -print_final_stats=1 "${existing[@]}" >"$work/$name.log" 2>&1
}

echo "== fuzzing ${targets[*]} for $seconds s each, $jobs at a time"
declare -A status
running=0
for t in "${targets[@]}"; do
  rm -f "$work/$t"/crash-* "$work/$t"/timeout-* "$work/$t"/oom-* "$work/$t"/leak-*
  ( run_target "$t" ) &
  status[$t]=$!
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then wait -n || true; running=$((running - 1)); fi
done
failed=0
for t in "${targets[@]}"; do
  wait "${status[$t]}" || true
  runs=$(grep -o '^stat::number_of_executed_units: *[0-9]*' "$work/$t.log" | grep -o '[0-9]*$' || echo "?")
  found=$(find "$work/$t" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'timeout-*' -o -name 'oom-*' -o -name 'leak-*' \) | sort)
  if [ -n "$found" ]; then
    failed=1
    echo "$t: FAILED after $runs runs; inputs kept:"
    while IFS= read -r input; do echo "  $input"; done <<<"$found"
    grep -m1 -E 'PropertyFailure|ERROR: (AddressSanitizer|libFuzzer|UndefinedBehaviorSanitizer)|runtime error|terminate called' \
      "$work/$t.log" | sed 's/^/  /' || true
    echo "  log: $work/$t.log; replay: $build/test/fuzz/fuzz_$t <input>"
  else
    echo "$t: passed, $runs runs in $seconds s (corpus: $(find "$work/$t/corpus" -type f | wc -l) inputs)"
  fi
done
exit "$failed"
