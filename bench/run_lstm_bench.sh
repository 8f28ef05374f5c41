#!/usr/bin/env bash
# Runs the LSTM layer benchmark of Nocturne (bench_lstm: ours, and cuDNN on a
# GPU or oneDNN on the CPU) and of PyTorch (bench/torch_lstm.py) on the same
# shapes in one call, and prints one merged table: per shape and phase the
# medians of ours, of the best cuDNN algorithm and math type, of oneDNN and of
# PyTorch, with the speed-ups (their time over ours: above 1 means ours is
# faster).
#
#   bench/run_lstm_bench.sh [BUILD_DIR] [-- ARGS for both, e.g. --device cpu --quick]
#
# BUILD_DIR (default: build) holds bench/bench_lstm. Results go to
# ${OUT_DIR:-BUILD_DIR/bench}/lstm-{ours,torch}.{csv,json}. PyTorch runs with
# the first of $PYTHON, python3, /usr/bin/python3 that can import torch and is
# skipped with a message when none can (Debian: apt-get install -y python3-torch).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/bench_env.sh"
parse_build_args "$@"
find_bench bench_lstm
out_dir="${OUT_DIR:-$build/bench}"
mkdir -p "$out_dir"

print_machine
echo "== Nocturne: $bench ${args[*]}"
status=0
"$bench" "${args[@]}" --csv "$out_dir/lstm-ours.csv" --json "$out_dir/lstm-ours.json" || status=$?
if [[ ! -s "$out_dir/lstm-ours.json" ]]; then
  echo "bench_lstm wrote no results (exit $status)" >&2
  exit 1
fi

find_torch_python
rm -f "$out_dir/lstm-torch.json" "$out_dir/lstm-torch.csv"
if [[ -z "$python" ]]; then
  echo "== PyTorch: skipped (no python3 here can import torch; Debian: apt-get install -y python3-torch)"
else
  echo "== PyTorch: $python $here/torch_lstm.py ${args[*]}"
  "$python" "$here/torch_lstm.py" "${args[@]}" --csv "$out_dir/lstm-torch.csv" --json "$out_dir/lstm-torch.json" ||
    echo "== PyTorch run failed (exit $?): its column stays empty"
fi

merger="$(command -v python3 || command -v /usr/bin/python3 || true)"
if [[ -z "$merger" ]]; then
  echo "no python3 to merge the tables; results are in $out_dir" >&2
  exit "$status"
fi
"$merger" - "$out_dir/lstm-ours.json" "$out_dir/lstm-torch.json" <<'PY'
import json, math, os, sys

def load(path):
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)

ours, torch = load(sys.argv[1]), load(sys.argv[2])
best = {}  # (shape, phase) -> column -> (ms, variant)
order = []
def note(doc, column_of):
    for r in (doc or {}).get("rows", []):
        if r["status"] != "ok" or r["median_ms"] is None:
            continue
        key = (f"T{r['T']} N{r['N']} F{r['F']} H{r['H']}", r["phase"])
        if key not in best:
            best[key] = {}
            order.append(key)
        for col in column_of(r):
            cur = best[key].get(col)
            if cur is None or r["median_ms"] < cur[0]:
                best[key][col] = (r["median_ms"], r["variant"])

def column_of_ours(r):
    if r["impl"] == "ours":
        return ["ours_fp32" if r["math"] == "fp32" else "ours_tf32", "ours_best"]
    return ["onednn" if r["impl"] == "onednn" else "cudnn_best"]
note(ours, column_of_ours)
note(torch, lambda r: ["torch"])
for doc in (ours, torch):
    if doc:
        print(f"# {doc['tool']}: " + ", ".join(f"{k} {v}" for k, v in doc["meta"].items()))
fmt = "{:<22} {:<17} {:>10} {:>10} {:>11} {:>10} {:>10} {:>9} {:>10} {:>11}  {}"
print(fmt.format("shape", "phase", "ours fp32", "ours best", "cuDNN best", "oneDNN", "PyTorch", "vs cuDNN",
                 "vs oneDNN", "vs PyTorch", "best cuDNN variant"))
def ms(c):
    return f"{c[0]:.4g}" if c else "-"
def speedup(theirs, mine):
    return f"{theirs[0] / mine[0]:.2f}x" if theirs and mine and mine[0] > 0 else "-"
for key in order:
    c = best[key]
    print(fmt.format(key[0], key[1], ms(c.get("ours_fp32")), ms(c.get("ours_best")), ms(c.get("cudnn_best")),
                     ms(c.get("onednn")), ms(c.get("torch")), speedup(c.get("cudnn_best"), c.get("ours_best")),
                     speedup(c.get("onednn"), c.get("ours_best")), speedup(c.get("torch"), c.get("ours_best")),
                     (c.get("cudnn_best") or (0, ""))[1]))
print("(ms per layer call, medians; vs X = X's time / ours (best variant of each): above 1 means ours is faster)")
PY
exit "$status"
