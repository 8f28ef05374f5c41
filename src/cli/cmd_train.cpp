// nocturne train: a training run (nocturne/training_run.hpp) with progress,
// Ctrl-C and --resume; and `nocturne demo-corpus`. Settings come from a
// preset (recipe, small, demo), every one overridable by its option.
// Exit codes: 0 done (or nothing left to do), 1 error (one line on stderr),
// 130 stopped by SIGINT/SIGTERM (last.ckpt holds the last completed epoch).

#include <cstdio>
#include <memory>
#include <string>

#include "cli/commands.hpp"
#include "cli/outputs.hpp"
#include "cli/progress.hpp"
#include "cli/signals.hpp"
#include "cli/train_options.hpp"
#include "cli/train_report.hpp"
#include "nocturne/cuda.hpp"
#include "nocturne/demo_corpus.hpp"
#include "nocturne/error.hpp"
#include "nocturne/training_run.hpp"

namespace nocturne::inline v0::cli {

namespace {

namespace fs = std::filesystem;

// Variational dropout runs on the classic LSTM schedule only: the fused and
// persistent step programs have no masks, and cuDNN's LSTM takes none.
void require_classic_lstm(const TrainingSettings& s, const DeviceRequest& request) {
  if (s.input_dropout == 0 && s.recurrent_dropout == 0) return;
  const LstmImpl impl = parse_lstm_impl(request.lstm_impl);
  if (impl != LstmImpl::classic)
    throw ConfigError(std::string("--input-dropout and --recurrent-dropout need --lstm-impl classic, not ") +
                      to_string(impl));
}

void run_train(TrainArgs& a) {
  Reporter reporter(a.jsonl);
  const bool resuming = !a.resume.empty();
  if (!resuming && a.data.empty())
    throw ConfigError("train: --data <midi-folder> (or --data demo) is required, or --resume <run-folder>");
  const fs::path resume_folder = resuming ? run_folder_to_resume(a.resume) : fs::path();
  if (resuming && !a.out.empty() && fs::path(a.out) != resume_folder && fs::path(a.out) != fs::path(a.resume))
    throw ConfigError("--resume continues in its own run folder; leave out --out");

  DeviceRequest request = a.device;
  DeviceChoice device;
  std::optional<TrainingRun> run;
  if (resuming) {
    run.emplace(TrainingRun::resume(resume_folder));
    run->require_settings(apply_options(run->settings(), a));
    if (!a.preset.empty()) throw ConfigError("--resume: --preset cannot be combined with --resume");
    if (a.precision_option->count() > 0) run->set_precision(a.device.precision);  // changed on purpose
    request.precision = run->precision();
    device = choose_device(request);
    if (given(a, "epochs")) run->set_epochs(a.values.epochs);
    if (!a.data.empty() && !(run->demo() && a.data == "demo")) run->set_data_folder(a.data);
    run->settings().validate();
    require_classic_lstm(run->settings(), request);
    if (const auto why = run->stopped_early()) {
      reporter.info("run " + run->folder().string() + " already " + *why);
      return;
    }
    if (run->finished()) {
      reporter.info("run " + run->folder().string() + " already has " + std::to_string(run->epochs_done()) + " of " +
                    std::to_string(run->settings().epochs) + " epochs; pass --epochs N (more) to train further");
      return;
    }
  } else {
    const std::string preset_name = a.preset.empty() ? (a.data == "demo" ? "demo" : "recipe") : a.preset;
    const TrainingSettings settings = apply_options(training_preset(preset_name), a);
    settings.validate();
    require_classic_lstm(settings, request);
    device = choose_device(request);
    const TrainingData data{a.data, a.data == "demo", a.strict ? BadFilePolicy::stop : BadFilePolicy::skip};
    run.emplace(TrainingRun::create(a.out.empty() ? default_run_folder() : a.out, settings, data, a.device.precision));
  }
  if (!device.note.empty()) reporter.info(device.note);
  train_with_reports(*run, device, reporter);
}

void add_train_command(CLI::App& app) {
  auto a = std::make_shared<TrainArgs>();
  CLI::App* cmd = app.add_subcommand("train", "Train the LSTM on a folder of MIDI files (the recipe by default)");
  cmd->footer(
      "Presets: recipe (window 40, min-count 100, 512/256/256, dropout 0.1, Adamax 0.01, batch 256, 200 epochs),\n"
      "small (128/64/64, batch 128, 20 epochs), demo (small with window 32, min-count 2, embedding input,\n"
      "15 epochs; the default for --data demo), quality (small on embeddings, split by piece, with the\n"
      "regularisers; docs/cli.md). Options override the preset. Exit codes: 0 done, 1 error, 130 stopped by Ctrl-C/SIGTERM\n"
      "(last.ckpt keeps the last completed epoch; continue with --resume <run-folder>).");
  cmd->add_option("--data", a->data, "Folder of MIDI files (searched recursively), or 'demo' for the built-in demo corpus");
  cmd->add_option("--out", a->out, "Run folder to create (default runs/run-<date>-<time>)");
  cmd->add_option("--resume", a->resume, "Continue the run in this folder from its last completed epoch");
  cmd->add_option("--preset", a->preset, "recipe, small, demo or quality")
      ->check(CLI::IsMember({"recipe", "small", "demo", "quality"}));
  add_setting_options(*cmd, a->values, a->setting_options);
  add_device_options(*cmd, a->device, &a->precision_option);
  cmd->add_flag("--jsonl", a->jsonl, "Print one JSON object per event on stdout (for scripts)");
  cmd->add_flag("--strict", a->strict, "Stop at an unreadable MIDI file instead of skipping it");
  cmd->callback([a] { run_train(*a); });
}

void add_demo_corpus_command(CLI::App& app) {
  struct Args {
    std::string folder;
    int count = 16;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand("demo-corpus", "Write the built-in demo corpus (MIDI pieces generated in code)");
  cmd->add_option("folder", a->folder, "Folder to write demo-NN.mid into")->required();
  cmd->add_option("--count", a->count, "Number of pieces")->capture_default_str()->check(at_least(1));
  cmd->callback([a] {
    const auto paths = write_demo_corpus(a->folder, a->count);
    std::printf("wrote %zu demo pieces (generated, not real music) to %s\n", paths.size(), a->folder.c_str());
  });
}

}  // namespace

static const bool registered = register_command(30, add_train_command);
static const bool registered_demo = register_command(35, add_demo_corpus_command);

}  // namespace nocturne::cli
