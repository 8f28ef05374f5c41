// GPU benchmark for the recipe's shapes (V = 127, window 40, LSTM 512 then
// 256, dense 256, batch 256):
//   - ms per training step (set_batch + recorded forward/backward + Adamax),
//     timed with CUDA events after a warm-up, median, p10, p90, min, max, for
//     every LSTM implementation side by side: ours with its CUDA graph and
//     eagerly (call by call, as the cuDNN path always runs), and cuDNN with
//     every RNN algorithm, each in strict FP32 (cuDNN FMA math) and TF32
//     (cuDNN default math: TF32 tensor cores). Before it is timed each variant's first losses
//     are checked against ours in strict FP32 from the same parameters and
//     batches; then the speed-ups of ours against cuDNN's best;
//   - one epoch as the Trainer runs it (42,560 windows = 167 steps, loss read
//     back every step), timed on the host, and the projected 200-epoch time;
//   - ms per generated note at batch 1, probabilities read back each note: the
//     window predictor that generation runs on, and the recipe's loop (one
//     40-step forward pass per note) beside it.
// The events are recorded on the legacy default stream, which orders with
// the backend's (blocking) stream, so they bracket exactly the backend's work.
// A benchmark prints numbers; it asserts nothing (its exit status is 1 when a
// variant failed or mismatched).
//
// Usage: bench_gpu [timed_steps (default 50)] [notes (default 200)]

#include <cuda_runtime_api.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "nocturne/cuda.hpp"
#include "nocturne/error.hpp"
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
constexpr int kWarmupSteps = 5;
constexpr int kCheckedSteps = 3;

struct Summary {
  double median = 0, p10 = 0, p90 = 0, min = 0, max = 0;
};

Summary summarize(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  auto at = [&](double q) { return v[std::size_t(q * double(v.size() - 1) + 0.5)]; };
  return Summary{at(0.5), at(0.1), at(0.9), v.front(), v.back()};
}

void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw DeviceError(std::string(what) + ": " + cudaGetErrorName(e));
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

ModelConfig recipe_config() {
  ModelConfig config;
  config.vocab = 127;
  return config;
}

// The recipe's model from seed 1 on `backend`, stepping through `batches`.
struct Trainee {
  Trainee(Backend& backend, const Batches& b)
      : model(backend, recipe_config(), kBatch),
        optimizer(backend, model.parameters().size(), AdamaxParams{}),
        batches(b) {
    model.initialize(1);
  }
  void step() {
    const std::size_t k = std::size_t(next % batches.tokens.size());
    model.set_batch(batches.tokens[k], batches.targets[k]);
    model.train_step(1, next++);
    optimizer.step(model.parameters().data(), model.gradients().data());
  }
  // One step; its batch's mean loss (synchronises).
  double checked_step() {
    model.reset_stats();
    step();
    return model.read_stats().loss_sum / double(kBatch);
  }

  Model model;
  Adamax optimizer;
  const Batches& batches;
  std::uint64_t next = 0;
};

// CUDA events, destroyed with their owner.
struct Events {
  explicit Events(std::size_t n) : all(n, nullptr) {
    try {
      for (cudaEvent_t& e : all) check(cudaEventCreate(&e), "cudaEventCreate");
    } catch (...) {
      release();  // no destructor runs for a constructor that throws
      throw;
    }
  }
  ~Events() { release(); }
  void release() {
    for (cudaEvent_t& e : all)
      if (e) cudaEventDestroy(std::exchange(e, nullptr));
  }
  Events(const Events&) = delete;
  Events& operator=(const Events&) = delete;
  std::vector<cudaEvent_t> all;
};

// Milliseconds of each of `count` calls of `work`, from CUDA events on the
// legacy default stream around each call.
std::vector<double> event_times(const std::function<void()>& work, int count) {
  const std::size_t n = static_cast<std::size_t>(count);
  const Events starts(n), stops(n);
  for (std::size_t i = 0; i < n; ++i) {
    check(cudaEventRecord(starts.all[i], nullptr), "cudaEventRecord");
    work();
    check(cudaEventRecord(stops.all[i], nullptr), "cudaEventRecord");
  }
  check(cudaEventSynchronize(stops.all.back()), "cudaEventSynchronize");
  std::vector<double> ms(n, 0.0);
  for (std::size_t i = 0; i < n; ++i) {
    float elapsed = 0;
    check(cudaEventElapsedTime(&elapsed, starts.all[i], stops.all[i]), "cudaEventElapsedTime");
    ms[i] = double(elapsed);
  }
  return ms;
}

