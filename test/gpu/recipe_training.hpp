#pragma once
// kSteps Adamax steps of the recipe's model (or, with NOCTURNE_GPU_TEST_SMALL,
// a small one) on any backend, from the same initialisation, batches and
// dropout masks: what the GPU training tests compare between backends.

#include <cstdint>
#include <vector>

#include "gpu_test_support.hpp"
#include "nocturne/model.hpp"
#include "nocturne/optimizer.hpp"

namespace nocturne::test::gpu {

struct TrainingRun {
  std::vector<double> losses;          // mean loss of each step's batch, before its update
  std::vector<float> first_gradients;  // of step 1 (the same parameters and batch on every backend)
  std::vector<float> params_at_3;      // after the third update
  std::vector<float> params;           // after the last update
};

inline ModelConfig recipe() {
  ModelConfig c;
  c.vocab = 127;
  c.window = 40;
  if (small_run()) {
    c.hidden1 = 31;
    c.hidden2 = 17;
    c.dense = 13;
  }
  return c;
}
inline int recipe_batch() { return small_run() ? 8 : 256; }
constexpr int kSteps = 10;

inline const std::vector<std::int32_t>& synthetic_tokens() {
  static const std::vector<std::int32_t> tokens =
      random_tokens(std::size_t(kSteps * recipe_batch() + recipe().window + 1), recipe().vocab);
  return tokens;
}

// kSteps Adamax steps of the recipe's model from seed 42's initialisation.
inline TrainingRun train(Backend& backend) {
  const ModelConfig config = recipe();
  const int batch = recipe_batch(), window = config.window;
  Model model(backend, config, batch);
  model.initialize(42);
  Adamax optimizer(backend, model.parameters().size(), AdamaxParams{});
  const auto& tokens = synthetic_tokens();
  std::vector<std::int32_t> batch_tokens(static_cast<std::size_t>(window) * static_cast<std::size_t>(batch));
  std::vector<std::int32_t> targets(static_cast<std::size_t>(batch));
  TrainingRun run;
  for (int step = 0; step < kSteps; ++step) {
    for (int j = 0; j < batch; ++j) {
      const std::size_t start = std::size_t(step * batch + j);
      for (int t = 0; t < window; ++t)
        batch_tokens[std::size_t(t) * std::size_t(batch) + std::size_t(j)] = tokens[start + std::size_t(t)];
      targets[std::size_t(j)] = tokens[start + std::size_t(window)];
    }
    model.set_batch(batch_tokens, targets);
    model.reset_stats();
    model.train_step(7, std::uint64_t(step));
    if (step == 0) run.first_gradients = model.download_gradients();
    optimizer.step(model.parameters().data(), model.gradients().data());
    run.losses.push_back(model.read_stats().loss_sum / double(batch));
    if (step == 2) run.params_at_3 = model.download_parameters();
  }
  run.params = model.download_parameters();
  return run;
}

}  // namespace nocturne::test::gpu
