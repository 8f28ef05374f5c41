// The reports of `nocturne train` over a TrainingRun (train_report.hpp).

#include "cli/train_report.hpp"

#include <cstdio>
#include <limits>

#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "cli/outputs.hpp"
#include "cli/signals.hpp"
#include "nocturne/error.hpp"
#include "nocturne/render.hpp"
#include "run/run_folder.hpp"

namespace nocturne::inline v0::cli {

namespace {

using nlohmann::json;

std::string fixed(double value, int digits) {
  char text[48];
  std::snprintf(text, sizeof(text), "%.*f", digits, value);
  return text;
}

std::string epoch_line(const HistoryRow& row, std::int64_t total, bool best) {
  std::string line = "epoch " + std::to_string(row.epoch) + "/" + std::to_string(total) + "  loss " +
                     fixed(row.loss, 4) + "  acc " + fixed(row.accuracy, 3);
  if (row.val_loss)
    line += "  val_loss " + fixed(*row.val_loss, 4) + "  val_acc " + fixed(*row.val_accuracy, 3) + "  val_ppl " +
            fixed(*row.val_perplexity, 2);
  line += "  " + fixed(row.seconds, 1) + " s  " + fixed(row.windows_per_second, 0) + " windows/s";
  if (best) line += "  (best)";
  return line;
}

void write_plot(const TrainingRun& run, Reporter& reporter) {
  std::vector<LossPoint> points;
  for (const auto& row : run.history())
    points.push_back({row.epoch, row.loss, row.val_loss ? *row.val_loss : std::numeric_limits<double>::quiet_NaN()});
  try {
    write_loss_plot(run.folder() / "loss.png", points);
  } catch (const Error& e) {
    reporter.warning(std::string("loss.png not written: ") + e.what());
  }
}

[[noreturn]] void interrupted(const TrainingRun& run, Reporter& reporter, const std::string& when) {
  reporter.clear_bar();
  const int done = run.epochs_done();
  const std::string saved = done > 0 ? "last.ckpt holds epoch " + std::to_string(done)
                                     : "last.ckpt holds the initial model (epoch 0)";
  reporter.info(std::string("interrupted by ") + stop_signal_name() + " " + when + "; " + saved + " in " +
                run.folder().string() + "; continue with: nocturne train --resume " + run.folder().string());
  reporter.event("interrupted", {{"signal", stop_signal_name()},
                                 {"epochs_done", done},
                                 {"checkpoint", run.last_checkpoint().string()}});
  throw CLI::RuntimeError(kInterruptedExitCode);
}

}  // namespace

void train_with_reports(TrainingRun& run, DeviceChoice& device, Reporter& reporter) {
  RunMessages messages;
  messages.info = [&](const std::string& m) { reporter.info(m); };
  messages.warning = [&](const std::string& m) { reporter.warning(m); };
  run.load_data(messages);
  const TrainingSettings& s = run.settings();
  const ModelConfig mc = run.model_config();
  require_model_memory(device, mc, s.batch, true, "--batch " + std::to_string(s.batch));
  run.start(*device.backend, device.description, messages);
  StopSignals signals;  // from here on, Ctrl-C stops cleanly

  const Dataset& ds = run.dataset();
  const bool resumed = run.resumed();
  reporter.info(std::string(resumed ? "resuming " : "training ") + "in " + run.folder().string() + " on " +
                device.description + ": " + std::to_string(ds.vocab.size()) + " symbols, " +
                std::to_string(ds.train_starts.size()) + " training and " + std::to_string(ds.heldout_starts.size()) +
                " held-out windows, " + std::to_string(run.parameter_count()) + " parameters, " +
                (resumed ? "from epoch " + std::to_string(run.epochs_done()) + " " : "") + "to epoch " +
                std::to_string(s.epochs));
  reporter.event("start", {{"run", run.folder().string()},
                           {"resumed_from_epoch", run.epochs_done()},
                           {"device", device.description},
                           {"data", run.data_folder().string()},
                           {"demo", run.demo()},
                           {"settings", json::parse(run.settings_json())},
                           {"corpus", json::parse(run.corpus_json())},
                           {"parameters", run.parameter_count()}});

  while (!run.finished()) {
    const RunEpoch epoch = run.train_epoch([&](const Progress& p) {
      reporter.progress(p, int(s.epochs));
      return !stop_requested();
    });
    if (!epoch.completed) interrupted(run, reporter, "during epoch " + std::to_string(epoch.row.epoch) + " (discarded)");
    reporter.clear_bar();
    write_plot(run, reporter);
    if (reporter.jsonl()) {
      json e = to_json(epoch.row);
      e["best"] = epoch.best;
      e["epochs"] = s.epochs;
      e["checkpoint"] = run.last_checkpoint().string();
      reporter.event("epoch", e);
    } else {
      reporter.info(epoch_line(epoch.row, s.epochs, epoch.best));
    }
    if (stop_requested() && !run.finished()) interrupted(run, reporter, "after epoch " + std::to_string(run.epochs_done()));
  }

  if (const auto why = run.stopped_early()) reporter.info(*why);
  const std::optional<BestEpoch> best = run.best();
  const std::string best_text =
      best ? "best.ckpt is epoch " + std::to_string(best->epoch) + " (" + best->metric + " " + fixed(best->value, 4) + ")"
           : "no best epoch";
  reporter.info("done: " + std::to_string(run.epochs_done()) + " epochs in " + run.folder().string() + "; " + best_text);
  reporter.event("done", {{"run", run.folder().string()},
                          {"epochs_done", run.epochs_done()},
                          {"best_epoch", best ? json(best->epoch) : json(nullptr)},
                          {"best_metric", best ? best->metric : std::string()},
                          {"best_value", best ? json(best->value) : json(nullptr)}});
}

}  // namespace nocturne::cli
