// bench_lstm: one LSTM layer (forward, backward, forward + backward) timed for
// our backends against cuDNN (--device cuda) or oneDNN (--device cpu), at the
// recipe's two layer shapes and over a sweep of shapes. The engine is
// src/lstm_bench/lstm_suite.cpp, shared with `nocturne bench`; see docs/benchmarks.md
// for how to run it and what each column means.
//
//   bench_lstm [--device cuda|cpu] [--quick] [--sweep full|quick|none] [--tiny]
//              [--reps N] [--sweep-reps N] [--warmup N] [--threads N] [--csv FILE] [--json FILE]
//
// Exit status: 0 when every row ran and passed its check, 1 when a row failed
// or mismatched or the run could not start, CLI11's codes for bad options.

#include <cstdio>
#include <exception>

#include <CLI/CLI.hpp>

#include "lstm_bench/lstm_suite.hpp"
#include "lstm_bench/lstm_suite_options.hpp"

int main(int argc, char** argv) {
  CLI::App app{"bench_lstm: one LSTM layer, ours against cuDNN (cuda) or oneDNN (cpu)"};
  nocturne::bench::LstmBenchOptions options;
  nocturne::bench::add_lstm_bench_options(app, options);
  CLI11_PARSE(app, argc, argv);
  try {
    return nocturne::bench::run_lstm_bench(options).bad_rows ? 1 : 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_lstm: %s\n", e.what());
    return 1;
  }
}
