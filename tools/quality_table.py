#!/usr/bin/env python3
"""The measured table of docs/quality.md: train each named setting with the
same seed and by-piece split, evaluate it on the held-out pieces, generate
pieces from it and measure them, and write one markdown table.

Usage:
  python3 tools/quality_table.py --nocturne build/nocturne --data ../shared/data/chopin \\
      --work runs/quality --table quality-table.md \\
      --setting 'scalar=--preset small' \\
      --setting 'embedding=--preset small --input embedding' \\
      --setting 'embedding, transpose -5..6=--preset small --input embedding --transpose -5..6'

Every setting trains with --split piece --heldout 0.2 --seed 1 --device cpu
--threads 1 (and --epochs from --epochs unless the setting gives its own), in
<work>/<slug>. A run folder that exists is resumed (a finished one is only
measured again), so an interrupted table continues where it stopped.
A setting may start from a checkpoint (train --init-from) that a --pretrain
run wrote first: the text {work} in options is replaced by the --work folder.
A --pretrain run is trained with its own options only (its --data
included) and is not measured.
Only the Python standard library is used; every measure comes from the
nocturne program (history.csv, `evaluate --json`).
"""

import argparse
import csv
import json
import math
import os
import re
import shlex
import statistics
import subprocess
import sys

# The Chopin corpus's 36 pieces trained, 12 held out (--heldout 0.25 would hold out 14).
COMMON = ["--split", "piece", "--heldout", "0.2", "--seed", "1", "--device", "cpu"]


def slug(name):
    return re.sub(r"[^A-Za-z0-9.+-]+", "-", name).strip("-").lower() or "setting"


def run(cmd, log):
    """Runs cmd, appending its output to log; exits with its message on failure."""
    with open(log, "a", encoding="utf-8") as out:
        out.write("$ " + " ".join(shlex.quote(c) for c in cmd) + "\n")
        out.flush()
        result = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=out, text=True)
        out.write(result.stdout)
    if result.returncode != 0:
        with open(log, encoding="utf-8", errors="replace") as f:
            last = [line.strip() for line in f if line.strip()][-1:]
        sys.exit(f"quality_table: {' '.join(cmd[:2])} failed (exit {result.returncode}): {' '.join(last)}; see {log}")
    return result.stdout


