#pragma once
// Epochs over shuffled windows with Adamax; deterministic from the seed.

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string_view>

#include "nocturne/export.hpp"
#include "nocturne/model.hpp"
#include "nocturne/optimizer.hpp"

namespace nocturne::inline v0 {

// Windows over a token sequence: window k is tokens[starts[k], starts[k] + W)
// and its target is tokens[starts[k] + W], W being the model's window.
struct NOCTURNE_API WindowSet {
  std::span<const std::int32_t> tokens;  // vocabulary indices
  std::span<const std::int64_t> starts;
  std::size_t size() const { return starts.size(); }
};

// The learning rate of each epoch: `warmup` epochs rising linearly
// (epoch e <= warmup trains at lr * e / (warmup + 1)), then constant, or a
// cosine or linear decay from lr to lr * floor at epoch decay_end, and
// lr * floor after it. Per epoch, not per step: a fused model records its
// update with the rate, once per epoch this way. A function of the epoch
// alone, so a resumed run trains at the rates an uninterrupted one would.
struct NOCTURNE_API LearningRateSchedule {
  enum class Kind { constant, cosine, linear };
  Kind kind = Kind::constant;
  int warmup = 0;      // epochs
  int decay_end = 0;   // the epoch that reaches the floor (cosine, linear)
  double floor = 0.01;  // fraction of the base rate, in (0, 1] (Adamax needs a positive rate)
  // The rate of epoch `epoch` (from 1) for the base rate `lr`.
  double rate(double lr, int epoch) const;
  // Throws ConfigError naming the bad field and value.
  void validate() const;
};
// "constant", "cosine", "linear"; parse throws ConfigError naming the choices.
NOCTURNE_API const char* schedule_name(LearningRateSchedule::Kind kind);
NOCTURNE_API LearningRateSchedule::Kind parse_schedule(std::string_view name);

// How each epoch trains. How many epochs to train is the caller's choice
// (Trainer::train_epoch trains one; TrainingRun trains to its settings' epochs).
struct NOCTURNE_API TrainerConfig {
  std::int64_t batch = 256;
  AdamaxParams adamax;
  LearningRateSchedule schedule;  // over adamax.learning_rate
  std::uint64_t seed = 1;  // shuffling and dropout masks
  // Read the running loss back every this many steps (a device sync on the GPU).
  int stats_every = 1;
  // Throws ConfigError naming the bad field and value.
  void validate() const;
};

struct NOCTURNE_API Progress {
  int epoch = 0;  // counted from 1
  std::int64_t step = 0, steps = 0;
  std::int64_t windows_done = 0, windows_total = 0;
  double loss = 0, accuracy = 0;  // running means over the epoch so far
  double seconds = 0;             // since the epoch began
};

struct NOCTURNE_API Evaluation {
  double loss = 0, accuracy = 0, perplexity = 0;
  std::int64_t windows = 0;
};

struct NOCTURNE_API EpochResult {
  int epoch = 0;
  bool completed = false;  // false when on_progress asked to stop
  double loss = 0, accuracy = 0;
  std::optional<Evaluation> validation;
  double seconds = 0, windows_per_second = 0;
  double learning_rate = 0;  // the rate the epoch trained at
};

// Return false to stop after the current step.
using ProgressCallback = std::function<bool(const Progress&)>;

// Keeps a reference to its model (which must outlive it); one thread at a time.
class NOCTURNE_API Trainer {
 public:
  Trainer(Model& model, const TrainerConfig& config);

  // Trains epoch epochs_done() + 1 over `train` (reshuffled for that epoch,
  // last partial batch kept), then evaluates on `validation` when given.
  // Throws TrainingError when the loss becomes NaN or infinite.
  EpochResult train_epoch(const WindowSet& train, const WindowSet* validation = nullptr,
                          const ProgressCallback& on_progress = {});
  Evaluation evaluate(const WindowSet& windows);

  int epochs_done() const { return epochs_done_; }
  const TrainerConfig& config() const { return config_; }
  Adamax& optimizer() { return optimizer_; }
  Model& model() { return model_; }
  // For resuming: the epochs already completed (the optimiser is restored apart).
  void set_epochs_done(int epochs) { epochs_done_ = epochs; }

 private:
  void stage_batch(const WindowSet& windows, std::span<const std::int64_t> order, std::size_t first, int count);

  Model& model_;
  TrainerConfig config_;
  Adamax optimizer_;
  int epochs_done_ = 0;
  std::vector<std::int32_t> batch_tokens_, batch_targets_;
};

}  // namespace nocturne
