#pragma once
// The one-LSTM-layer benchmark (forward, backward, forward + backward) of ours
// against cuDNN on a GPU and against oneDNN on the CPU, shared by the
// bench_lstm program and `nocturne bench`. What it measures and how:
// docs/benchmarks.md.

#include <string>

namespace nocturne::inline v0::bench {

struct LstmBenchOptions {
  std::string device;     // "cuda" or "cpu"; empty: cuda where usable, else cpu
  std::string sweep;      // "full", "quick" or "none"; empty: full on cuda, none on cpu
  bool tiny = false;      // two tiny shapes, 3 repetitions (the smoke test)
  int reps = 0;           // recipe shapes; 0: 100 on cuda, 5 on cpu
  int sweep_reps = 0;     // sweep shapes; 0: 30 on cuda, 3 on cpu
  int warmup = -1;        // -1: 5 on cuda, 1 on cpu
  int threads = 0;        // CPU threads for ours (OpenBLAS) and oneDNN; 0: OpenBLAS's default
  std::string csv, json;  // output files, written atomically; empty: none
};

struct LstmBenchResult {
  int rows = 0;
  int bad_rows = 0;  // rows whose status is failed or mismatch
};

// Runs the benchmark, prints progress and the table on stdout and writes the
// files asked for. Throws nocturne::Error when it cannot run at all (an
// option out of range, --device cuda without a usable GPU, a file that cannot
// be written).
LstmBenchResult run_lstm_bench(const LstmBenchOptions& options);

}  // namespace nocturne::bench
