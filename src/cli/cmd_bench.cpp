// nocturne bench: the one-LSTM-layer benchmark of bench_lstm (ours against
// cuDNN on a GPU, against oneDNN on the CPU) as a subcommand. The engine and
// its options live in src/lstm_bench and are shared with the bench_lstm
// program.

#include <memory>
#include <string>

#include "lstm_bench/lstm_suite.hpp"
#include "lstm_bench/lstm_suite_options.hpp"
#include "cli/commands.hpp"
#include "nocturne/error.hpp"

namespace nocturne::inline v0::cli {

namespace {

void run_bench(const bench::LstmBenchOptions& options) {
  const bench::LstmBenchResult result = bench::run_lstm_bench(options);
  if (result.bad_rows)
    throw Error(std::to_string(result.bad_rows) + " of " + std::to_string(result.rows) +
                " benchmark rows failed or mismatched their check (see the status and note columns)");
}

void add_bench_command(CLI::App& app) {
  auto options = std::make_shared<bench::LstmBenchOptions>();
  CLI::App* cmd = app.add_subcommand("bench", "Time one LSTM layer: ours against cuDNN (cuda) or oneDNN (cpu)");
  cmd->footer(
      "Forward, backward and both at the recipe's two layer shapes (plus a sweep on request), every variant "
      "checked before it is timed. Columns and method: docs/benchmarks.md.");
  bench::add_lstm_bench_options(*cmd, *options);
  cmd->callback([options] { run_bench(*options); });
}

}  // namespace

static const bool registered = register_command(80, add_bench_command);

}  // namespace nocturne::cli
