#!/usr/bin/env bash
# tools/quality_table.py end to end on the demo corpus with a tiny model: a
# pretraining run, a transposed setting and a fine-tuned one; the table has a
# row per setting whose figures are those `nocturne evaluate --json` and
# history.csv give for the run; a rerun resumes instead of training again;
# malformed settings are refused.
#   bash test/tools/test_quality_table.sh <tools/quality_table.py> <nocturne> <python3>
set -uo pipefail
script=$(realpath "${1:?usage: test_quality_table.sh <quality_table.py> <nocturne> <python3>}")
nocturne=$(realpath "${2:?}")
python=${3:?}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
failures=0
fail() { echo "FAILED: $*" >&2; failures=$((failures + 1)); }

"$nocturne" demo-corpus "$scratch/data" --count 12 >/dev/null || { echo "FAILED: demo-corpus" >&2; exit 1; }
sizes="--hidden1 8 --hidden2 8 --dense 8 --embedding-dim 4 --window 8 --batch 64 --input embedding"
tiny="$sizes --min-count 2"
table() {
  "$python" "$script" --nocturne "$nocturne" --data "$scratch/data" --work "$scratch/work" --epochs 2 --pieces 2 \
    --notes 12 --pretrain "source=--data $scratch/data $sizes --min-count 20 --epochs 1" \
    --setting "plain=$tiny" --setting "keys -2..2=$tiny --transpose 2" \
    --setting "tuned=$tiny --init-from {work}/source/last.ckpt" \
    --table "$scratch/table.md" --json "$scratch/results.json" 2>"$scratch/stderr"
}
table || fail "quality_table.py exited $?: $(cat "$scratch/stderr")"
[ "$(grep -c '^| plain \|^| keys -2..2 \|^| tuned ' "$scratch/table.md")" = 3 ] || fail "three rows expected:
$(cat "$scratch/table.md")"
grep -q -- "- tuned: \`$tiny --init-from {work}/source/last.ckpt --epochs 2\`" "$scratch/table.md" ||
  fail "the options of a row are listed as given"
for run in plain keys--2..2 tuned; do
  [ -f "$scratch/work/$run/best.ckpt" ] || fail "$run: no run folder"
done
# The figures are the program's own: evaluate --json on each run, the means of history.csv.
"$python" - "$scratch" "$nocturne" <<'PY' || fail "the table's figures differ from the program's"
import csv, json, math, subprocess, sys
scratch, nocturne = sys.argv[1], sys.argv[2]
results = json.load(open(f"{scratch}/results.json"))
assert [r["name"] for r in results] == ["plain", "keys -2..2", "tuned"], results
for r, folder in zip(results, ["plain", "keys--2..2", "tuned"]):
    run = f"{scratch}/work/{folder}"
    assert r["folder"] == run, (r["folder"], run)
    report = json.loads(subprocess.run([nocturne, "evaluate", "--model", run, "--generated", f"{run}/generated",
                                        "--json", "--device", "cpu"], capture_output=True, text=True, check=True).stdout)
    rows = list(csv.DictReader(open(f"{run}/history.csv")))
    assert r["epochs"] == len(rows) == 2, r
    assert r["cross_entropy"] == report["cross_entropy"] and r["top5"] == report["top5"], (r, report)
    assert abs(r["perplexity"] - math.exp(r["cross_entropy"])) < 1e-9 * r["perplexity"], r
    assert r["best_epoch"] == int(min(rows, key=lambda x: float(x["val_loss"]))["epoch"]), r
    assert abs(r["seconds_per_epoch"] - sum(float(x["seconds"]) for x in rows) / 2) < 1e-9, r
    assert len(report["generated"]) == 2 and r["copy_max"] == max(p["longest_copy"] for p in report["generated"]), r
meta = json.loads(subprocess.run([nocturne, "info", "--json", f"{scratch}/work/tuned/last.ckpt"], capture_output=True,
                                 text=True, check=True).stdout)["checkpoint"]["metadata"]
assert meta["init_from"]["checkpoint"].endswith("/source/last.ckpt"), meta["init_from"]
assert meta["settings"]["transpose"] == "0"
keys = json.loads(subprocess.run([nocturne, "info", "--json", f"{scratch}/work/keys--2..2/last.ckpt"],
                                 capture_output=True, text=True, check=True).stdout)["checkpoint"]["metadata"]
assert keys["settings"]["transpose"] == "2"
PY
# A rerun resumes the finished runs: the same table, nothing trained again.
cp "$scratch/table.md" "$scratch/first.md"
before=$(stat -c %Y "$scratch/work/plain/last.ckpt")
table || fail "the rerun exited $?: $(cat "$scratch/stderr")"
cmp -s "$scratch/table.md" "$scratch/first.md" || fail "the rerun's table differs"
[ "$(stat -c %Y "$scratch/work/plain/last.ckpt")" = "$before" ] || fail "the rerun trained again"
# Malformed settings.
out=$("$python" "$script" --data "$scratch/data" --work "$scratch/w2" --setting "no options" 2>&1) &&
  fail "a setting without NAME=OPTIONS was taken"
[[ $out == *"expected NAME=OPTIONS"* ]] || fail "the refusal says what is expected: $out"
out=$("$python" "$script" --data "$scratch/data" --work "$scratch/w2" --setting "a b=x" --setting "a-b=y" 2>&1) &&
  fail "two settings in one folder were taken"
[[ $out == *"same name"* ]] || fail "the refusal names the clash: $out"

[ "$failures" = 0 ] && echo "test_quality_table: all checks passed"
exit $((failures > 0))
