// nocturne train: the recipe's training with a run folder, checkpoints every
// epoch, progress, Ctrl-C and --resume. Also `nocturne demo-corpus`.
//
// Settings come from a preset (recipe, small, demo) and every one can be
// overridden by its option. A run folder holds config.json, vocabulary.txt,
// history.csv, loss.png, last.ckpt and best.ckpt (see run_folder.hpp); the
// checkpoint's metadata carries the settings, the data and the history, so
// --resume needs nothing else and rewrites history.csv to match last.ckpt.
//
// Exit codes: 0 done (or nothing left to do), 1 error (one line on stderr),
// 130 stopped by SIGINT/SIGTERM (last.ckpt holds the last completed epoch).

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/best_checkpoint.hpp"
#include "cli/commands.hpp"
#include "cli/device_choice.hpp"
#include "cli/outputs.hpp"
#include "cli/progress.hpp"
#include "cli/run_folder.hpp"
#include "cli/signals.hpp"
#include "nocturne/checkpoint.hpp"
#include "nocturne/corpus.hpp"
#include "nocturne/cuda.hpp"
#include "nocturne/demo_corpus.hpp"
#include "nocturne/error.hpp"
#include "nocturne/model.hpp"
#include "nocturne/render.hpp"
#include "nocturne/trainer.hpp"
#include "nocturne/version.hpp"

