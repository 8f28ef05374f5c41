#pragma once
// A training run in a folder of its own, as `nocturne train` keeps it:
//   config.json       the settings, the data and the corpus statistics
//   vocabulary.txt    one symbol a line, in index order
//   history.csv       one row per completed epoch
//   last.ckpt         the latest completed epoch (epoch 0 = the initial model)
//   best.ckpt         the epoch with the lowest validation loss (training loss
//                     when there is no held-out set)
//   demo-corpus/      the generated MIDI files of a run on the demo corpus
//   .nocturne-run     the marker that says the folder is a run
// Every file is replaced atomically (temporary file + rename), so a run
// killed at any moment resumes from its last completed epoch. The checkpoint
// metadata carries the settings, the data, its fingerprint and the history:
// resuming needs nothing else, and refuses data that changed since.
//
// Use: create() or resume(); load_data(); start(backend); then train_epoch()
// until finished(). Lifetimes: the backend given to start() must outlive the
// run. Threads: a run is used by one thread at a time; its callbacks are
// called on that thread.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "nocturne/backend.hpp"
#include "nocturne/corpus.hpp"
#include "nocturne/export.hpp"
#include "nocturne/model.hpp"
#include "nocturne/trainer.hpp"

namespace nocturne::inline v0 {

// Everything that decides what a run computes (the device does not).
struct NOCTURNE_API TrainingSettings {
  std::int64_t window = 40;
  std::int64_t hidden1 = 512, hidden2 = 256, dense = 256;
  double dropout = 0.1;
  std::string input = "scalar";  // scalar or embedding
  std::int64_t embedding_dim = 64;
  std::int64_t min_count = 100;
  std::string split = "random";  // random or piece
  double heldout = 0.2;
  std::int64_t epochs = 200;
  std::int64_t batch = 256;
  double lr = 0.01;
  std::uint64_t seed = 1;
  // Regularisers: off but in the quality preset (docs/cli.md, "train").
  double weight_decay = 0;
  double input_dropout = 0, recurrent_dropout = 0;
  double label_smoothing = 0;
  std::string lr_schedule = "constant";  // constant, cosine or linear
  std::int64_t warmup = 0;               // epochs
  std::int64_t lr_decay_epochs = 0;      // the epoch the decay ends; 0: the run's epochs, fixed when it is created
  double lr_floor = 0.01;                // fraction of lr at the end of the decay
  std::int64_t patience = 0;             // epochs without a better val_loss before stopping early; 0: never
  // Training pieces drawn per epoch in other keys: "0" (off), "n", "a..b" or "all" (docs/quality.md).
  std::string transpose = "0";
  // A checkpoint whose weights a new run starts from (empty: a fresh model; docs/quality.md).
  std::string init_from;
  std::string tokens = "recipe";  // the token stream: recipe or timed (TokenKind, timed_tokens.hpp)

  // Throws ConfigError naming the setting at fault (as the program's option, "--epochs").
  void validate() const;
};

// recipe (the defaults), small (128/64/64, batch 128, 20 epochs), demo (small
// with window 32, min-count 2, embedding input, 15 epochs) or quality (for
// held-out perplexity: embedding input, piece split, the regularisers on).
// Throws ConfigError.
NOCTURNE_API TrainingSettings training_preset(std::string_view name);

NOCTURNE_API ModelConfig model_config(const TrainingSettings& settings, std::int64_t vocab);

// Where a run's music comes from.
struct NOCTURNE_API TrainingData {
  std::filesystem::path folder;  // MIDI files, searched recursively (unused for the demo corpus)
  bool demo = false;             // the built-in demo corpus, written into the run folder
  BadFilePolicy on_bad_file = BadFilePolicy::skip;
};

struct NOCTURNE_API HistoryRow {
  int epoch = 0;
  double loss = 0, accuracy = 0;
  std::optional<double> val_loss, val_accuracy, val_perplexity;
  double seconds = 0, windows_per_second = 0;
  std::optional<double> lr;  // the learning rate the epoch trained at (absent in runs from before schedules)
};

struct NOCTURNE_API BestEpoch {
  int epoch = 0;
  std::string metric;  // val_loss, or loss without a held-out set
  double value = 0;
};

struct NOCTURNE_API RunEpoch {
  bool completed = false;  // false: the progress callback stopped it (discarded; last.ckpt unchanged)
  HistoryRow row;          // when completed
  bool best = false;       // this epoch is the new best.ckpt
};

// Messages for people while a run loads and starts (skipped files, a batch
// larger than the data, a repaired best.ckpt). Either may be empty.
struct NOCTURNE_API RunMessages {
  std::function<void(const std::string&)> info, warning;
};

class NOCTURNE_API TrainingRun {
 public:
  // A new run in `folder`: a folder that is new, empty, or a run that never
  // saved a checkpoint; only the marker is written. Validates the settings.
  // Throws ConfigError, or FileError when the folder holds a run or other files.
  static TrainingRun create(const std::filesystem::path& folder, const TrainingSettings& settings,
                            const TrainingData& data, std::string precision = "fp32");
  // The run in `folder` (or the folder of the last.ckpt named) as its last
  // completed epoch left it. Removes temporary files an interrupted write left.
  // Throws FileError when there is no run, or its last.ckpt is not a run's.
  static TrainingRun resume(const std::filesystem::path& folder_or_last);

