#include "nocturne/trainer.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numbers>
#include <numeric>
#include <string>

#include "nocturne/error.hpp"
#include "nocturne/rng.hpp"
#include "core/rng_streams.hpp"

namespace nocturne::inline v0 {

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void check_windows(const WindowSet& windows, std::int64_t window, const char* what) {
  if (windows.size() == 0)
    throw ConfigError(std::string(what) + ": no windows (is the window of " + std::to_string(window) +
                      " tokens longer than the data?)");
  for (std::int64_t s : windows.starts)
    if (s < 0 || std::uint64_t(s) + std::uint64_t(window) >= windows.tokens.size())
      throw ShapeError(std::string(what) + ": window start " + std::to_string(s) + " runs past the " +
                       std::to_string(windows.tokens.size()) + " tokens");
}

}  // namespace

const char* schedule_name(LearningRateSchedule::Kind kind) {
  switch (kind) {
    case LearningRateSchedule::Kind::constant: return "constant";
    case LearningRateSchedule::Kind::cosine: return "cosine";
    case LearningRateSchedule::Kind::linear: return "linear";
  }
  return "unknown";
}

LearningRateSchedule::Kind parse_schedule(std::string_view name) {
  using Kind = LearningRateSchedule::Kind;
  for (Kind kind : {Kind::constant, Kind::cosine, Kind::linear})
    if (name == schedule_name(kind)) return kind;
  throw ConfigError("learning-rate schedule: unknown value '" + std::string(name) +
                    "' (expected constant, cosine or linear)");
}

double LearningRateSchedule::rate(double lr, int epoch) const {
  if (epoch <= warmup) return lr * double(epoch) / double(warmup + 1);
  if (kind == Kind::constant) return lr;
  // Progress from 0 (the first epoch after the warm-up) to 1 (decay_end).
  const int span = std::max(1, decay_end - warmup - 1);
  const double q = std::clamp(double(epoch - warmup - 1) / double(span), 0.0, 1.0);
  const double low = lr * floor;
  if (kind == Kind::linear) return lr - (lr - low) * q;
  return low + (lr - low) * 0.5 * (1.0 + std::cos(std::numbers::pi * q));
}

void LearningRateSchedule::validate() const {
  if (warmup < 0) throw ConfigError("warm-up must be >= 0 epochs, got " + std::to_string(warmup));
  if (decay_end < 0) throw ConfigError("decay end must be >= 0 epochs, got " + std::to_string(decay_end));
  if (!(floor > 0 && floor <= 1))
    throw ConfigError("learning-rate floor must lie in (0, 1], got " + std::to_string(floor));
  if (kind != Kind::constant && kind != Kind::cosine && kind != Kind::linear)
    throw ConfigError("learning-rate schedule: unknown kind " + std::to_string(int(kind)));
}

void TrainerConfig::validate() const {
  if (batch <= 0) throw ConfigError("batch size must be positive, got " + std::to_string(batch));
  if (stats_every <= 0) throw ConfigError("stats_every must be positive, got " + std::to_string(stats_every));
  nocturne::validate(adamax);
  schedule.validate();
}

Trainer::Trainer(Model& model, const TrainerConfig& config)
    : model_(model),
      config_((config.validate(), config)),
      optimizer_(model, config.adamax) {
  if (config.batch > model.max_batch())
    throw ConfigError("batch size " + std::to_string(config.batch) + " exceeds the model's maximum batch " +
                      std::to_string(model.max_batch()));
}

void Trainer::stage_batch(const WindowSet& windows, std::span<const std::int64_t> order, std::size_t first,
                          int count) {
  const std::size_t w = std::size_t(model_.config().window), n = std::size_t(count);
  batch_tokens_.resize(w * n);
  batch_targets_.resize(n);
  for (std::size_t j = 0; j < n; ++j) {
    const std::int32_t* window = windows.tokens.data() + windows.starts[std::size_t(order[first + j])];
    for (std::size_t t = 0; t < w; ++t) batch_tokens_[t * n + j] = window[t];  // time-major
    batch_targets_[j] = window[w];
  }
  model_.set_batch(batch_tokens_, batch_targets_);
}

EpochResult Trainer::train_epoch(const WindowSet& train, const WindowSet* validation,
                                 const ProgressCallback& on_progress) {
  check_windows(train, model_.config().window, "training set");
  const auto start = std::chrono::steady_clock::now();
  const int epoch = epochs_done_ + 1;
  const std::int64_t total = std::int64_t(train.size());
  const std::int64_t steps = (total + config_.batch - 1) / config_.batch;

  std::vector<std::int64_t> order(train.size());
  std::iota(order.begin(), order.end(), 0);
  shuffle(order, config_.seed, rng_stream::shuffle, std::uint64_t(epoch) << 33);

  EpochResult result;
  result.epoch = epoch;
  result.learning_rate = config_.schedule.rate(config_.adamax.learning_rate, epoch);
  optimizer_.set_learning_rate(result.learning_rate);
  model_.reset_stats();
  std::int64_t done = 0;
  BatchStats stats;
  for (std::int64_t step = 0; step < steps; ++step) {
    const int count = int(std::min<std::int64_t>(config_.batch, total - done));
    stage_batch(train, order, std::size_t(done), count);
    model_.train_step(config_.seed, optimizer_);  // forward, backward and the update
    done += count;
    const bool last = step + 1 == steps;
    if (!last && (step + 1) % config_.stats_every != 0) continue;
    stats = model_.read_stats();
    if (!std::isfinite(stats.loss_sum))
      throw TrainingError("the loss became " + std::string(std::isnan(stats.loss_sum) ? "NaN" : "infinite") +
                          " in epoch " + std::to_string(epoch) + " by step " + std::to_string(step + 1) + " of " +
                          std::to_string(steps));
    if (on_progress) {
      Progress p{epoch, step + 1, steps, done, total, stats.loss_sum / double(done), stats.correct / double(done),
                 seconds_since(start)};
      if (!on_progress(p) && !last) {
        result.seconds = seconds_since(start);
        return result;  // stopped early: the epoch does not count
      }
    }
  }
  result.completed = true;
  result.loss = stats.loss_sum / double(total);
  result.accuracy = stats.correct / double(total);
  const double train_seconds = seconds_since(start);
  result.windows_per_second = double(total) / train_seconds;
  epochs_done_ = epoch;
  if (validation && validation->size() > 0) result.validation = evaluate(*validation);
  result.seconds = seconds_since(start);
  return result;
}

Evaluation Trainer::evaluate(const WindowSet& windows) {
  check_windows(windows, model_.config().window, "evaluation set");
  std::vector<std::int64_t> order(windows.size());
  std::iota(order.begin(), order.end(), 0);
  model_.reset_stats();
  const std::size_t total = windows.size();
  const std::size_t batch = std::size_t(model_.max_batch());
  for (std::size_t first = 0; first < total; first += batch) {
    stage_batch(windows, order, first, int(std::min(batch, total - first)));
    model_.evaluate_step();
  }
  const BatchStats stats = model_.read_stats();
  Evaluation e;
  e.windows = std::int64_t(total);
  e.loss = stats.loss_sum / double(total);
  e.accuracy = stats.correct / double(total);
  e.perplexity = std::exp(e.loss);
  return e;
}

}  // namespace nocturne
