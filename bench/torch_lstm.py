#!/usr/bin/env python3
"""PyTorch's nn.LSTM on the shapes of bench_lstm (bench/bench_lstm.cpp), timed
the same way and written in the same CSV/JSON format, so that
bench/run_lstm_bench.sh can put ours, cuDNN and PyTorch side by side.

One layer, float32, time-major [T, N, F], zero initial state; phases:
  forward           out, _ = lstm(x)                  (autograd graph kept)
  backward          out.backward(dh) after an untimed forward
  forward+backward  both
--device cuda: torch.backends.cudnn enabled with PyTorch's defaults (TF32
  allowed for cuDNN, as PyTorch picks: CUDNN_DEFAULT_MATH, algorithm STANDARD);
  CUDA events around each repetition after a warm-up.
--device cpu: time.perf_counter; each shape with torch.set_num_threads(1) and
  with one thread per core, the faster (by forward+backward median) reported;
  --threads N times N threads only (as bench_lstm --threads N does for ours).

  python3 bench/torch_lstm.py [--device cuda|cpu] [--quick] [--sweep full|quick|none]
                              [--tiny] [--reps N] [--sweep-reps N] [--warmup N]
                              [--threads N] [--csv FILE] [--json FILE]
"""

import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import time

import torch

CSV_HEADER = ("device,label,T,N,F,H,impl,variant,math,phase,status,median_ms,min_ms,p10_ms,p90_ms,"
              "reps,build_ms,check_err,note")
PHASES = ("forward", "backward", "forward+backward")


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def jobs(args):
    if args.tiny:
        return [("tiny", (4, 2, 3, 8), True), ("tiny", (3, 2, 1, 5), True)]
    out = [("recipe-layer1", (40, 256, 1, 512), True), ("recipe-layer2", (40, 256, 512, 256), True)]
    batches, hiddens = [], []
    if args.sweep == "full":
        batches, hiddens = [1, 8, 32, 64, 128, 256, 512], [128, 256, 512, 1024]
    elif args.sweep == "quick":
        batches, hiddens = [1, 64, 256], [128, 512]
    for f in (1, 512):
        for h in hiddens:
            for n in batches:
                out.append(("sweep", (40, n, f, h), False))
    return out


def summarize(ms):
    ms = sorted(ms)
    at = lambda q: ms[min(len(ms) - 1, int(q * (len(ms) - 1) + 0.5))]
    return {"median_ms": statistics.median(ms), "min_ms": ms[0], "p10_ms": at(0.1), "p90_ms": at(0.9),
            "reps": len(ms)}


def timer(device):
    if device == "cuda":
        def run(warmup, reps, setup, work):
            for i in range(warmup):
                if setup:
                    setup(i)
                work(i)
            events = []
            for i in range(reps):
                if setup:
                    setup(i)
                start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                start.record()
                work(i)
                stop.record()
                events.append((start, stop))
            torch.cuda.synchronize()
            return summarize([a.elapsed_time(b) for a, b in events])
        return run

    def run(warmup, reps, setup, work):
        for i in range(warmup):
            if setup:
                setup(i)
            work(i)
        ms = []
        for i in range(reps):
            if setup:
                setup(i)
            start = time.perf_counter()
            work(i)
            ms.append((time.perf_counter() - start) * 1e3)
        return summarize(ms)
    return run


