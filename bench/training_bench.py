"""What bench/torch_training_cpu.py and bench/keras_training_cpu.py share:
the recipe's shapes, the command line, the timing loop and the training
step's figures and RESULT lines, so that the two contenders are measured and
reported the same way. Imported from the scripts' own folder.
"""

import argparse
import statistics
import time

FLOPS_PER_WINDOW = 441e6  # forward + backward of one window (performance.md)
V, T, BATCH = 127, 40, 256


def parse_args(description):
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--gen-reps", type=int, default=60)
    return parser.parse_args()


def timed(warmup, reps, work):
    """work(i) for i < warmup untimed, then reps timed calls: (median, min, max) in ms."""
    for i in range(warmup):
        work(i)
    times = []
    for i in range(reps):
        start = time.perf_counter()
        work(warmup + i)
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times), min(times), max(times)


def training_figures(step_ms):
    """Windows per second and GFLOP/s of a training step of BATCH windows taking step_ms."""
    windows_per_s = BATCH / (step_ms * 1e-3)
    return windows_per_s, FLOPS_PER_WINDOW * windows_per_s / 1e9


def print_training_rates(windows_per_s, gflops):
    print(f"  windows per second                   {windows_per_s:9.1f}")
    print(f"  achieved                             {gflops:9.1f} GFLOP/s (441 MFLOP per window)")


def print_results(step_ms, windows_per_s, gflops, note_ms):
    """The RESULT lines both scripts print, for bench/run_cpu_bench.sh."""
    print(f"RESULT train_step_ms={step_ms:.3f}")
    print(f"RESULT windows_per_s={windows_per_s:.2f}")
    print(f"RESULT train_gflops={gflops:.2f}")
    print(f"RESULT note_ms={note_ms:.4f}")
