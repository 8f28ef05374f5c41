#!/usr/bin/env bash
# Runs the CPU training benchmark of Nocturne, of PyTorch and of Keras in one
# go and prints their figures side by side with Nocturne's speed-up over each
# (their time over Nocturne's; for rates, Nocturne's over theirs): above 1
# means Nocturne is faster.
#
#   bench/run_cpu_bench.sh [BUILD_DIR] [-- ARGS, e.g. --reps 3 --sgemm-reps 1]
#
# ARGS all go to bench_training_cpu (--reps, --warmup, --gen-reps,
# --sgemm-reps, each with a value). bench/torch_training_cpu.py gets only the
# ones it declares (--reps, --warmup, --gen-reps) with their values; the
# others (--sgemm-reps) are bench-only and are not passed to it.
# bench/keras_training_cpu.py takes the same ones.
#
# BUILD_DIR (default: build) holds bench/bench_training_cpu. The PyTorch half
# runs with the first of $PYTHON, python3, /usr/bin/python3 that can import
# torch, and is skipped with a message when none can (Debian: apt-get install
# -y python3-torch); the Keras half likewise with the first that can import
# keras and tensorflow. The default run takes well under two minutes on an idle
# 2-core machine; --reps N and --gen-reps N shorten or lengthen it.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/bench_env.sh"
parse_build_args "$@"
find_bench bench_training_cpu
print_machine
echo "== Nocturne: $bench ${args[*]}"
ours="$("$bench" "${args[@]}")"
echo "$ours"

# The options torch_training_cpu.py's argparse declares; each takes one value.
torch_args=()
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[i]}" in
    --reps | --warmup | --gen-reps)
      torch_args+=("${args[i]}")
      if ((i + 1 < ${#args[@]})); then torch_args+=("${args[i + 1]}"); ((i += 1)); fi ;;
  esac
done

find_torch_python
theirs=""
if [[ -z "$python" ]]; then
  echo "== PyTorch: skipped (no python3 here can import torch; Debian: apt-get install -y python3-torch)"
else
  echo "== PyTorch: $python $here/torch_training_cpu.py ${torch_args[*]}"
  theirs="$("$python" "$here/torch_training_cpu.py" "${torch_args[@]}")"
  echo "$theirs"
fi

find_keras_python
keras=""
if [[ -z "$keras_python" ]]; then
  echo "== Keras: skipped (no python3 here can import keras and tensorflow)"
else
  echo "== Keras: $keras_python $here/keras_training_cpu.py ${torch_args[*]}"
  keras="$("$keras_python" "$here/keras_training_cpu.py" "${torch_args[@]}" 2>/dev/null)"
  echo "$keras"
fi

value() {  # value KEY TEXT: the number of `RESULT KEY=...` in TEXT
  printf '%s\n' "$2" | sed -n "s/^RESULT $1=//p" | head -n1
}

speedup() {  # speedup KIND OURS THEIRS
  if [[ -n "$2" && -n "$3" ]]; then
    awk -v a="$2" -v b="$3" -v k="$1" 'BEGIN { printf "%.2fx", k == "time" ? b / a : a / b }'
  else
    printf -- "-"
  fi
}

echo
echo "== side by side (same machine, same run)"
printf '%-32s %12s %12s %12s %12s %12s\n' "figure" "Nocturne" "PyTorch" "Keras" "vs PyTorch" "vs Keras"
for row in "time:train_step_ms:training step, ms" "rate:windows_per_s:windows per second" \
           "rate:train_gflops:training GFLOP/s" "time:note_ms:generation, ms per note"; do
  kind="${row%%:*}" rest="${row#*:}"
  key="${rest%%:*}" label="${rest#*:}"
  a="$(value "$key" "$ours")" b="$(value "$key" "$theirs")" k="$(value "$key" "$keras")"
  printf '%-32s %12s %12s %12s %12s %12s\n' "$label" "${a:--}" "${b:--}" "${k:--}" "$(speedup "$kind" "$a" "$b")" \
    "$(speedup "$kind" "$a" "$k")"
done
for row in "train_step_bf16_ms:training step bf16, ms" "note_bf16_ms:generation bf16, ms per note"; do
  a="$(value "${row%%:*}" "$ours")"
  if [[ -n "$a" ]]; then printf '%-32s %12s\n' "${row#*:}" "$a"; fi
done
echo "cblas_sgemm 2048^3, same run: $(value sgemm_gflops "$ours") GFLOP/s"