// ---- the training step, every LSTM implementation ---------------------------

struct Variant {
  std::string name;  // ours/fp32/graph, ours/tf32/eager, cudnn/standard/fma, cudnn/persist_static/default, ...
  CudaOptions options;
  bool ours() const { return options.lstm_impl == LstmImpl::classic; }
  bool tf32() const { return options.math == MathMode::tf32; }
};

std::vector<Variant> variants(bool with_cudnn) {
  std::vector<Variant> list;
  for (MathMode math : {MathMode::strict_fp32, MathMode::tf32}) {
    const bool tf32 = math == MathMode::tf32;
    for (bool graphs : {true, false}) {
      Variant v{std::string("ours/") + (tf32 ? "tf32" : "fp32") + (graphs ? "/graph" : "/eager"), {}};
      v.options.math = math;
      v.options.graphs = graphs;
      list.push_back(v);
    }
    if (!with_cudnn) continue;
    for (CudnnAlgo algo : kCudnnAlgos) {
      Variant v{std::string("cudnn/") + to_string(algo) + (tf32 ? "/default" : "/fma"), {}};
      v.options.math = math;
      v.options.lstm_impl = LstmImpl::cudnn;
      v.options.cudnn_algo = algo;
      list.push_back(v);
    }
  }
  return list;
}

struct StepResult {
  std::string status = "ok";  // ok, not_supported, failed, mismatch
  std::string note;
  Summary ms;
  std::vector<double> losses;  // of the checked steps
};

// Where a variant's first losses may differ from ours in strict FP32, from
// the same parameters and batches. Step 1 is a forward pass from identical
// parameters (FP32 summation order only; TF32 rounds GEMM inputs to 10-bit
// mantissas); later steps carry Adamax's sign-like first updates, which
// amplify rounding (test/gpu/test_gpu_training.cpp: the same bounds).
bool losses_agree(const Variant& v, const std::vector<double>& got, const std::vector<double>& want,
                  std::string& note) {
  if (got.size() != want.size()) {
    note = std::to_string(got.size()) + " losses against " + std::to_string(want.size());
    return false;
  }
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double rel = std::fabs(got[i] - want[i]) / want[i];
    const double bound = v.tf32() ? (i == 0 ? 1e-3 : 1e-1) : (i == 0 ? 1e-5 : 1e-4);
    if (!std::isfinite(got[i]) || !(rel <= bound)) {
      char text[160];
      std::snprintf(text, sizeof text, "step %zu loss %.7f against %.7f (rel %.1e > %.0e)", i + 1, got[i], want[i],
                    rel, bound);
      note = text;
      return false;
    }
  }
  return true;
}

StepResult time_variant(const Variant& v, const Batches& batches, int timed_steps,
                        const std::vector<double>* reference) {
  StepResult r;
  try {
    const std::unique_ptr<Backend> backend = make_cuda_backend(v.options);
    Trainee trainee(*backend, batches);
    for (int i = 0; i < kCheckedSteps; ++i) r.losses.push_back(trainee.checked_step());
    if (reference && !losses_agree(v, r.losses, *reference, r.note)) r.status = "mismatch";
    for (int i = 0; i < kWarmupSteps; ++i) trainee.step();
    backend->synchronize();
    r.ms = summarize(event_times([&] { trainee.step(); }, timed_steps));
    backend->synchronize();
  } catch (const NotSupportedError& e) {
    r.status = "not_supported";
    r.note = e.what();
  } catch (const std::exception& e) {
    r.status = "failed";
    r.note = e.what();
  }
  return r;
}

struct Timed {
  const Variant* variant;
  StepResult result;
};

// The fastest variant with status ok that `pick` accepts; null if none.
const Timed* fastest(const std::vector<Timed>& rows, const std::function<bool(const Variant&)>& pick) {
  const Timed* best = nullptr;
  for (const Timed& t : rows)
    if (t.result.status == "ok" && pick(*t.variant) && (!best || t.result.ms.median < best->result.ms.median))
      best = &t;
  return best;
}

