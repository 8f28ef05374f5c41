// GPU benchmark for the recipe's shapes (V = 127, window 40, LSTM 512 then
// 256, dense 256, batch 256), strict FP32 and TF32:
//   - ms per training step (set_batch + recorded forward/backward + Adamax),
//     timed with CUDA events after a warm-up: median, p10, p90, min, max;
//   - one epoch as the Trainer runs it (42,560 windows = 167 steps, loss read
//     back every step), timed on the host, and the projected 200-epoch time;
//   - ms per generated note at batch 1, probabilities read back each note: the
//     window predictor that generation runs on, and the recipe's loop (one
//     40-step forward pass per note) beside it.
// The events are recorded on the legacy default stream, which orders with
// the backend's (blocking) stream, so they bracket exactly the backend's work.
// A benchmark prints numbers; it asserts nothing.
//
// Usage: bench_gpu [timed_steps (default 50)] [notes (default 200)]

#include <cuda_runtime_api.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <functional>
#include <string>
#include <vector>

#include "nocturne/cuda.hpp"
#include "nocturne/model.hpp"
#include "nocturne/optimizer.hpp"
#include "nocturne/rng.hpp"
#include "nocturne/window_predictor.hpp"

namespace {

using namespace nocturne;
using Clock = std::chrono::steady_clock;

constexpr int kBatch = 256;
constexpr int kEpochWindows = 42560;
constexpr double kTrainGflopPerBatch = 113.0;  // docs: shared/guide/performance.md

struct Summary {
  double median = 0, p10 = 0, p90 = 0, min = 0, max = 0;
};

Summary summarize(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  auto at = [&](double q) { return v[std::size_t(q * double(v.size() - 1) + 0.5)]; };
  return Summary{at(0.5), at(0.1), at(0.9), v.front(), v.back()};
}

void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) {
    std::fprintf(stderr, "%s: %s\n", what, cudaGetErrorName(e));
    std::exit(1);
  }
}

struct Batches {
  std::vector<std::vector<std::int32_t>> tokens, targets;  // time-major windows
};

// `count` distinct batches of random tokens (never time on zeros).
Batches make_batches(const ModelConfig& c, int batch, int count) {
  Batches b;
  std::uint64_t index = 0;
  for (int k = 0; k < count; ++k) {
    std::vector<std::int32_t> tokens(static_cast<std::size_t>(c.window) * static_cast<std::size_t>(batch));
    std::vector<std::int32_t> targets(static_cast<std::size_t>(batch));
    for (auto& t : tokens) t = std::int32_t(random_below(std::uint64_t(c.vocab), 5, 0, index++));
    for (auto& t : targets) t = std::int32_t(random_below(std::uint64_t(c.vocab), 5, 0, index++));
    b.tokens.push_back(std::move(tokens));
    b.targets.push_back(std::move(targets));
  }
  return b;
}

