// nocturne train: a training run (nocturne/training_run.hpp) with progress,
// Ctrl-C and --resume; and `nocturne demo-corpus`. Settings come from a
// preset (recipe, small, demo), every one overridable by its option.
// Exit codes: 0 done (or nothing left to do), 1 error (one line on stderr),
// 130 stopped by SIGINT/SIGTERM (last.ckpt holds the last completed epoch).

#include <cstdio>
#include <ctime>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "cli/commands.hpp"
#include "cli/outputs.hpp"
#include "cli/progress.hpp"
#include "cli/signals.hpp"
#include "cli/train_report.hpp"
#include "nocturne/demo_corpus.hpp"
#include "nocturne/error.hpp"
#include "nocturne/training_run.hpp"

namespace nocturne::cli {

namespace {

namespace fs = std::filesystem;

struct TrainArgs {
  std::string data, out, resume, preset;
  TrainingSettings values;
  DeviceRequest device;
  CLI::Option* precision_option = nullptr;  // resuming keeps the run's precision unless given
  bool jsonl = false, strict = false;
  std::vector<std::pair<std::string, CLI::Option*>> setting_options;  // an option counts only when given
};

TrainingSettings apply_options(TrainingSettings s, const TrainArgs& a) {
  const TrainingSettings& v = a.values;
  for (const auto& [name, option] : a.setting_options) {
    if (option->count() == 0) continue;
    if (name == "window") s.window = v.window;
    else if (name == "hidden1") s.hidden1 = v.hidden1;
    else if (name == "hidden2") s.hidden2 = v.hidden2;
    else if (name == "dense") s.dense = v.dense;
    else if (name == "dropout") s.dropout = v.dropout;
    else if (name == "input") s.input = v.input;
    else if (name == "embedding_dim") s.embedding_dim = v.embedding_dim;
    else if (name == "min_count") s.min_count = v.min_count;
    else if (name == "split") s.split = v.split;
    else if (name == "heldout") s.heldout = v.heldout;
    else if (name == "epochs") s.epochs = v.epochs;
    else if (name == "batch") s.batch = v.batch;
    else if (name == "lr") s.lr = v.lr;
    else if (name == "seed") s.seed = v.seed;
  }
  return s;
}

bool given(const TrainArgs& a, const std::string& setting) {
  for (const auto& [name, option] : a.setting_options)
    if (name == setting && option->count() > 0) return true;
  return false;
}

std::string default_run_folder() {
  const std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  char stamp[32];
  std::strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &local);
  const fs::path base = fs::path("runs") / (std::string("run-") + stamp);
  fs::path candidate = base;
  std::error_code ec;
  for (int k = 2; fs::exists(candidate, ec); ++k) candidate = base.string() + "-" + std::to_string(k);
  return candidate.string();
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
    if (run->finished()) {
      reporter.info("run " + run->folder().string() + " already has " + std::to_string(run->epochs_done()) + " of " +
                    std::to_string(run->settings().epochs) + " epochs; pass --epochs N (more) to train further");
      return;
    }
  } else {
    const std::string preset_name = a.preset.empty() ? (a.data == "demo" ? "demo" : "recipe") : a.preset;
    const TrainingSettings settings = apply_options(training_preset(preset_name), a);
    settings.validate();
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
      "15 epochs; the default "
      "for --data demo). Options override the preset. Exit codes: 0 done, 1 error, 130 stopped by Ctrl-C/SIGTERM\n"
      "(last.ckpt keeps the last completed epoch; continue with --resume <run-folder>).");
  cmd->add_option("--data", a->data, "Folder of MIDI files (searched recursively), or 'demo' for the built-in demo corpus");
  cmd->add_option("--out", a->out, "Run folder to create (default runs/run-<date>-<time>)");
  cmd->add_option("--resume", a->resume, "Continue the run in this folder from its last completed epoch");
  cmd->add_option("--preset", a->preset, "recipe, small or demo")->check(CLI::IsMember({"recipe", "small", "demo"}));
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