  TrainingRun(TrainingRun&&) noexcept;
  TrainingRun& operator=(TrainingRun&&) noexcept;
  ~TrainingRun();

  const std::filesystem::path& folder() const;
  std::filesystem::path last_checkpoint() const;
  std::filesystem::path best_checkpoint() const;
  const std::string& run_id() const;
  bool resumed() const;
  const TrainingSettings& settings() const;
  const std::string& precision() const;  // the GEMM precision the run trains in (a MathMode name)
  const std::filesystem::path& data_folder() const;  // absolute; the demo corpus's once loaded
  bool demo() const;
  int epochs_done() const;
  // All epochs done, or stopped early.
  bool finished() const { return epochs_done() >= settings().epochs || stopped_early().has_value(); }
  // Why the run stopped early, on one line: `patience` epochs without a
  // lower val_loss than the best epoch's. A resumed run that stopped stays
  // stopped, whatever --epochs says (its best epoch is behind it).
  std::optional<std::string> stopped_early() const;
  const std::vector<HistoryRow>& history() const;
  std::optional<BestEpoch> best() const;

  // Resuming: only these may change. Throws ConfigError (set_data_folder for a demo run).
  void set_epochs(std::int64_t total);
  void set_precision(std::string precision);
  void set_data_folder(const std::filesystem::path& folder);
  // Resuming: throws ConfigError naming the first setting of `wanted` that
  // differs from the run's (epochs excepted).
  void require_settings(const TrainingSettings& wanted) const;

  // Reads the data (writing the demo corpus first) and, when resuming, checks
  // that it gives the run's vocabulary and windows; caps the batch at the
  // windows there are. Throws FileError / ConfigError.
  void load_data(const RunMessages& messages = {});
  // After load_data: the data and the model it makes.
  const Dataset& dataset() const;
  ModelConfig model_config() const;
  // The corpus statistics and fingerprint, as JSON text (config.json's "corpus").
  std::string corpus_json() const;
  // The settings as JSON text (config.json's "settings").
  std::string settings_json() const;

  // Builds the model on `backend`, restores last.ckpt (resuming: after
  // making best.ckpt the run's best epoch again where it is missing or stale,
  // said in messages.warning) or initialises it from the seed, and writes config.json (with
  // `device_description`), vocabulary.txt, history.csv and, for a new run,
  // last.ckpt at epoch 0.
  void start(Backend& backend, const std::string& device_description, const RunMessages& messages = {});
  Model& model();
  std::uint64_t parameter_count() const;

  // Trains the next epoch (on_progress may stop it: see Trainer). A completed
  // epoch is appended to the history and saved: last.ckpt, best.ckpt when it
  // is the best, history.csv. Throws TrainingError for a loss that diverges.
  RunEpoch train_epoch(const ProgressCallback& on_progress = {});

 private:
  struct State;
  explicit TrainingRun(std::unique_ptr<State> state);
  std::unique_ptr<State> s_;
};

// What resume() takes: the run folder, or its last.ckpt (then its folder).
// Throws FileError for another file, saying to pass the folder.
NOCTURNE_API std::filesystem::path run_folder_to_resume(const std::filesystem::path& given);

// One row a line with the header "epoch,loss,accuracy,val_loss,...".
NOCTURNE_API std::string history_csv(std::span<const HistoryRow> rows);

}  // namespace nocturne
