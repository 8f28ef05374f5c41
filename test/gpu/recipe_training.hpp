#pragma once
// kSteps Adamax steps of the recipe's model (or, with NOCTURNE_GPU_TEST_SMALL,
// a small one) on any backend, from the same initialisation, batches and
// dropout masks: what the GPU training tests compare between backends.

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "gpu_test_support.hpp"
#include "nocturne/model.hpp"
#include "nocturne/optimizer.hpp"

namespace nocturne::inline v0::test::gpu {

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
  const int batch = recipe_batch();
  const std::int64_t window = config.window;
  Model model(backend, config, batch);
  model.initialize(42);
  // Over the model: the update runs after the replay on the classic path and
  // inside the recorded program on the fused one.
  Adamax optimizer(model, AdamaxParams{});
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
    model.train_step(7, optimizer);  // dropout drawn for step optimizer.steps_taken() = step
    if (step == 0) run.first_gradients = model.download_gradients();
    run.losses.push_back(model.read_stats().loss_sum / double(batch));
    if (step == 2) run.params_at_3 = model.download_parameters();
  }
  run.params = model.download_parameters();
  return run;
}

// Bounds for two FP32 runs of train() on different implementations (our GPU
// against the CPU, cuDNN against our GPU). Step 1 runs both on the same
// parameters, batch and dropout masks: its loss (forward only) and its
// gradients (the whole backward pass) differ by FP32 rounding alone. Each
// later step starts from parameters that already differ: Adamax's first
// updates are near lr * sign(g), so a gradient within rounding of zero moves
// its parameter by up to 2 lr the other way, and the training amplifies that
// from step to step. The CPU backend in float against itself in double (this
// model, batch and data) differs by 6e-7 in the loss of steps 2-3 and by
// 2e-5 in the parameters after step 3, but by 1e-2 in the loss of step 10
// and 3e-2 in its parameters. So steps 2-3 are bounded, the rest is printed
// by the callers.
inline void check_fp32_runs_agree(const std::string& what, const TrainingRun& got, const TrainingRun& want) {
  INFO(what);
  for (double loss : got.losses) REQUIRE(std::isfinite(loss));
  CHECK(std::fabs(got.losses[0] - want.losses[0]) <= 1e-5 * want.losses[0]);
  require_close(what + ": gradients of step 1", got.first_gradients, want.first_gradients, kLstmBackward);
  for (int i = 1; i < 3; ++i)
    CHECK(std::fabs(got.losses[std::size_t(i)] - want.losses[std::size_t(i)]) <= 1e-4 * want.losses[std::size_t(i)]);
  const Errors p3 = measure(got.params_at_3, want.params_at_3), p = measure(got.params, want.params);
  CHECK(p3.nonfinite == 0);
  CHECK(p3.normalised <= 1e-3);
  CHECK(p.nonfinite == 0);
}

// A TF32 run against an FP32 one: TF32 rounds GEMM inputs to 10-bit
// mantissas (relative 2^-11), so loose bounds on step 1, which starts from
// the same parameters; later steps diverge as in FP32, only sooner.
inline void check_tf32_run_near_fp32(const std::string& what, const TrainingRun& tf32, const TrainingRun& fp32) {
  INFO(what);
  for (double loss : tf32.losses) REQUIRE(std::isfinite(loss));
  const Errors g1 = measure(tf32.first_gradients, fp32.first_gradients);
  CHECK(std::fabs(tf32.losses[0] - fp32.losses[0]) <= 1e-3 * fp32.losses[0]);
  CHECK(g1.nonfinite == 0);
  CHECK(g1.normalised <= 5e-2);
}

}  // namespace nocturne::test::gpu