def time_layer(device, shape, warmup, reps):
    t, n, f, h = shape
    gen = torch.Generator().manual_seed(1000 * n + h)
    lstm = torch.nn.LSTM(f, h).to(device)
    xs = [torch.rand(t, n, f, generator=gen).mul_(2).sub_(1).to(device).requires_grad_(True) for _ in range(2)]
    dhs = [torch.rand(t, n, h, generator=gen).mul_(2).sub_(1).to(device) for _ in range(2)]
    run = timer(device)
    state = {}

    def fwd(i):
        state["out"], _ = lstm(xs[i & 1])

    def bwd(i):
        state["out"].backward(dhs[i & 1])

    def both(i):
        fwd(i)
        bwd(i)

    def sync():
        if device == "cuda":
            torch.cuda.synchronize()

    result = {}
    with torch.enable_grad():
        result["forward"] = run(warmup, reps, None, fwd)
        result["backward"] = run(warmup, reps, fwd, bwd)
        result["forward+backward"] = run(warmup, reps, None, both)
    sync()
    return result


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", choices=["cuda", "cpu"])
    p.add_argument("--sweep", choices=["full", "quick", "none"])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--tiny", action="store_true")
    p.add_argument("--reps", type=int, default=0)
    p.add_argument("--sweep-reps", type=int, default=0)
    p.add_argument("--warmup", type=int, default=-1)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--csv")
    p.add_argument("--json")
    args = p.parse_args()
    if args.quick:
        args.sweep = "quick"
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        sys.exit("torch_lstm.py: --device cuda, but torch.cuda.is_available() is False")
    if args.sweep is None:
        args.sweep = "full" if device == "cuda" else "none"

    meta = {"tool": "torch_lstm.py", "torch": torch.__version__,
            "date_utc": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "host_cpu": cpu_model(),
            "mode": f"{device}{', tiny' if args.tiny else ''}, sweep {args.sweep}"}
    if device == "cuda":
        meta["device"] = "cuda:0 " + torch.cuda.get_device_name(0)
        meta["cuda_runtime"] = str(torch.version.cuda)
        meta["cudnn"] = str(torch.backends.cudnn.version())
        meta["cudnn_allow_tf32"] = str(torch.backends.cudnn.allow_tf32)
    else:
        meta["device"] = f"cpu, {os.cpu_count()} threads"
        meta["blas"] = "OpenBLAS" if "openblas" in torch.__config__.show().lower() else "see torch.__config__.show()"
    for k, v in meta.items():
        print(f"# {k}: {v}")

    rows = []
    for label, shape, recipe in jobs(args):
        if device == "cuda":
            reps = (args.reps or (3 if args.tiny else 100)) if recipe else (args.sweep_reps or 30)
            warmup = args.warmup if args.warmup >= 0 else 5
        else:
            reps = args.reps or (3 if args.tiny else 5 if recipe else 3)
            warmup = args.warmup if args.warmup >= 0 else 1
        t, n, f, h = shape
        print(f"{label} T{t} N{n} F{f} H{h}: {reps} reps", flush=True)
        if device == "cuda":
            results = {"torch/cudnn": time_layer(device, shape, warmup, reps)}
            math = "tf32-allowed" if torch.backends.cudnn.allow_tf32 else "fp32"
        else:
            best = None
            for threads in [args.threads] if args.threads > 0 else sorted({1, os.cpu_count() or 1}):
                torch.set_num_threads(threads)
                r = time_layer(device, shape, warmup, reps)
                if best is None or r["forward+backward"]["median_ms"] < best[1]["forward+backward"]["median_ms"]:
                    best = (threads, r)
            results = {f"torch/cpu/threads={best[0]}": best[1]}
            math = "fp32"
        for variant, by_phase in results.items():
            for phase in PHASES:
                row = {"device": device, "label": label, "T": t, "N": n, "F": f, "H": h, "impl": "torch",
                       "variant": variant, "math": math, "phase": phase, "status": "ok", **by_phase[phase],
                       "build_ms": None, "check_err": None, "note": ""}
                rows.append(row)
                print(f"  {variant:28s} {phase:17s} median {row['median_ms']:.4g} ms")

    if args.json:
        with open(args.json, "w") as out:
            json.dump({"tool": "torch_lstm.py", "meta": meta, "rows": rows}, out, indent=1)
    if args.csv:
        with open(args.csv, "w") as out:
            for k, v in meta.items():
                out.write(f"# {k}: {v}\n")
            out.write(CSV_HEADER + "\n")
            for r in rows:
                cells = [r[k] for k in CSV_HEADER.split(",")]
                out.write(",".join("" if c is None else (f"{c:.6g}" if isinstance(c, float) else str(c))
                                   for c in cells) + "\n")


if __name__ == "__main__":
    main()