void print_speedup(const char* what, const Timed* ours, const Timed* theirs) {
  if (!ours || !theirs) {
    std::printf("%-40s -\n", what);
    return;
  }
  std::printf("%-40s ours %8.3f ms (%s)  cuDNN %8.3f ms (%s)  speed-up %.2fx\n", what, ours->result.ms.median,
              ours->variant->name.c_str(), theirs->result.ms.median, theirs->variant->name.c_str(),
              theirs->result.ms.median / ours->result.ms.median);
}

// Returns false when a variant failed or mismatched.
bool bench_training_steps(int timed_steps, bool with_cudnn) {
  const Batches batches = make_batches(recipe_config(), kBatch, 8);
  const std::vector<Variant> list = variants(with_cudnn);
  std::printf("\n== training step, batch %d: %d checked steps, %d warm-up, %d timed (CUDA events); losses checked "
              "against ours/fp32/graph\n",
              kBatch, kCheckedSteps, kWarmupSteps, timed_steps);
  std::printf("%-32s %-13s %9s %9s %9s %9s %8s  %s\n", "variant", "status", "median", "p10", "p90", "min", "TFLOP/s",
              "step-1 loss / note");
  std::vector<Timed> rows;
  bool all_well = true;
  for (const Variant& v : list) {
    // The reference is ours/fp32/graph, the first row, when it ran.
    const bool have_reference = !rows.empty() && !rows.front().result.losses.empty() &&
                                (rows.front().result.status == "ok" || rows.front().result.status == "mismatch");
    rows.push_back({&v, time_variant(v, batches, timed_steps, have_reference ? &rows.front().result.losses : nullptr)});
    StepResult& r = rows.back().result;
    if (rows.size() > 1 && !have_reference) r.note += " (losses unchecked: ours/fp32/graph did not run)";
    if (r.status == "failed" || r.status == "mismatch") all_well = false;
    if (r.status == "ok" || r.status == "mismatch")
      std::printf("%-32s %-13s %9.3f %9.3f %9.3f %9.3f %8.2f  %.7f %s\n", v.name.c_str(), r.status.c_str(), r.ms.median,
                  r.ms.p10, r.ms.p90, r.ms.min, kTrainGflopPerBatch / r.ms.median,
                  r.losses.empty() ? 0.0 : r.losses.front(), r.note.c_str());
    else
      std::printf("%-32s %-13s %9s %9s %9s %9s %8s  %.160s\n", v.name.c_str(), r.status.c_str(), "-", "-", "-", "-",
                  "-", r.note.c_str());
    std::fflush(stdout);
  }
  if (!with_cudnn) {
    std::printf("(no cuDNN rows: this build has no cuDNN path)\n");
    return all_well;
  }
  auto is = [](bool ours, int math) {  // math: 0 fp32, 1 tf32, 2 either
    return [ours, math](const Variant& v) { return v.ours() == ours && (math == 2 || v.tf32() == (math == 1)); };
  };
  auto eager_ours = [](bool tf32) {
    return [tf32](const Variant& v) { return v.ours() && !v.options.graphs && v.tf32() == tf32; };
  };
  std::printf("\n== training step: ours against cuDNN's best algorithm (medians; speed-up = cuDNN / ours)\n");
  print_speedup("strict fp32 (cuDNN fma)", fastest(rows, is(true, 0)), fastest(rows, is(false, 0)));
  print_speedup("tf32 (cuDNN default math)", fastest(rows, is(true, 1)), fastest(rows, is(false, 1)));
  print_speedup("best of any math", fastest(rows, is(true, 2)), fastest(rows, is(false, 2)));
  print_speedup("fp32, both eager (the LSTM alone)", fastest(rows, eager_ours(false)), fastest(rows, is(false, 0)));
  print_speedup("tf32, both eager (the LSTM alone)", fastest(rows, eager_ours(true)), fastest(rows, is(false, 1)));
  return all_well;
}

// ---- a whole epoch and generation, ours ---------------------------------------