def history(folder):
    with open(os.path.join(folder, "history.csv"), newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def measure(args, name, options):
    folder = os.path.join(args.work, slug(name))
    log = os.path.join(args.work, slug(name) + ".log")
    shown = options.strip()
    options = shlex.split(options.replace("{work}", args.work))
    if not any(o == "--epochs" for o in options):
        options += ["--epochs", str(args.epochs)]
        shown += f" --epochs {args.epochs}"
    threads = ["--threads", str(args.threads)]
    if os.path.exists(os.path.join(folder, "last.ckpt")):
        run([args.nocturne, "train", "--resume", folder] + threads, log)
    else:
        run([args.nocturne, "train", "--data", args.data, "--out", folder] + COMMON + threads + options, log)
    rows = history(folder)
    generated = os.path.join(folder, "generated")
    if not os.path.isdir(generated):
        run([args.nocturne, "generate", "--model", folder, "--count", str(args.pieces), "--notes", str(args.notes),
             "--temperature", str(args.temperature), "--seed", "1", "--no-audio", "--no-score", "--out",
             generated, "--device", "cpu"] + threads, log)
    report = json.loads(run([args.nocturne, "evaluate", "--model", folder, "--generated", generated, "--json",
                             "--device", "cpu"] + threads, log))
    best = min(rows, key=lambda r: float(r["val_loss"]))
    last = rows[-1]
    pieces = report["generated"]
    copies = sorted(p["longest_copy"] for p in pieces)
    return {
        "name": name,
        "folder": folder,
        "options": shown,
        "heldout_pieces": report["heldout_pieces"],
        "windows": report["windows"],
        "best_epoch": int(best["epoch"]),
        "epochs": len(rows),
        "cross_entropy": report["cross_entropy"],
        "perplexity": report["perplexity"],
        "top1": report["top1"],
        "top5": report["top5"],
        "seconds_per_epoch": statistics.mean(float(r["seconds"]) for r in rows),
        "last_val_loss": float(last["val_loss"]),
        "last_loss": float(last["loss"]),
        "js_bits": statistics.mean(p["js_divergence_bits"] for p in pieces),
        "repetition": statistics.mean(p["repetition_rate"] for p in pieces),
        "distinct4": statistics.mean(p["distinct_4gram_ratio"] for p in pieces),
        "copy_median": statistics.median(copies),
        "copy_max": copies[-1],
    }


def table(results, args):
    lines = [
        "| setting | best epoch (of) | held-out cross-entropy | perplexity | top-1 | top-5 | s / epoch (CPU, 1 thread) "
        "| last epoch: val / train loss | pitch-class JS (bits) | repetition | distinct 4-grams "
        "| longest copy (median, max) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        lines.append(
            f"| {r['name']} | {r['best_epoch']} ({r['epochs']}) | {r['cross_entropy']:.3f} nats "
            f"| {r['perplexity']:.1f} "
            f"| {100 * r['top1']:.1f} % | {100 * r['top5']:.1f} % | {r['seconds_per_epoch']:.1f} "
            f"| {r['last_val_loss']:.2f} / {r['last_loss']:.2f} | {r['js_bits']:.3f} | {r['repetition']:.3f} "
            f"| {r['distinct4']:.3f} | {r['copy_median']:g}, {r['copy_max']} |")
    lines.append("")
    lines.append(f"Held-out: {results[0]['heldout_pieces']} pieces, {results[0]['windows']} windows (best.ckpt of each "
                 f"run, untransposed). Generated: {args.pieces} pieces of {args.notes} notes at temperature "
                 f"{args.temperature}, seed 1, from held-out primers. Options per setting:")
    lines.append("")
    for r in results:
        lines.append(f"- {r['name']}: `{r['options']}`")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nocturne", default="nocturne", help="the nocturne program")
    parser.add_argument("--data", required=True, help="the MIDI folder (the Chopin corpus)")
    parser.add_argument("--work", required=True, help="folder for the runs and logs")
    parser.add_argument("--setting", action="append", required=True, metavar="NAME=OPTIONS",
                        help="a row: its name and its train options")
    parser.add_argument("--pretrain", action="append", default=[], metavar="NAME=OPTIONS",
                        help="a run to train first, in <work>/<name>, with exactly these train options")
    parser.add_argument("--epochs", type=int, default=12, help="epochs unless a setting says (12)")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (1)")
    parser.add_argument("--pieces", type=int, default=8, help="generated pieces per setting (8)")
    parser.add_argument("--notes", type=int, default=300, help="notes per generated piece (300)")
    parser.add_argument("--temperature", type=float, default=1.0, help="sampling temperature (1.0)")
    parser.add_argument("--table", help="write the markdown table here (default: print it)")
    parser.add_argument("--json", help="write every measure here as JSON")
    args = parser.parse_args()
    settings = []
    for s in args.setting:
        name, sep, options = s.partition("=")
        if not sep or not name.strip():
            sys.exit(f"quality_table: --setting '{s}': expected NAME=OPTIONS")
        settings.append((name.strip(), options))
    if len({slug(n) for n, _ in settings}) != len(settings):
        sys.exit("quality_table: two settings have the same name")
    os.makedirs(args.work, exist_ok=True)
    for p in args.pretrain:
        name, sep, options = p.partition("=")
        if not sep or not name.strip():
            sys.exit(f"quality_table: --pretrain '{p}': expected NAME=OPTIONS")
        folder = os.path.join(args.work, slug(name))
        log = os.path.join(args.work, slug(name) + ".log")
        print(f"quality_table: pretraining {name}", file=sys.stderr, flush=True)
        if os.path.exists(os.path.join(folder, "last.ckpt")):
            run([args.nocturne, "train", "--resume", folder, "--threads", str(args.threads)], log)
        else:
            run([args.nocturne, "train", "--out", folder, "--threads", str(args.threads)] +
                shlex.split(options.replace("{work}", args.work)), log)
    results = []
    for name, options in settings:
        print(f"quality_table: {name}", file=sys.stderr, flush=True)
        results.append(measure(args, name, options))
        if args.json:  # after each row, so a long table shows its progress
            with open(args.json, "w", encoding="utf-8") as f:
                json.dump(results, f, indent=2)
    text = table(results, args)
    if args.table:
        with open(args.table, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
