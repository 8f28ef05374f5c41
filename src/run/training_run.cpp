// A training run in its folder (training_run.hpp): settings, data, resume
// checks, checkpoints and history. What `nocturne train` does, without the
// printing.

#include "nocturne/training_run.hpp"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdio>
#include <limits>

#include <nlohmann/json.hpp>

#include "nocturne/checkpoint.hpp"
#include "nocturne/demo_corpus.hpp"
#include "nocturne/error.hpp"
#include "nocturne/timed_tokens.hpp"
#include "nocturne/version.hpp"
#include "run/best_checkpoint.hpp"
#include "run/init_from.hpp"
#include "run/run_folder.hpp"
#include "run/transposed_epochs.hpp"
#include "checkpoint/fnv1a64.hpp"

namespace nocturne::inline v0 {

namespace {

using nlohmann::json;
namespace fs = std::filesystem;

constexpr int kDemoPieces = 16;

json to_json(const TrainingSettings& s) {
  return {{"window", s.window},   {"hidden1", s.hidden1},       {"hidden2", s.hidden2},
          {"dense", s.dense},     {"dropout", s.dropout},       {"input", s.input},
          {"embedding_dim", s.embedding_dim},                   {"min_count", s.min_count},
          {"split", s.split},     {"heldout", s.heldout},       {"epochs", s.epochs},
          {"batch", s.batch},     {"lr", s.lr},                 {"seed", s.seed},
          {"weight_decay", s.weight_decay}, {"input_dropout", s.input_dropout},
          {"recurrent_dropout", s.recurrent_dropout}, {"label_smoothing", s.label_smoothing},
          {"lr_schedule", s.lr_schedule}, {"warmup", s.warmup}, {"lr_decay_epochs", s.lr_decay_epochs},
          {"lr_floor", s.lr_floor}, {"patience", s.patience},
          {"transpose", s.transpose}, {"init_from", s.init_from}, {"tokens", s.tokens}};
}

TrainingSettings settings_from_json(const json& j) {
  TrainingSettings s;
  s.window = j.at("window").get<std::int64_t>();
  s.hidden1 = j.at("hidden1").get<std::int64_t>();
  s.hidden2 = j.at("hidden2").get<std::int64_t>();
  s.dense = j.at("dense").get<std::int64_t>();
  s.dropout = j.at("dropout").get<double>();
  s.input = j.at("input").get<std::string>();
  s.embedding_dim = j.at("embedding_dim").get<std::int64_t>();
  s.min_count = j.at("min_count").get<std::int64_t>();
  s.split = j.at("split").get<std::string>();
  s.heldout = j.at("heldout").get<double>();
  s.epochs = j.at("epochs").get<std::int64_t>();
  s.batch = j.at("batch").get<std::int64_t>();
  s.lr = j.at("lr").get<double>();
  s.seed = j.at("seed").get<std::uint64_t>();
  // Runs from before the regularisers have none of these: the defaults (off).
  s.weight_decay = j.value("weight_decay", s.weight_decay);
  s.input_dropout = j.value("input_dropout", s.input_dropout);
  s.recurrent_dropout = j.value("recurrent_dropout", s.recurrent_dropout);
  s.label_smoothing = j.value("label_smoothing", s.label_smoothing);
  s.lr_schedule = j.value("lr_schedule", s.lr_schedule);
  s.warmup = j.value("warmup", s.warmup);
  s.lr_decay_epochs = j.value("lr_decay_epochs", s.lr_decay_epochs);
  s.lr_floor = j.value("lr_floor", s.lr_floor);
  s.patience = j.value("patience", s.patience);
  s.transpose = j.value("transpose", std::string("0"));  // runs from before transposition and fine-tuning
  s.init_from = j.value("init_from", std::string());
  if (j.contains("tokens")) s.tokens = j.at("tokens").get<std::string>();  // runs before it: recipe
  return s;
}

TrainerConfig trainer_config(const TrainingSettings& s, bool gpu) {
  TrainerConfig t;
  t.batch = s.batch;
  t.adamax.learning_rate = s.lr;
  t.adamax.weight_decay = s.weight_decay;
  t.schedule.kind = parse_schedule(s.lr_schedule);
  t.schedule.warmup = int(std::min<std::int64_t>(s.warmup, INT_MAX));
  t.schedule.decay_end = int(std::min<std::int64_t>(s.lr_decay_epochs > 0 ? s.lr_decay_epochs : s.epochs, INT_MAX));
  t.schedule.floor = s.lr_floor;
  t.seed = s.seed;
  t.stats_every = gpu ? 16 : 1;  // a GPU sync per step costs more than it shows
  return t;
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

std::string fixed(double value, int digits) {
  char text[48];
  std::snprintf(text, sizeof(text), "%.*f", digits, value);
  return text;
}

// The quality preset (docs/cli.md): the small model on embeddings, split by
// piece, with the regularisers chosen by held-out cross-entropy on the
// Chopin corpus (small preset, seed 1; docs/quality.md): recurrent dropout
// helped most alone, and this combination more; the cosine schedule with a
// warm-up did not help. At most 16 epochs (some 15 minutes on one core).
TrainingSettings quality_preset() {
  TrainingSettings s;
  s.hidden1 = 128;
  s.hidden2 = 64;
  s.dense = 64;
  s.batch = 128;
  s.epochs = 20;
  s.input = "embedding";
  s.split = "piece";
  s.transpose = "all";  // the largest single gain on unseen pieces (docs/quality.md)
  s.weight_decay = 0.01;
  s.input_dropout = 0.2;
  s.recurrent_dropout = 0.3;
  s.label_smoothing = 0.1;
  s.patience = 3;
  return s;
}

// A precision name the backends take (as choose_device says it).
void check_precision(const std::string& precision) {
  try {
    (void)parse_math_mode(precision);
  } catch (const ConfigError& e) {
    throw ConfigError(std::string("--precision: ") + e.what());
  }
}

void say(const std::function<void(const std::string&)>& to, const std::string& message) {
  if (to) to(message);
}

}  // namespace

void TrainingSettings::validate() const {
  // A run's own rules first: the trainer's allow 0 epochs, a run does not.
  if (epochs < 1) throw ConfigError("--epochs must be >= 1, got " + std::to_string(epochs));
  const std::pair<const char*, std::int64_t> sizes[] = {{"--window", window},   {"--hidden1", hidden1},
                                                        {"--hidden2", hidden2}, {"--dense", dense},
                                                        {"--embedding-dim", embedding_dim},
                                                        {"--epochs", epochs},   {"--batch", batch}};
  for (const auto& [name, value] : sizes)
    if (value > INT_MAX)
      throw ConfigError(std::string(name) + " must be at most " + std::to_string(INT_MAX) + ", got " +
                        std::to_string(value));
  // The regularisers' own names, before the model's and trainer's rules name them otherwise.
  const std::pair<const char*, double> rates[] = {{"--dropout", dropout},
                                                  {"--input-dropout", input_dropout},
                                                  {"--recurrent-dropout", recurrent_dropout},
                                                  {"--label-smoothing", label_smoothing}};
  for (const auto& [name, rate] : rates)
    if (!(rate >= 0 && rate < 1)) throw ConfigError(std::string(name) + " must lie in [0, 1), got " + std::to_string(rate));
  if (!(weight_decay >= 0 && std::isfinite(weight_decay)))
    throw ConfigError("--weight-decay must be finite and >= 0, got " + std::to_string(weight_decay));
  if (lr_schedule != "constant" && lr_schedule != "cosine" && lr_schedule != "linear")
    throw ConfigError("--lr-schedule: unknown value '" + lr_schedule + "' (expected constant, cosine or linear)");
  const std::pair<const char*, std::int64_t> counts[] = {
      {"--warmup", warmup}, {"--lr-decay-epochs", lr_decay_epochs}, {"--patience", patience}};
  for (const auto& [name, value] : counts)
    if (value < 0 || value > INT_MAX)
      throw ConfigError(std::string(name) + " must lie in [0, " + std::to_string(INT_MAX) + "], got " +
                        std::to_string(value));
  if (!(lr_floor > 0 && lr_floor <= 1)) throw ConfigError("--lr-floor must lie in (0, 1], got " + std::to_string(lr_floor));
  nocturne::model_config(*this, 1).validate();
  trainer_config(*this, false).validate();
  if (min_count < 0) throw ConfigError("--min-count must be >= 0, got " + std::to_string(min_count));
  if (split != "random" && split != "piece")
    throw ConfigError("--split: unknown value '" + split + "' (expected random or piece)");
  if (!(heldout >= 0 && heldout < 1)) throw ConfigError("--heldout must lie in [0, 1), got " + std::to_string(heldout));
  if (!parse_transpose(transpose).off() && split != "piece" && heldout > 0)
    throw ConfigError("--transpose needs --split piece: with the random split every piece holds held-out windows, "
                      "whose transposed copies would be trained on");
  if (tokens != "recipe" && tokens != "timed")
    throw ConfigError("--tokens: unknown value '" + tokens + "' (expected recipe or timed)");
}

TrainingSettings training_preset(std::string_view name) {
  TrainingSettings s;  // recipe
  if (name != "recipe" && name != "small" && name != "demo" && name != "quality")
    throw ConfigError("preset: unknown name '" + std::string(name) + "' (expected recipe, small, demo or quality)");
  if (name == "quality") return quality_preset();
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

ModelConfig model_config(const TrainingSettings& s, std::int64_t vocab) {
  ModelConfig c;
  c.vocab = vocab;
  c.window = s.window;
  c.hidden1 = s.hidden1;
  c.hidden2 = s.hidden2;
  c.dense = s.dense;
  c.dropout = s.dropout;
  c.input = parse_input_mode(s.input);
  c.embedding_dim = s.embedding_dim;
  c.input_dropout = s.input_dropout;
  c.recurrent_dropout = s.recurrent_dropout;
  c.label_smoothing = s.label_smoothing;
  return c;
}

// ---- the run's state -------------------------------------------------------------

struct TrainingRun::State {
  RunFolder folder{fs::path()};
  bool resumed = false;
  std::string run_id;  // the run's identity in every checkpoint it writes
  TrainingSettings settings;
  std::string precision = "fp32";
  fs::path data_folder;  // absolute
  bool demo = false;
  bool strict = false;  // stop at a bad file (kept in the metadata as "strict")
  json corpus;          // CorpusStats and fingerprint
  std::vector<std::string> skipped;
  std::vector<HistoryRow> history;
  std::optional<BestEpoch> best;
  json init_from;  // the source of --init-from and the vocabulary mapping; null for a fresh start

  // Resuming: last.ckpt until start() restores it, its metadata, and what
  // best.ckpt needs (settled before anything is written, done by start()).
  std::optional<Checkpoint> last;
  json last_metadata;
  BestCheckpointPlan best_plan;

  // After load_data / start.
  std::optional<Dataset> dataset;
  std::unique_ptr<Model> model;
  std::unique_ptr<Trainer> trainer;
  TrainerConfig trainer_config;
  std::vector<TransposedPiece> transposed;  // --transpose: the training pieces in their keys
  std::optional<Checkpoint> init_source;    // --init-from, until start() applies it

  json metadata() const {
    json rows = json::array();
    for (const auto& row : history) rows.push_back(to_json(row));
    json best_json = nullptr;
    if (best) best_json = {{"epoch", best->epoch}, {"metric", best->metric}, {"value", best->value}};
    json data = {{"demo", demo}, {"strict", strict}, {"skipped", skipped}};
    put_path(data, "folder", data_folder);
    json m = {{"nocturne_version", version_string},
              {"run_id", run_id},
              {"settings", to_json(settings)},
              {"precision", precision},
              {"data", data},
              {"corpus", corpus},
              {"history", rows},
              {"best", best_json}};
    if (!init_from.is_null()) m["init_from"] = init_from;
    return m;
  }

  void read_metadata(const json& m) {
    // A run from before run ids gets one now, carried from here on.
    run_id = m.contains("run_id") ? m.at("run_id").get<std::string>() : new_run_id();
    settings = settings_from_json(m.at("settings"));
    if (m.contains("precision")) precision = m.at("precision").get<std::string>();  // runs before it: fp32
    (void)m.at("data").at("folder");  // required (throws json's out_of_range naming the key)
    data_folder = get_path(m.at("data"), "folder").value_or(fs::path());
    demo = m.at("data").at("demo").get<bool>();
    strict = m.at("data").at("strict").get<bool>();
    skipped = m.at("data").at("skipped").get<std::vector<std::string>>();
    corpus = m.at("corpus");
    if (m.contains("init_from")) init_from = m.at("init_from");
    for (const auto& row : m.at("history")) history.push_back(history_row_from_json(row));
    if (!m.at("best").is_null())
      best = BestEpoch{m.at("best").at("epoch").get<int>(), m.at("best").at("metric").get<std::string>(),
                       m.at("best").at("value").get<double>()};
  }

  Checkpoint checkpoint() const {
    Checkpoint c;
    c.model = model->config();
    c.trainer = trainer_config;
    c.vocabulary = dataset->vocab.symbols();
    c.epochs_total = int(settings.epochs);
    c.epochs_done = trainer->epochs_done();
    c.optimizer_steps = trainer->optimizer().steps_taken();
    c.parameters = model->download_parameters();
    c.first_moment = trainer->optimizer().download_first_moment();
    c.infinity_norm = trainer->optimizer().download_infinity_norm();
    c.metadata = metadata().dump(-1, ' ', false, json::error_handler_t::replace);
    return c;
  }

  // --transpose: every training piece in its keys; --init-from (a new run): the
  // source checkpoint, checked against this run's model before anything is written.
  void load_augmentation(const RunMessages& messages) {
    State& s = *this;
    const Dataset& ds = *s.dataset;
    const TransposeRange range = parse_transpose(s.settings.transpose);
    s.transposed.clear();
    if (!range.off()) {
      s.transposed = transpose_training_pieces(ds, s.data_folder, range, parse_token_kind(s.settings.tokens));
      std::size_t keys = 0;
      std::int64_t made = 0, dropped = 0;
      for (const TransposedPiece& p : s.transposed) {
        keys += p.shifts.size();
        made += p.transposed_tokens;
        dropped += p.dropped;
      }
      say(messages.info, "--transpose " + s.settings.transpose + ": " + std::to_string(s.transposed.size()) +
                             " training pieces in " + std::to_string(keys) + " keys, one drawn per piece each epoch; " +
                             fixed(made > 0 ? 100.0 * double(dropped) / double(made) : 0.0, 1) +
                             " % of the transposed tokens are outside the vocabulary (dropped)");
    }
    if (s.settings.init_from.empty() || s.last) return;
    Checkpoint source = load_checkpoint(s.settings.init_from);
    const ModelConfig target = nocturne::model_config(s.settings, std::int64_t(ds.vocab.size()));
    check_init_from(source.model, target, source.vocabulary == ds.vocab.symbols(), s.settings.init_from);
    s.init_source = std::move(source);
  }

  // Makes best.ckpt the run's own best epoch again (see best_checkpoint.hpp).
  void apply_best_plan(const BestCheckpointPlan& plan, const RunMessages& messages) {
    Checkpoint& l = *last;
    const std::string last_epoch = std::to_string(l.epochs_done);
    if (plan.action == BestCheckpointPlan::rewrite_from_last) {
      save_checkpoint(folder.best(), l);
      say(messages.warning, plan.reason + ": rewritten from last.ckpt (epoch " + last_epoch + ", the run's best)");
    } else if (plan.action == BestCheckpointPlan::reset_to_last) {
      const auto row = std::find_if(history.begin(), history.end(),
                                    [&](const HistoryRow& r) { return r.epoch == l.epochs_done; });
      if (row == history.end())
        throw FileError(folder.last().string() + ": its history has no row for its epoch " + last_epoch);
      const int lost = best ? best->epoch : 0;
      best = BestEpoch{row->epoch, row->val_loss ? "val_loss" : "loss", row->val_loss ? *row->val_loss : row->loss};
      l.metadata = metadata().dump(-1, ' ', false, json::error_handler_t::replace);
      save_checkpoint(folder.last(), l);
      save_checkpoint(folder.best(), l);
      say(messages.warning, plan.reason + "; the parameters of the best epoch " + std::to_string(lost) +
                                " are gone, so best.ckpt restarts from last.ckpt (epoch " + last_epoch + ", " +
                                best->metric + " " + fixed(best->value, 4) + ")");
    }
  }
};

TrainingRun::TrainingRun(std::unique_ptr<State> state) : s_(std::move(state)) {}
TrainingRun::TrainingRun(TrainingRun&&) noexcept = default;
TrainingRun& TrainingRun::operator=(TrainingRun&&) noexcept = default;
TrainingRun::~TrainingRun() = default;

TrainingRun TrainingRun::create(const fs::path& folder, const TrainingSettings& settings, const TrainingData& data,
                                std::string precision) {
  settings.validate();
  check_precision(precision);
  if (!data.demo && data.folder.empty()) throw ConfigError("train: no data folder given");
  auto s = std::make_unique<State>();
  s->folder = RunFolder(folder);
  s->settings = settings;
  s->precision = std::move(precision);
  s->demo = data.demo;
  s->strict = data.on_bad_file == BadFilePolicy::stop;
  if (!data.demo) s->data_folder = fs::absolute(data.folder);
  // The decay's end is fixed now, so that raising --epochs on resume keeps the schedule.
  if (s->settings.lr_decay_epochs == 0 && s->settings.lr_schedule != "constant")
    s->settings.lr_decay_epochs = s->settings.epochs;
  s->run_id = new_run_id();
  s->folder.create_fresh(s->run_id);
  return TrainingRun(std::move(s));
}

TrainingRun TrainingRun::resume(const fs::path& folder_or_last) {
  auto s = std::make_unique<State>();
  s->folder = RunFolder(run_folder_to_resume(folder_or_last));
  s->resumed = true;
  s->folder.open_existing();
  s->last = load_checkpoint(s->folder.last());
  try {
    s->last_metadata = json::parse(s->last->metadata);
    s->read_metadata(s->last_metadata);
  } catch (const json::exception& e) {
    throw FileError(s->folder.last().string() + ": its metadata is not a training run's (" + e.what() + ")");
  } catch (const Error& e) {
    throw FileError(s->folder.last().string() + ": " + e.what());
  }
  s->folder.mark(s->run_id);
  return TrainingRun(std::move(s));
}

const fs::path& TrainingRun::folder() const { return s_->folder.root(); }
fs::path TrainingRun::last_checkpoint() const { return s_->folder.last(); }
fs::path TrainingRun::best_checkpoint() const { return s_->folder.best(); }
const std::string& TrainingRun::run_id() const { return s_->run_id; }
bool TrainingRun::resumed() const { return s_->resumed; }
const TrainingSettings& TrainingRun::settings() const { return s_->settings; }
const std::string& TrainingRun::precision() const { return s_->precision; }
const fs::path& TrainingRun::data_folder() const { return s_->data_folder; }
bool TrainingRun::demo() const { return s_->demo; }
const std::vector<HistoryRow>& TrainingRun::history() const { return s_->history; }
std::optional<BestEpoch> TrainingRun::best() const { return s_->best; }
Model& TrainingRun::model() {
  if (!s_->model) throw ConfigError("training run: start() builds the model");
  return *s_->model;
}
std::uint64_t TrainingRun::parameter_count() const { return ParameterLayout(model_config()).parameter_count(); }

std::optional<std::string> TrainingRun::stopped_early() const {
  const State& s = *s_;
  if (s.settings.patience <= 0 || !s.best || s.best->metric != "val_loss" || s.history.empty()) return std::nullopt;
  const int since = s.history.back().epoch - s.best->epoch;
  if (since < s.settings.patience) return std::nullopt;
  return "stopped early: no lower val_loss in the " + std::to_string(since) + " epochs since epoch " +
         std::to_string(s.best->epoch) + " (val_loss " + fixed(s.best->value, 4) + ", --patience " +
         std::to_string(s.settings.patience) + "); best.ckpt is that epoch";
}

int TrainingRun::epochs_done() const {
  if (s_->trainer) return s_->trainer->epochs_done();
  return s_->last ? s_->last->epochs_done : 0;
}

void TrainingRun::set_epochs(std::int64_t total) {
  TrainingSettings changed = s_->settings;
  changed.epochs = total;
  changed.validate();
  s_->settings.epochs = total;
}

void TrainingRun::set_precision(std::string precision) {
  check_precision(precision);
  s_->precision = std::move(precision);
}

void TrainingRun::set_data_folder(const fs::path& folder) {
  if (s_->demo) throw ConfigError("--resume: this run trained on the demo corpus");
  s_->data_folder = fs::absolute(folder);
}

void TrainingRun::require_settings(const TrainingSettings& wanted_settings) const {
  TrainingSettings wanted = wanted_settings;
  wanted.epochs = s_->settings.epochs;
  const json before = to_json(s_->settings), after = to_json(wanted);
  for (auto it = before.begin(); it != before.end(); ++it)
    if (after.at(it.key()) != it.value())
      throw ConfigError("--resume: the run was trained with " + it.key() + " = " + it.value().dump() +
                        "; only --epochs, --device, --precision, --lstm-impl, --cudnn-algo and --threads can change "
                        "when resuming");
}

void TrainingRun::load_data(const RunMessages& messages) {
  State& s = *s_;
  s.settings.validate();
  // Refusals now, before anything is written; best.ckpt is rebuilt once the data checks out.
  if (s.resumed) s.best_plan = plan_best_checkpoint(s.folder.best(), s.last_metadata, s.last->epochs_done);
  if (s.demo) {
    s.data_folder = fs::absolute(s.folder.demo_corpus());
    std::error_code ec;
    if (!s.resumed || !fs::is_directory(s.data_folder, ec)) write_demo_corpus(s.data_folder, kDemoPieces);
    say(messages.info, "data: the built-in DEMO corpus (" + std::to_string(kDemoPieces) +
                           " simple pieces generated in code, not real music) in " + s.data_folder.string());
  }
  CorpusReadOptions reading;
  reading.tokens = parse_token_kind(s.settings.tokens);
  reading.on_skip = [&](const std::string& name, const Error& why) {
    if (s.strict) throw FileError(std::string(why.what()) + " (--strict: stopping at the first unreadable file)");
    say(messages.warning, "skipping unreadable MIDI file " + name + ": " + why.what());
  };
  const Corpus corpus = read_corpus(s.data_folder, reading);
  DatasetOptions options;
  options.min_count = s.settings.min_count;
  options.window = s.settings.window;
  options.split = s.settings.split == "piece" ? SplitMode::piece : SplitMode::random;
  options.seed = s.settings.seed;
  options.heldout_fraction = s.settings.heldout;
  CorpusStats stats;
  Dataset ds = build_dataset(corpus.files, options, &stats);
  if (ds.train_starts.empty())
    throw ConfigError(s.data_folder.string() + ": no training windows of " + std::to_string(s.settings.window) +
                      " tokens (lower --window or --min-count, or add music)");
  json now = to_json(stats);
  now["fingerprint"] = data_fingerprint(ds);
  if (s.resumed) {
    if (ds.vocab.symbols() != s.last->vocabulary)
      throw ConfigError(s.data_folder.string() + ": the data gives a different vocabulary (" +
                        std::to_string(ds.vocab.size()) + " symbols) than the run's checkpoint (" +
                        std::to_string(s.last->vocabulary.size()) + "); it changed since the run began");
    if (!s.corpus.contains("fingerprint")) now.erase("fingerprint");  // a run from before fingerprints
    if (now != s.corpus)
      throw ConfigError(s.data_folder.string() + ": the data gives other windows than when the run began " +
                        "(files added, removed, renamed, reordered or changed)");
  } else {
    s.corpus = now;
    s.skipped = corpus.skipped;
  }
  // More windows per batch than there are windows changes nothing but the
  // memory taken: an epoch is one batch either way, and so is the validation.
  const std::size_t windows = std::max(ds.train_starts.size(), ds.heldout_starts.size());
  if (windows > 0 && std::size_t(s.settings.batch) > windows) {
    say(messages.info, "--batch " + std::to_string(s.settings.batch) + " is more than the " + std::to_string(windows) +
                           " windows of the data (training or held-out): using " + std::to_string(windows));
    s.settings.batch = std::int64_t(windows);
  }
  s.dataset = std::move(ds);
  s.load_augmentation(messages);
}


const Dataset& TrainingRun::dataset() const {
  if (!s_->dataset) throw ConfigError("training run: load_data() reads the data");
  return *s_->dataset;
}

ModelConfig TrainingRun::model_config() const {
  return nocturne::model_config(s_->settings, std::int64_t(dataset().vocab.size()));
}

std::string TrainingRun::corpus_json() const { return s_->corpus.dump(); }
std::string TrainingRun::settings_json() const { return to_json(s_->settings).dump(); }

void TrainingRun::start(Backend& backend, const std::string& device_description, const RunMessages& messages) {
  State& s = *s_;
  const Dataset& ds = dataset();
  const ModelConfig mc = model_config();
  s.trainer_config = trainer_config(s.settings, backend.device() == Device::cuda);
  s.trainer.reset();
  s.model = std::make_unique<Model>(backend, mc, s.settings.batch);
  s.trainer = std::make_unique<Trainer>(*s.model, s.trainer_config);
  if (s.last) {
    s.apply_best_plan(s.best_plan, messages);
    s.model->upload_parameters(s.last->parameters);
    s.trainer->optimizer().restore(s.last->optimizer_steps, s.last->first_moment, s.last->infinity_norm);
    s.trainer->set_epochs_done(s.last->epochs_done);
    s.history.resize(std::min(s.history.size(), std::size_t(s.last->epochs_done)));
    s.last.reset();
  } else {
    s.model->initialize(s.settings.seed);
    if (s.init_source) {
      const std::vector<std::int32_t> mapping = map_vocabulary(ds.vocab.symbols(), s.init_source->vocabulary);
      s.model->upload_parameters(merge_parameters(mc, s.model->download_parameters(), *s.init_source, mapping));
      s.init_from = init_from_record(s.settings.init_from, *s.init_source, mapping);
      s.init_source.reset();
    }
  }
  json config = s.metadata();
  config.erase("history");
  config.erase("best");
  config["device"] = device_description;
  config["parameters"] = ParameterLayout(mc).parameter_count();
  config["vocabulary_size"] = ds.vocab.size();
  s.folder.write_json(s.folder.config(), config);
  ds.vocab.save(s.folder.vocabulary());
  s.folder.write_history(s.history);
  if (!s.resumed) save_checkpoint(s.folder.last(), s.checkpoint());
}

RunEpoch TrainingRun::train_epoch(const ProgressCallback& on_progress) {
  State& s = *s_;
  if (!s.trainer) throw ConfigError("training run: start() comes before train_epoch()");
  const Dataset& ds = *s.dataset;
  WindowSet train{ds.tokens, ds.train_starts};
  const WindowSet heldout{ds.tokens, ds.heldout_starts};
  TransposedEpoch keys;  // --transpose: this epoch's draw; held-out pieces stay as written
  if (!s.transposed.empty()) {
    keys = draw_transposed_epoch(s.transposed, ds.window, s.settings.seed, s.trainer->epochs_done() + 1);
    train = WindowSet{keys.tokens, keys.starts};
  }
  const EpochResult result = s.trainer->train_epoch(train, ds.heldout_starts.empty() ? nullptr : &heldout, on_progress);
  RunEpoch epoch;
  epoch.row.epoch = result.epoch;
  if (!result.completed) return epoch;
  epoch.completed = true;
  HistoryRow& row = epoch.row;
  row.loss = result.loss;
  row.accuracy = result.accuracy;
  if (result.validation) {
    row.val_loss = result.validation->loss;
    row.val_accuracy = result.validation->accuracy;
    row.val_perplexity = result.validation->perplexity;
  }
  row.seconds = result.seconds;
  row.windows_per_second = result.windows_per_second;
  row.lr = result.learning_rate;
  s.history.push_back(row);
  const std::string metric = row.val_loss ? "val_loss" : "loss";
  const double value = row.val_loss ? *row.val_loss : row.loss;
  epoch.best = !s.best || value < s.best->value;
  if (epoch.best) s.best = BestEpoch{row.epoch, metric, value};
  const Checkpoint checkpoint = s.checkpoint();
  save_checkpoint(s.folder.last(), checkpoint);
  if (epoch.best) save_checkpoint(s.folder.best(), checkpoint);
  s.folder.write_history(s.history);
  return epoch;
}

}  // namespace nocturne