void bench_epoch_and_generation(MathMode mode, int notes) {
  const char* mode_name = mode == MathMode::tf32 ? "tf32" : "fp32";
  CudaOptions options;
  options.math = mode;
  std::unique_ptr<Backend> backend = make_cuda_backend(options);
  const ModelConfig config = recipe_config();
  const Batches batches = make_batches(config, kBatch, 8);
  Trainee trainee(*backend, batches);
  for (int i = 0; i < kWarmupSteps; ++i) trainee.step();

  // One epoch as the Trainer runs it: a loss read-back (a sync) every step.
  const int epoch_steps = (kEpochWindows + kBatch - 1) / kBatch;
  backend->synchronize();
  const auto epoch_start = Clock::now();
  for (int i = 0; i < epoch_steps; ++i) {
    trainee.step();
    (void)trainee.model.read_stats();
  }
  const double epoch_s = std::chrono::duration<double>(Clock::now() - epoch_start).count();

  // Generation at batch 1, probabilities read back every note: the window
  // predictor (what `nocturne generate` runs), and beside it the recipe's loop
  // (a fresh 40-step forward pass per note).
  Model generator(*backend, config, 1);
  generator.upload_parameters(trainee.model.download_parameters());
  const Batches window = make_batches(config, 1, 1);
  const auto time_notes = [&](const std::function<std::vector<float>()>& note) {
    std::vector<double> note_ms;
    for (int i = 0; i < notes + 10; ++i) {
      const auto t0 = Clock::now();
      const std::vector<float> probs = note();
      const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
      if (i >= 10) note_ms.push_back(ms);
      if (probs.empty()) throw DeviceError("no probabilities came back");
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

  std::printf("%-5s epoch (%d steps, loss read every step): %.3f s; projected 200 epochs: %.1f s (%.2f min)\n",
              mode_name, epoch_steps, epoch_s, 200 * epoch_s, 200 * epoch_s / 60);
  std::printf("%-5s generation ms/note (batch 1): median %.3f  p10 %.3f  p90 %.3f  min %.3f  max %.3f  (%d notes)\n",
              mode_name, g.median, g.p10, g.p90, g.min, g.max, notes);
  std::printf("%-5s   the recipe's loop (40-step pass): median %.3f  p10 %.3f  p90 %.3f  (%.1fx the predictor)\n",
              mode_name, g_recipe.median, g_recipe.p10, g_recipe.p90, g_recipe.median / g.median);
  std::fflush(stdout);
}

// A positive whole number, or 0 for anything else.
int positive(const char* text) {
  char* end = nullptr;
  const long value = std::strtol(text, &end, 10);
  return end != text && *end == '\0' && value > 0 && value <= 1000000 ? int(value) : 0;
}

}  // namespace

int main(int argc, char** argv) {
  const int timed_steps = argc > 1 ? positive(argv[1]) : 50;
  const int notes = argc > 2 ? positive(argv[2]) : 200;
  if (argc > 3 || timed_steps == 0 || notes == 0) {
    std::fprintf(stderr, "usage: %s [timed_steps (default 50)] [notes (default 200)]: positive whole numbers\n",
                 argv[0]);
    return 2;
  }
  const CudaStatus status = cuda_status();
  std::printf("# nocturne bench_gpu: recipe shapes V=127 W=40 H1=512 H2=256 D=256 batch %d\n", kBatch);
  std::printf("# CUDA driver %d, runtime %d; cuDNN path %s\n", status.driver_version, status.runtime_version,
              status.cudnn_built ? "built in" : "not built in");
  for (const CudaDeviceInfo& d : status.devices)
    std::printf("# device %d: %s, compute %d.%d, %d SMs, %zu MiB\n", d.index, d.name.c_str(), d.compute_major,
                d.compute_minor, d.multiprocessors, d.memory_bytes >> 20);
  if (!status.usable) {
    std::printf("no usable GPU: %s\n", status.reason.c_str());
    return 2;
  }
  try {
    const bool all_well = bench_training_steps(timed_steps, status.cudnn_built);
    std::printf("\n== one epoch and generation (ours)\n");
    bench_epoch_and_generation(MathMode::strict_fp32, notes);
    bench_epoch_and_generation(MathMode::tf32, notes);
    return all_well ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_gpu: %s\n", e.what());
    return 1;
  }
}
