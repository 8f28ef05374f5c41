#pragma once
// The benchmark's command-line options, declared once for both front ends
// (the bench_lstm program and `nocturne bench`).

#include <CLI/CLI.hpp>

#include "lstm_bench/lstm_suite.hpp"

namespace nocturne::inline v0::bench {

inline void add_lstm_bench_options(CLI::App& app, LstmBenchOptions& o) {
  app.add_option("--device", o.device, "cuda (ours, cuDNN) or cpu (ours, oneDNN); default: cuda where usable")
      ->check(CLI::IsMember({"cuda", "cpu"}));
  app.add_option("--sweep", o.sweep, "shape sweep beside the recipe's two layers; default: full on cuda, none on cpu")
      ->check(CLI::IsMember({"full", "quick", "none"}));
  app.add_flag_callback(
      "--quick", [&o] { o.sweep = "quick"; }, "the same as --sweep quick");
  app.add_flag("--tiny", o.tiny, "two tiny shapes, 3 repetitions: checks the output, not the speed");
  app.add_option("--reps", o.reps, "timed repetitions per recipe shape (default 100 on cuda, 5 on cpu)")
      ->check(CLI::Range(1, 1000000));
  app.add_option("--sweep-reps", o.sweep_reps, "timed repetitions per sweep shape (default 30 on cuda, 3 on cpu)")
      ->check(CLI::Range(1, 1000000));
  app.add_option("--warmup", o.warmup, "untimed repetitions first (default 5 on cuda, 1 on cpu)")
      ->check(CLI::Range(0, 1000000));
  app.add_option("--threads", o.threads,
                 "CPU threads for ours (OpenBLAS) and oneDNN alike; 0: OpenBLAS's default (OPENBLAS_NUM_THREADS, "
                 "else every core)")
      ->check(CLI::Range(0, 4096));
  app.add_option("--csv", o.csv, "write the rows as CSV (with # key: value header lines)");
  app.add_option("--json", o.json, "write the rows and the run's description as JSON");
}

}  // namespace nocturne::bench