void bench_mode(MathMode mode, int timed_steps, int notes) {
  const char* mode_name = mode == MathMode::tf32 ? "tf32" : "fp32";
  CudaOptions options;
  options.math = mode;
  std::unique_ptr<Backend> backend = make_cuda_backend(options);
  ModelConfig config;
  config.vocab = 127;
  Model model(*backend, config, kBatch);
  model.initialize(1);
  Adamax optimizer(*backend, model.parameters().size(), AdamaxParams{});
  const Batches batches = make_batches(config, kBatch, 8);
  std::uint64_t step = 0;
  auto train_one = [&] {
    const std::size_t k = std::size_t(step % batches.tokens.size());
    model.set_batch(batches.tokens[k], batches.targets[k]);
    model.train_step(1, step++);
    optimizer.step(model.parameters().data(), model.gradients().data());
  };

  // Training step: warm-up (records the graph), then events around each step.
  for (int i = 0; i < 5; ++i) train_one();
  backend->synchronize();
  const std::size_t timed = static_cast<std::size_t>(timed_steps);
  std::vector<cudaEvent_t> starts(timed);
  std::vector<cudaEvent_t> stops(timed);
  for (int i = 0; i < timed_steps; ++i) {
    check(cudaEventCreate(&starts[std::size_t(i)]), "cudaEventCreate");
    check(cudaEventCreate(&stops[std::size_t(i)]), "cudaEventCreate");
  }
  for (int i = 0; i < timed_steps; ++i) {
    check(cudaEventRecord(starts[std::size_t(i)], nullptr), "cudaEventRecord");
    train_one();
    check(cudaEventRecord(stops[std::size_t(i)], nullptr), "cudaEventRecord");
  }
  check(cudaEventSynchronize(stops.back()), "cudaEventSynchronize");
  std::vector<double> step_ms;
  for (int i = 0; i < timed_steps; ++i) {
    float ms = 0;
    check(cudaEventElapsedTime(&ms, starts[std::size_t(i)], stops[std::size_t(i)]), "cudaEventElapsedTime");
    step_ms.push_back(double(ms));
    cudaEventDestroy(starts[std::size_t(i)]);
    cudaEventDestroy(stops[std::size_t(i)]);
  }
  const Summary s = summarize(step_ms);
  const BatchStats stats = model.read_stats();

  // One epoch as the Trainer runs it: a loss read-back (a sync) every step.
  const int epoch_steps = (kEpochWindows + kBatch - 1) / kBatch;
  backend->synchronize();
  const auto epoch_start = Clock::now();
  for (int i = 0; i < epoch_steps; ++i) {
    train_one();
    (void)model.read_stats();
  }
  const double epoch_s = std::chrono::duration<double>(Clock::now() - epoch_start).count();

  // Generation at batch 1, probabilities read back every note: the window
  // predictor (what `nocturne generate` runs), and beside it the recipe's loop
  // (a fresh 40-step forward pass per note).
  Model generator(*backend, config, 1);
  generator.upload_parameters(model.download_parameters());
  const Batches window = make_batches(config, 1, 1);
  const auto time_notes = [&](const std::function<std::vector<float>()>& note) {
    std::vector<double> note_ms;
    for (int i = 0; i < notes + 10; ++i) {
      const auto t0 = Clock::now();
      const std::vector<float> probs = note();
      const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
      if (i >= 10) note_ms.push_back(ms);
      if (probs.empty()) std::abort();
    }
    return summarize(note_ms);
  };
  WindowPredictor predictor(generator, 1);
  predictor.start(window.tokens[0]);
  std::vector<std::int32_t> next{0};
  const Summary g = time_notes([&] {
    std::vector<float> probs = predictor.push(next);
    next[0] = std::int32_t(std::max_element(probs.begin(), probs.end()) - probs.begin());
    return probs;
  });
  const Summary g_recipe = time_notes([&] {
    generator.set_batch(window.tokens[0], {});
    return generator.predict();
  });

  std::printf("%-5s train step ms: median %.3f  p10 %.3f  p90 %.3f  min %.3f  max %.3f  (%d steps; %.1f TFLOP/s "
              "at the median; running loss %.4f)\n",
              mode_name, s.median, s.p10, s.p90, s.min, s.max, timed_steps,
              kTrainGflopPerBatch / s.median, stats.loss_sum / std::max(1.0, double(kBatch) * (5 + timed_steps)));
  std::printf("%-5s epoch (%d steps, loss read every step): %.3f s; projected 200 epochs: %.1f s (%.2f min); "
              "from the median step alone: %.1f s\n",
              mode_name, epoch_steps, epoch_s, 200 * epoch_s, 200 * epoch_s / 60, 200 * epoch_steps * s.median / 1e3);
  std::printf("%-5s generation ms/note (batch 1): median %.3f  p10 %.3f  p90 %.3f  min %.3f  max %.3f  (%d notes)\n",
              mode_name, g.median, g.p10, g.p90, g.min, g.max, notes);
  std::printf("%-5s   the recipe's loop (40-step pass): median %.3f  p10 %.3f  p90 %.3f  (%.1fx the predictor)\n",
              mode_name, g_recipe.median, g_recipe.p10, g_recipe.p90, g_recipe.median / g.median);
}

}  // namespace

int main(int argc, char** argv) {
  const int timed_steps = argc > 1 ? std::max(1, std::atoi(argv[1])) : 50;
  const int notes = argc > 2 ? std::max(1, std::atoi(argv[2])) : 200;
  const CudaStatus status = cuda_status();
  std::printf("# nocturne bench_gpu: recipe shapes V=127 W=40 H1=512 H2=256 D=256 batch %d\n", kBatch);
  std::printf("# CUDA driver %d, runtime %d; cuDNN: not used (cuBLAS GEMMs + Nocturne kernels)\n",
              status.driver_version, status.runtime_version);
  for (const CudaDeviceInfo& d : status.devices)
    std::printf("# device %d: %s, compute %d.%d, %d SMs, %zu MiB\n", d.index, d.name.c_str(), d.compute_major,
                d.compute_minor, d.multiprocessors, d.memory_bytes >> 20);
  if (!status.usable) {
    std::printf("no usable GPU: %s\n", status.reason.c_str());
    return 2;
  }
  try {
    bench_mode(MathMode::strict_fp32, timed_steps, notes);
    bench_mode(MathMode::tf32, timed_steps, notes);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_gpu: %s\n", e.what());
    return 1;
  }
  return 0;
}