namespace nocturne::cli {

namespace {

using nlohmann::json;
namespace fs = std::filesystem;

constexpr int kDemoPieces = 16;

// Everything that decides what a run computes (the device does not).
struct Settings {
  int window = 40;
  int hidden1 = 512, hidden2 = 256, dense = 256;
  double dropout = 0.1;
  std::string input = "scalar";
  int embedding_dim = 64;
  std::int64_t min_count = 100;
  std::string split = "random";
  double heldout = 0.2;
  int epochs = 200;
  int batch = 256;
  double lr = 0.01;
  std::uint64_t seed = 1;
};

json to_json(const Settings& s) {
  return {{"window", s.window},   {"hidden1", s.hidden1},       {"hidden2", s.hidden2},
          {"dense", s.dense},     {"dropout", s.dropout},       {"input", s.input},
          {"embedding_dim", s.embedding_dim},                   {"min_count", s.min_count},
          {"split", s.split},     {"heldout", s.heldout},       {"epochs", s.epochs},
          {"batch", s.batch},     {"lr", s.lr},                 {"seed", s.seed}};
}

Settings settings_from_json(const json& j) {
  Settings s;
  s.window = j.at("window").get<int>();
  s.hidden1 = j.at("hidden1").get<int>();
  s.hidden2 = j.at("hidden2").get<int>();
  s.dense = j.at("dense").get<int>();
  s.dropout = j.at("dropout").get<double>();
  s.input = j.at("input").get<std::string>();
  s.embedding_dim = j.at("embedding_dim").get<int>();
  s.min_count = j.at("min_count").get<std::int64_t>();
  s.split = j.at("split").get<std::string>();
  s.heldout = j.at("heldout").get<double>();
  s.epochs = j.at("epochs").get<int>();
  s.batch = j.at("batch").get<int>();
  s.lr = j.at("lr").get<double>();
  s.seed = j.at("seed").get<std::uint64_t>();
  return s;
}

Settings preset(const std::string& name) {
  Settings s;  // recipe
  if (name == "small" || name == "demo") {
    s.hidden1 = 128;
    s.hidden2 = 64;
    s.dense = 64;
    s.batch = 128;
    s.epochs = 20;
  }
  if (name == "demo") {
    s.window = 32;
    s.min_count = 2;
    s.epochs = 15;
    // The demo should show learning within its two minutes: a learned
    // embedding learns several times faster than the recipe's index / V.
    s.input = "embedding";
  }
  return s;
}

// Raw option values; an option counts only when given (CLI::Option::count()).
struct TrainArgs {
  std::string data, out, resume, preset;
  Settings values;
  DeviceRequest device;
  CLI::Option* precision_option = nullptr;  // given or not: resuming keeps the run's precision unless given
  bool jsonl = false, strict = false;
  std::vector<std::pair<std::string, CLI::Option*>> setting_options;
};

Settings apply_options(Settings s, const TrainArgs& a) {
  const Settings& v = a.values;
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

ModelConfig model_config(const Settings& s, int vocab) {
  ModelConfig c;
  c.vocab = vocab;
  c.window = s.window;
  c.hidden1 = s.hidden1;
  c.hidden2 = s.hidden2;
  c.dense = s.dense;
  c.dropout = s.dropout;
  c.input = parse_input_mode(s.input);
  c.embedding_dim = s.embedding_dim;
  return c;
}

TrainerConfig trainer_config(const Settings& s, bool gpu) {
  TrainerConfig t;
  t.epochs = s.epochs;
  t.batch = s.batch;
  t.adamax.learning_rate = s.lr;
  t.seed = s.seed;
  t.stats_every = gpu ? 16 : 1;  // a GPU sync per step costs more than it shows
  return t;
}

// Fails fast, before any data is read, naming the setting at fault.
void validate(const Settings& s) {
  // The CLI's own rules first: the trainer's allow 0 epochs, a run does not.
  if (s.epochs < 1) throw ConfigError("--epochs must be >= 1, got " + std::to_string(s.epochs));
  model_config(s, 1).validate();
  trainer_config(s, false).validate();
  if (s.min_count < 0) throw ConfigError("--min-count must be >= 0, got " + std::to_string(s.min_count));
  if (s.split != "random" && s.split != "piece")
    throw ConfigError("--split: unknown value '" + s.split + "' (expected random or piece)");
  if (!(s.heldout >= 0 && s.heldout < 1))
    throw ConfigError("--heldout must lie in [0, 1), got " + std::to_string(s.heldout));
}

// ---- data --------------------------------------------------------------------

struct LoadedData {
  fs::path folder;
  Dataset dataset;
  CorpusStats stats;
  std::vector<std::string> skipped;
};

LoadedData load_data(const fs::path& folder, const Settings& s, bool strict, Reporter& reporter) {
  LoadedData data;
  data.folder = folder;
  const std::vector<CorpusFile> files =
      read_corpus(folder, [&](const std::string& message) { reporter.warning(message); }, strict, &data.skipped);
  DatasetOptions options;
  options.min_count = s.min_count;
  options.window = s.window;
  options.split = s.split == "piece" ? SplitMode::piece : SplitMode::random;
  options.seed = s.seed;
  options.heldout_fraction = s.heldout;
  data.dataset = build_dataset(files, options, &data.stats);
  if (data.dataset.train_starts.empty())
    throw ConfigError(folder.string() + ": no training windows of " + std::to_string(s.window) +
                      " tokens (lower --window or --min-count, or add music)");
  return data;
}

json to_json(const CorpusStats& s) {
  return {{"files", s.files},
          {"tokens", s.tokens},
          {"distinct_symbols", s.distinct_symbols},
          {"rare_symbols", s.rare_symbols},
          {"rare_occurrences", s.rare_occurrences},
          {"tokens_kept", s.tokens_kept},
          {"vocabulary_size", s.vocabulary_size},
          {"windows", s.windows},
          {"train_windows", s.train_windows},
          {"heldout_windows", s.heldout_windows}};
}

// What the run trains on, in one number: FNV-1a 64 of the token stream and
// both window lists. Counts alone miss files that were reordered or edited
// with their statistics unchanged.
std::string data_fingerprint(const Dataset& d) {
  std::vector<std::uint8_t> bytes;
  auto append = [&](const void* p, std::size_t n) {
    const auto* b = static_cast<const std::uint8_t*>(p);
    bytes.insert(bytes.end(), b, b + n);
  };
  append(d.tokens.data(), d.tokens.size() * sizeof(d.tokens[0]));
  append(d.train_starts.data(), d.train_starts.size() * sizeof(d.train_starts[0]));
  append(d.heldout_starts.data(), d.heldout_starts.size() * sizeof(d.heldout_starts[0]));
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(fnv1a64(bytes)));
  return text;
}

json corpus_json(const LoadedData& data) {
  json j = to_json(data.stats);
  j["fingerprint"] = data_fingerprint(data.dataset);
  return j;
}

// ---- the run -------------------------------------------------------------------

struct RunState {
  std::string run_id;  // the run's identity in every checkpoint it writes
  Settings settings;
  std::string precision = "fp32";  // the GEMM precision the run trains in (kept when resuming)
  fs::path data_folder;  // absolute
  bool demo = false;
  bool strict = false;
  json corpus;  // CorpusStats
  std::vector<std::string> skipped;
  std::vector<HistoryRow> history;
  std::optional<int> best_epoch;
  double best_value = std::numeric_limits<double>::infinity();
  std::string best_metric;
};

json metadata(const RunState& r) {
  json history = json::array();
  for (const auto& row : r.history) history.push_back(to_json(row));
  json best = nullptr;
  if (r.best_epoch) best = {{"epoch", *r.best_epoch}, {"metric", r.best_metric}, {"value", r.best_value}};
  json data = {{"demo", r.demo}, {"strict", r.strict}, {"skipped", r.skipped}};
  put_path(data, "folder", r.data_folder);
  return {{"nocturne_version", version_string},
          {"run_id", r.run_id},
          {"settings", to_json(r.settings)},
          {"precision", r.precision},
          {"data", data},
          {"corpus", r.corpus},
          {"history", history},
          {"best", best}};
}

RunState run_state_from(const json& m) {
  RunState r;
  // A run from before run ids gets one now, carried from here on.
  r.run_id = m.contains("run_id") ? m.at("run_id").get<std::string>() : new_run_id();
  r.settings = settings_from_json(m.at("settings"));
  if (m.contains("precision")) r.precision = m.at("precision").get<std::string>();  // runs before it: fp32
  (void)m.at("data").at("folder");  // required (throws json's out_of_range naming the key)
  r.data_folder = get_path(m.at("data"), "folder").value_or(fs::path());
  r.demo = m.at("data").at("demo").get<bool>();
  r.strict = m.at("data").at("strict").get<bool>();
  r.skipped = m.at("data").at("skipped").get<std::vector<std::string>>();
  r.corpus = m.at("corpus");
  for (const auto& row : m.at("history")) r.history.push_back(history_row_from_json(row));
  if (!m.at("best").is_null()) {
    r.best_epoch = m.at("best").at("epoch").get<int>();
    r.best_metric = m.at("best").at("metric").get<std::string>();
    r.best_value = m.at("best").at("value").get<double>();
  }
  return r;
}

Checkpoint make_checkpoint(Trainer& trainer, const std::vector<std::string>& vocabulary, const RunState& r,
                           const TrainerConfig& tc) {
  Checkpoint c;
  c.model = trainer.model().config();
  c.trainer = tc;
  c.vocabulary = vocabulary;
  c.epochs_done = trainer.epochs_done();
  c.optimizer_steps = trainer.optimizer().steps_taken();
  c.parameters = trainer.model().download_parameters();
  c.first_moment = trainer.optimizer().download_first_moment();
  c.infinity_norm = trainer.optimizer().download_infinity_norm();
  c.metadata = metadata(r).dump(-1, ' ', false, json::error_handler_t::replace);
  return c;
}

std::string fixed(double value, int digits) {
  char text[48];
  std::snprintf(text, sizeof(text), "%.*f", digits, value);
  return text;
}

std::string default_run_folder() {
  const std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  char stamp[32];
  std::strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &local);
  fs::path base = fs::path("runs") / (std::string("run-") + stamp);
  fs::path candidate = base;
  std::error_code ec;
  for (int k = 2; fs::exists(candidate, ec); ++k) candidate = base.string() + "-" + std::to_string(k);
  return candidate.string();
}

void write_plot(const RunFolder& run, const RunState& r, Reporter& reporter) {
  std::vector<LossPoint> points;
  for (const auto& row : r.history)
    points.push_back({row.epoch, row.loss, row.val_loss ? *row.val_loss : std::numeric_limits<double>::quiet_NaN()});
  try {
    write_loss_plot(run.loss_plot(), points);
  } catch (const Error& e) {
    reporter.warning(std::string("loss.png not written: ") + e.what());
  }
}

// More windows per batch than there are windows changes nothing but the
// memory taken: an epoch is one batch either way, and so is the validation.
int capped_batch(int batch, const Dataset& ds, Reporter& reporter) {
  const std::size_t windows = std::max(ds.train_starts.size(), ds.heldout_starts.size());
  if (windows == 0 || std::size_t(batch) <= windows) return batch;
  reporter.info("--batch " + std::to_string(batch) + " is more than the " + std::to_string(windows) +
                " windows of the data (training or held-out): using " + std::to_string(windows));
  return int(windows);
}

// Makes best.ckpt the run's own best epoch again (see best_checkpoint.hpp).
void apply_best_plan(const BestCheckpointPlan& plan, const RunFolder& run, RunState& state, Checkpoint& last,
                     Reporter& reporter) {
  const std::string last_epoch = std::to_string(last.epochs_done);
  if (plan.action == BestCheckpointPlan::rewrite_from_last) {
    save_checkpoint(run.best(), last);
    reporter.warning(plan.reason + ": rewritten from last.ckpt (epoch " + last_epoch + ", the run's best)");
  } else if (plan.action == BestCheckpointPlan::reset_to_last) {
    const auto row = std::find_if(state.history.begin(), state.history.end(),
                                  [&](const HistoryRow& r) { return r.epoch == last.epochs_done; });
    if (row == state.history.end())
      throw FileError(run.last().string() + ": its history has no row for its epoch " + last_epoch);
    const int lost = state.best_epoch.value_or(0);
    state.best_epoch = row->epoch;
    state.best_metric = row->val_loss ? "val_loss" : "loss";
    state.best_value = row->val_loss ? *row->val_loss : row->loss;
    last.metadata = metadata(state).dump(-1, ' ', false, json::error_handler_t::replace);
    save_checkpoint(run.last(), last);
    save_checkpoint(run.best(), last);
    reporter.warning(plan.reason + "; the parameters of the best epoch " + std::to_string(lost) +
                     " are gone, so best.ckpt restarts from last.ckpt (epoch " + last_epoch + ", " +
                     state.best_metric + " " + fixed(state.best_value, 4) + ")");
  }
}

std::string epoch_line(const HistoryRow& row, int total, bool best) {
  std::string line = "epoch " + std::to_string(row.epoch) + "/" + std::to_string(total) + "  loss " +
                     fixed(row.loss, 4) + "  acc " + fixed(row.accuracy, 3);
  if (row.val_loss)
    line += "  val_loss " + fixed(*row.val_loss, 4) + "  val_acc " + fixed(*row.val_accuracy, 3) + "  val_ppl " +
            fixed(*row.val_perplexity, 2);
  line += "  " + fixed(row.seconds, 1) + " s  " + fixed(row.windows_per_second, 0) + " windows/s";
  if (best) line += "  (best)";
  return line;
}

// Resuming may extend --epochs and change the device options; every other setting is the run's.
void check_unchanged(const Settings& stored, const TrainArgs& a) {
  Settings wanted = apply_options(stored, a);
  wanted.epochs = stored.epochs;
  const json before = to_json(stored), after = to_json(wanted);
  for (auto it = before.begin(); it != before.end(); ++it)
    if (after.at(it.key()) != it.value())
      throw ConfigError("--resume: the run was trained with " + it.key() + " = " + it.value().dump() +
                        "; only --epochs, --device, --precision, --lstm-impl, --cudnn-algo and --threads can change "
                        "when resuming");
  if (!a.preset.empty()) throw ConfigError("--resume: --preset cannot be combined with --resume");
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

  RunState state;
  std::optional<Checkpoint> resumed;
  BestCheckpointPlan best_plan;
  RunFolder run(resuming ? resume_folder : fs::path(a.out.empty() ? default_run_folder() : a.out));
  if (resuming) {
    run.open_existing();
    resumed = load_checkpoint(run.last());
    json last_metadata;
    try {
      last_metadata = json::parse(resumed->metadata);
      state = run_state_from(last_metadata);
    } catch (const json::exception& e) {
      throw FileError(run.last().string() + ": its metadata is not a training run's (" + e.what() + ")");
    } catch (const Error& e) {
      throw FileError(run.last().string() + ": " + e.what());
    }
    run.mark(state.run_id);
    check_unchanged(state.settings, a);
    if (a.precision_option && a.precision_option->count() > 0)
      state.precision = a.device.precision;  // changed on purpose
    else
      request.precision = state.precision;
    device = choose_device(request);
    for (const auto& [name, option] : a.setting_options)
      if (name == "epochs" && option->count() > 0) state.settings.epochs = a.values.epochs;
    if (!a.data.empty()) {
      if (state.demo && a.data != "demo") throw ConfigError("--resume: this run trained on the demo corpus");
      if (!state.demo) state.data_folder = fs::absolute(a.data);
    }
    validate(state.settings);
    if (resumed->epochs_done >= state.settings.epochs) {
      reporter.info("run " + run.root().string() + " already has " + std::to_string(resumed->epochs_done) +
                    " of " + std::to_string(state.settings.epochs) +
                    " epochs; pass --epochs N (more) to train further");
      return;
    }
    // Refusals now, before anything is written; a rebuild once the data checks out.
    best_plan = plan_best_checkpoint(run.best(), last_metadata, resumed->epochs_done);
  } else {
    const std::string preset_name = a.preset.empty() ? (a.data == "demo" ? "demo" : "recipe") : a.preset;
    state.settings = apply_options(preset(preset_name), a);
    validate(state.settings);
    device = choose_device(request);
    state.precision = a.device.precision;
    state.demo = a.data == "demo";
    state.strict = a.strict;
    state.run_id = new_run_id();
    run.create_fresh(state.run_id);
  }
  if (!device.note.empty()) reporter.info(device.note);
  const bool gpu = device.backend->device() == Device::cuda;


  if (state.demo) {
    state.data_folder = fs::absolute(run.demo_corpus());
    if (!resuming || !fs::is_directory(state.data_folder)) write_demo_corpus(state.data_folder, kDemoPieces);
    reporter.info("data: the built-in DEMO corpus (" + std::to_string(kDemoPieces) +
                  " simple pieces generated in code, not real music) in " + state.data_folder.string());
  } else if (!resuming) {
    state.data_folder = fs::absolute(a.data);
  }
  const Settings& s = state.settings;
  LoadedData data = load_data(state.data_folder, s, state.strict, reporter);
  const Dataset& ds = data.dataset;
  const std::vector<std::string>& vocabulary = ds.vocab.symbols();

  if (resuming) {
    if (vocabulary != resumed->vocabulary)
      throw ConfigError(state.data_folder.string() + ": the data gives a different vocabulary (" +
                        std::to_string(vocabulary.size()) + " symbols) than the run's checkpoint (" +
                        std::to_string(resumed->vocabulary.size()) + "); it changed since the run began");
    json now = corpus_json(data);
    if (!state.corpus.contains("fingerprint")) now.erase("fingerprint");  // a run from before fingerprints
    if (now != state.corpus)
      throw ConfigError(state.data_folder.string() + ": the data gives other windows than when the run began " +
                        "(files added, removed, renamed, reordered or changed)");
  } else {
    state.corpus = corpus_json(data);
    state.skipped = data.skipped;
  }

  state.settings.batch = capped_batch(s.batch, ds, reporter);
  const ModelConfig mc = model_config(s, int(vocabulary.size()));
  TrainerConfig tc = trainer_config(s, gpu);
  require_model_memory(device, mc, s.batch, true, "--batch " + std::to_string(s.batch));
  Model model(*device.backend, mc, s.batch);
  Trainer trainer(model, tc);
  if (resuming) {
    apply_best_plan(best_plan, run, state, *resumed, reporter);
    model.upload_parameters(resumed->parameters);
    trainer.optimizer().restore(resumed->optimizer_steps, resumed->first_moment, resumed->infinity_norm);
    trainer.set_epochs_done(resumed->epochs_done);
    state.history.resize(std::min(state.history.size(), std::size_t(resumed->epochs_done)));
    resumed.reset();
  } else {
    model.initialize(s.seed);
  }

  const WindowSet train{ds.tokens, ds.train_starts};
  const WindowSet heldout{ds.tokens, ds.heldout_starts};
  const WindowSet* validation = ds.heldout_starts.empty() ? nullptr : &heldout;

  json config = metadata(state);
  config.erase("history");
  config.erase("best");
  config["device"] = device.description;
  config["parameters"] = ParameterLayout(mc).parameter_count();
  config["vocabulary_size"] = vocabulary.size();
  run.write_json(run.config(), config);
  ds.vocab.save(run.vocabulary());
  run.write_history(state.history);
  StopSignals signals;  // from here on, Ctrl-C stops cleanly
  if (!resuming) save_checkpoint(run.last(), make_checkpoint(trainer, vocabulary, state, tc));

  reporter.info(std::string(resuming ? "resuming " : "training ") + "in " + run.root().string() + " on " +
                device.description + ": " + std::to_string(vocabulary.size()) + " symbols, " +
                std::to_string(ds.train_starts.size()) + " training and " + std::to_string(ds.heldout_starts.size()) +
                " held-out windows, " + std::to_string(ParameterLayout(mc).parameter_count()) + " parameters, " +
                (resuming ? "from epoch " + std::to_string(trainer.epochs_done()) + " " : "") + "to epoch " +
                std::to_string(s.epochs));
  reporter.event("start", {{"run", run.root().string()},
                           {"resumed_from_epoch", trainer.epochs_done()},
                           {"device", device.description},
                           {"data", state.data_folder.string()},
                           {"demo", state.demo},
                           {"settings", to_json(s)},
                           {"corpus", state.corpus},
                           {"parameters", ParameterLayout(mc).parameter_count()}});

  auto interrupted = [&](const std::string& when) {
    reporter.clear_bar();
    const std::string saved = trainer.epochs_done() > 0
                                  ? "last.ckpt holds epoch " + std::to_string(trainer.epochs_done())
                                  : "last.ckpt holds the initial model (epoch 0)";
    reporter.info(std::string("interrupted by ") + stop_signal_name() + " " + when + "; " + saved + " in " +
                  run.root().string() + "; continue with: nocturne train --resume " + run.root().string());
    reporter.event("interrupted", {{"signal", stop_signal_name()},
                                   {"epochs_done", trainer.epochs_done()},
                                   {"checkpoint", run.last().string()}});
    throw CLI::RuntimeError(kInterruptedExitCode);
  };

  while (trainer.epochs_done() < s.epochs) {
    const EpochResult result = trainer.train_epoch(train, validation, [&](const Progress& p) {
      reporter.progress(p, s.epochs);
      return !stop_requested();
    });
    if (!result.completed) interrupted("during epoch " + std::to_string(result.epoch) + " (discarded)");
    reporter.clear_bar();
    HistoryRow row;
    row.epoch = result.epoch;
    row.loss = result.loss;
    row.accuracy = result.accuracy;
    if (result.validation) {
      row.val_loss = result.validation->loss;
      row.val_accuracy = result.validation->accuracy;
      row.val_perplexity = result.validation->perplexity;
    }
    row.seconds = result.seconds;
    row.windows_per_second = result.windows_per_second;
    state.history.push_back(row);
    const std::string metric = row.val_loss ? "val_loss" : "loss";
    const double value = row.val_loss ? *row.val_loss : row.loss;
    const bool best = !state.best_epoch || value < state.best_value;
    if (best) {
      state.best_epoch = row.epoch;
      state.best_metric = metric;
      state.best_value = value;
    }
    const Checkpoint checkpoint = make_checkpoint(trainer, vocabulary, state, tc);
    save_checkpoint(run.last(), checkpoint);
    if (best) save_checkpoint(run.best(), checkpoint);
    run.write_history(state.history);
    write_plot(run, state, reporter);
    if (reporter.jsonl()) {
      json e = to_json(row);
      e["best"] = best;
      e["epochs"] = s.epochs;
      e["checkpoint"] = run.last().string();
      reporter.event("epoch", e);
    } else {
      reporter.info(epoch_line(row, s.epochs, best));
    }
    if (stop_requested() && trainer.epochs_done() < s.epochs)
      interrupted("after epoch " + std::to_string(trainer.epochs_done()));
  }

  const std::string best_text = state.best_epoch ? "best.ckpt is epoch " + std::to_string(*state.best_epoch) + " (" +
                                                       state.best_metric + " " + fixed(state.best_value, 4) + ")"
                                                 : "no best epoch";
  reporter.info("done: " + std::to_string(trainer.epochs_done()) + " epochs in " + run.root().string() + "; " +
                best_text);
  reporter.event("done", {{"run", run.root().string()},
                          {"epochs_done", trainer.epochs_done()},
                          {"best_epoch", state.best_epoch ? json(*state.best_epoch) : json(nullptr)},
                          {"best_metric", state.best_metric},
                          {"best_value", state.best_epoch ? json(state.best_value) : json(nullptr)}});
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
  Settings& v = a->values;
  auto setting = [&](const std::string& key, CLI::Option* option) { a->setting_options.emplace_back(key, option); };
  setting("hidden1", cmd->add_option("--hidden1", v.hidden1, "Units of the first LSTM (recipe 512)"));
  setting("hidden2", cmd->add_option("--hidden2", v.hidden2, "Units of the second LSTM (recipe 256)"));
  setting("dense", cmd->add_option("--dense", v.dense, "Units of the hidden dense layer (recipe 256)"));
  setting("window", cmd->add_option("--window", v.window, "Input steps per window (recipe 40)"));
  setting("dropout", cmd->add_option("--dropout", v.dropout, "Dropout rate (recipe 0.1)"));
  setting("input", cmd->add_option("--input", v.input, "Input features: scalar (index / V, the recipe's) or embedding")
                       ->check(CLI::IsMember({"scalar", "embedding"})));
  setting("embedding_dim", cmd->add_option("--embedding-dim", v.embedding_dim, "Embedding size for --input embedding"));
  setting("min_count", cmd->add_option("--min-count", v.min_count, "Drop symbols rarer than this (recipe 100)"));
  setting("split", cmd->add_option("--split", v.split, "Held-out split: random (windows, the recipe's) or piece")
                       ->check(CLI::IsMember({"random", "piece"})));
  setting("heldout", cmd->add_option("--heldout", v.heldout, "Held-out fraction used for validation (0.2; 0 = none)"));
  setting("epochs", cmd->add_option("--epochs", v.epochs, "Epochs in total (recipe 200); with --resume, the new total")
                        ->check(at_least(1)));
  setting("batch", cmd->add_option("--batch", v.batch, "Windows per batch (recipe 256)"));
  setting("lr", cmd->add_option("--lr", v.lr, "Adamax learning rate (recipe 0.01)"));
  setting("seed", cmd->add_option("--seed", v.seed, "Seed of initialisation, split, shuffling and dropout (1)")
                      ->check(seed_number()));
  cmd->add_option("--device", a->device.device, "auto (CUDA when usable, else CPU), cpu or cuda")
      ->capture_default_str()
      ->check(CLI::IsMember({"auto", "cpu", "cuda"}));
  a->precision_option =
      cmd->add_option("--precision", a->device.precision,
                      "GEMM operands: fp32, tf32 or bf16 (tensor cores on the GPU; an emulation on the CPU); kept "
                      "when resuming unless given")
          ->capture_default_str();
  cmd->add_option("--threads", a->device.threads, kThreadsHelp)
      ->capture_default_str();
  cmd->add_option("--lstm-impl", a->device.lstm_impl,
                  "LSTM layers: classic (whole-sequence ops; 'ours' is its former name), fused (one step program "
                  "per training step, the layers as a wavefront; on the CPU too), persistent (fused, each layer's "
                  "forward sequence one persistent kernel where it fits) or cudnn (GPU only, for comparison)")
      ->capture_default_str();
  cmd->add_option("--cudnn-algo", a->device.cudnn_algo,
                  "cuDNN's RNN algorithm with --lstm-impl cudnn: standard (default), persist_static, "
                  "persist_dynamic or persist_static_small_h");
  cmd->add_flag("--jsonl", a->jsonl, "Print one JSON object per event on stdout (for scripts)");
  cmd->add_flag("--strict", a->strict, "Stop at an unreadable MIDI file instead of skipping it");
  cmd->callback([a] { run_train(*a); });
}

void add_demo_corpus_command(CLI::App& app) {
  struct Args {
    std::string folder;
    int count = kDemoPieces;
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
