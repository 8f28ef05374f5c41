// GPU benchmark for the recipe's shapes (V = 127, window 40, LSTM 512 then
// 256, dense 256, batch 256). What it prints, the decisive rows first so that
// a run cut short still shows them:
//   0. the persistent path's plans for the recipe's layers on this device
//      (forward and backward per mode: blocks, shared memory, occupancy,
//      cluster shape; the strict-FP32 wavefront of both layers' forward);
//   1. ours with CUDA graphs, the persistent (FP32 also with one forward
//      launch a layer instead of the wavefront) and the fused path in FP32,
//      TF32 and BF16 (the persistent path's TF32 and BF16 steps: the
//      tensor-core forward and backward kernels) and the classic
//      path in FP32 and TF32: ms per training step (set_batch, the
//      recorded step and Adamax; CUDA events after a warm-up: median, p10,
//      p90, min), TFLOP/s, one epoch as the Trainer runs it (167 steps, loss
//      read back every step) and the projected 200-epoch time. Before it is
//      timed each variant's first losses are checked against the CPU
//      backend's from the same parameters and batches;
//   2. generation at batch 1, ms per note: the persistent generation kernel
//      (strict FP32, 32 notes a cooperative launch) and its plan, the fused
//      path's device loop (one recorded program per note, sampling on the
//      GPU) per precision, and the classic window predictor with the choice
//      on the host;
//   3. where the time goes: per-phase CUDA-event times of eager steps
//      (layer 1 and 2 forward and backward, the head, the weight-gradient
//      GEMMs, dropout, Adamax; the fused path's two branches overlap, so its
//      phases add up to more than its step);
//   4. unless --ours-only: every variant side by side (ours eager, cuDNN with
//      every RNN algorithm in FP32 FMA and TF32 math), then ours against
//      cuDNN's best per math mode.
// The events are recorded on the legacy default stream, which orders with
// the backend's (blocking) streams, so they bracket exactly the backend's work.
// A benchmark prints numbers; it asserts nothing (its exit status is 1 when a
// variant failed or mismatched).
//
// Usage: bench_gpu [--steps N (50)] [--notes N (200)] [--ours-only]

#include <cuda_runtime_api.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "kernels/generation_kernels.hpp"
#include "kernels/persistent_kernels.hpp"
#include "nocturne/cuda.hpp"
#include "nocturne/error.hpp"
#include "nocturne/generate.hpp"
#include "nocturne/model.hpp"
#include "nocturne/optimizer.hpp"
#include "nocturne/rng.hpp"
#include "nocturne/window_predictor.hpp"

namespace {

using namespace nocturne;
using Clock = std::chrono::steady_clock;

constexpr int kBatch = 256;
constexpr int kEpochWindows = 42560;
constexpr int kEpochSteps = (kEpochWindows + kBatch - 1) / kBatch;
constexpr double kTrainGflopPerBatch = 113.0;  // docs: shared/guide/performance.md
constexpr int kWarmupSteps = 5;
constexpr int kCheckedSteps = 3;
constexpr int kPhaseSteps = 5;

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

// The recipe's model from seed 1 on `backend`, stepping through `batches`:
// one training step is the batch upload, the recorded step and Adamax (inside
// the recording on the fused path, after it on the classic one).
struct Trainee {
  Trainee(Backend& backend, const Batches& b) : model(backend, recipe_config(), kBatch), batches(b) {
    model.initialize(1);
    optimizer = std::make_unique<Adamax>(model, AdamaxParams{});
  }
  void step() {
    const std::size_t k = std::size_t(next++ % batches.tokens.size());
    model.set_batch(batches.tokens[k], batches.targets[k]);
    model.train_step(1, *optimizer);
  }
  // One step; its batch's mean loss (synchronises).
  double checked_step() {
    model.reset_stats();
    step();
    return model.read_stats().loss_sum / double(kBatch);
  }

  Model model;
  std::unique_ptr<Adamax> optimizer;
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

// ---- the variants ------------------------------------------------------------

struct Variant {
  std::string name;  // fused/bf16/graph, classic/fp32/eager, cudnn/persist_static/default, ...
  CudaOptions options;
  bool ours() const { return options.lstm_impl != LstmImpl::cudnn; }
};

Variant ours(LstmImpl impl, MathMode math, bool graphs) {
  Variant v{std::string(to_string(impl)) + "/" + to_string(math) + (graphs ? "/graph" : "/eager"), {}};
  v.options.lstm_impl = impl;
  v.options.math = math;
  v.options.graphs = graphs;
  return v;
}

// The decisive rows: ours with graphs.
std::vector<Variant> decisive_variants() {
  // persistent/fp32: both layers' forward in one wavefront launch; .../one-launch-a-layer without it.
  Variant per_layer = ours(LstmImpl::persistent, MathMode::strict_fp32, true);
  per_layer.name += "/one-launch-a-layer";
  per_layer.options.wavefront = false;
  return {ours(LstmImpl::persistent, MathMode::strict_fp32, true), per_layer,
          ours(LstmImpl::fused, MathMode::strict_fp32, true),
          ours(LstmImpl::persistent, MathMode::tf32, true),        ours(LstmImpl::fused, MathMode::tf32, true),
          ours(LstmImpl::persistent, MathMode::bf16, true),        ours(LstmImpl::fused, MathMode::bf16, true),
          ours(LstmImpl::classic, MathMode::strict_fp32, true),    ours(LstmImpl::classic, MathMode::tf32, true)};
}

// The rest: ours eagerly (as cuDNN runs) and cuDNN with every algorithm.
std::vector<Variant> comparison_variants(bool with_cudnn) {
  std::vector<Variant> list;
  for (MathMode math : {MathMode::strict_fp32, MathMode::tf32}) {
    if (math == MathMode::strict_fp32) list.push_back(ours(LstmImpl::persistent, math, false));
    list.push_back(ours(LstmImpl::fused, math, false));
    list.push_back(ours(LstmImpl::classic, math, false));
    if (!with_cudnn) continue;
    for (CudnnAlgo algo : kCudnnAlgos) {
      Variant v{std::string("cudnn/") + to_string(algo) + (math == MathMode::tf32 ? "/default" : "/fma"), {}};
      v.options.math = math;
      v.options.lstm_impl = LstmImpl::cudnn;
      v.options.cudnn_algo = algo;
      list.push_back(v);
    }
  }
  return list;
}

// ---- the training step ---------------------------------------------------------

struct StepResult {
  std::string status = "ok";  // ok, not_supported, failed, mismatch
  std::string note;
  Summary ms;
  double epoch_s = 0;  // one epoch as the Trainer runs it (decisive rows)
  std::vector<double> losses;  // of the checked steps
};

// The CPU backend's first losses from the same parameters and batches: the
// reference every variant is checked against.
std::vector<double> cpu_reference_losses(const Batches& batches) {
  const std::unique_ptr<Backend> cpu = make_cpu_backend();
  Trainee trainee(*cpu, batches);
  std::vector<double> losses;
  for (int i = 0; i < kCheckedSteps; ++i) losses.push_back(trainee.checked_step());
  return losses;
}

// Where a variant's first losses may differ from the CPU's in strict FP32.
// Step 1 is a forward pass from identical parameters (FP32: summation order
// only; TF32 and BF16 round the GEMM operands to 10- and 7-bit mantissas);
// later steps carry Adamax's sign-like first updates, which amplify rounding
// (test/gpu/test_gpu_training.cpp: the same bounds for FP32 and TF32).
bool losses_agree(const Variant& v, const std::vector<double>& got, const std::vector<double>& want,
                  std::string& note) {
  if (got.size() != want.size()) {
    note = std::to_string(got.size()) + " losses against " + std::to_string(want.size());
    return false;
  }
  const MathMode math = v.options.math;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double rel = std::fabs(got[i] - want[i]) / want[i];
    const double first = math == MathMode::strict_fp32 ? 1e-5 : math == MathMode::tf32 ? 1e-3 : 1e-2;
    const double later = math == MathMode::strict_fp32 ? 1e-4 : 1e-1;
    const double bound = i == 0 ? first : later;
    if (!std::isfinite(got[i]) || !(rel <= bound)) {
      char text[160];
      std::snprintf(text, sizeof text, "step %zu loss %.7f against the CPU's %.7f (rel %.1e > %.0e)", i + 1, got[i],
                    want[i], rel, bound);
      note = text;
      return false;
    }
  }
  return true;
}

StepResult time_variant(const Variant& v, const Batches& batches, int timed_steps, const std::vector<double>& reference,
                        bool epoch) {
  StepResult r;
  try {
    const std::unique_ptr<Backend> backend = make_cuda_backend(v.options);
    Trainee trainee(*backend, batches);
    for (int i = 0; i < kCheckedSteps; ++i) r.losses.push_back(trainee.checked_step());
    if (!losses_agree(v, r.losses, reference, r.note)) r.status = "mismatch";
    for (int i = 0; i < kWarmupSteps; ++i) trainee.step();
    backend->synchronize();
    r.ms = summarize(event_times([&] { trainee.step(); }, timed_steps));
    backend->synchronize();
    if (epoch) {
      // One epoch as the Trainer runs it: a loss read-back (a sync) every step.
      const auto start = Clock::now();
      for (int i = 0; i < kEpochSteps; ++i) {
        trainee.step();
        (void)trainee.model.read_stats();
      }
      r.epoch_s = std::chrono::duration<double>(Clock::now() - start).count();
    }
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
  Variant variant;
  StepResult result;
};

void print_step_header() {
  std::printf("%-30s %-13s %8s %8s %8s %8s %7s %10s  %s\n", "variant", "status", "median", "p10", "p90", "min",
              "TFLOP/s", "200 epochs", "step-1 loss / note");
}

void print_step_row(const Timed& t) {
  const StepResult& r = t.result;
  if (r.status == "ok" || r.status == "mismatch") {
    char epochs[32] = "-";
    if (r.epoch_s > 0) std::snprintf(epochs, sizeof epochs, "%.1f s", 200 * r.epoch_s);
    std::printf("%-30s %-13s %8.3f %8.3f %8.3f %8.3f %7.1f %10s  %.7f %s\n", t.variant.name.c_str(), r.status.c_str(),
                r.ms.median, r.ms.p10, r.ms.p90, r.ms.min, kTrainGflopPerBatch / r.ms.median, epochs,
                r.losses.empty() ? 0.0 : r.losses.front(), r.note.c_str());
  } else {
    std::printf("%-30s %-13s %8s %8s %8s %8s %7s %10s  %.160s\n", t.variant.name.c_str(), r.status.c_str(), "-", "-",
                "-", "-", "-", "-", r.note.c_str());
  }
  std::fflush(stdout);
}

// ---- generation ------------------------------------------------------------------

// ms per note at batch 1 on `backend`: generate_tokens for `notes` notes and
// for one, the difference per note (the primer's 40 pushes cancel out).
double generation_ms_per_note(Backend& backend, Model& trained, int notes) {
  Model generator(backend, recipe_config(), 1);
  generator.upload_parameters(trained.download_parameters());
  const Batches window = make_batches(recipe_config(), 1, 1);
  const std::vector<std::vector<std::int32_t>> primers{window.tokens[0]};
  GenerationRequest request;
  request.sampling.greedy = false;
  request.sampling.temperature = 0.9;
  request.sampling.top_p = 0.95;
  const auto run = [&](int n) {
    request.notes = n;
    const auto t0 = Clock::now();
    const auto out = generate_tokens(generator, primers, request);
    if (out.size() != 1 || out[0].size() != std::size_t(n)) throw DeviceError("generation returned the wrong count");
    return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  };
  run(notes);  // warm-up: recording, plans, first launches
  std::vector<double> per_note;
  for (int rep = 0; rep < 3; ++rep) per_note.push_back((run(notes) - run(1)) / double(notes - 1));
  return summarize(per_note).median;
}

// ---- phases ------------------------------------------------------------------------

// Per-phase ms of an eager step (CUDA events around each op), averaged over
// kPhaseSteps steps after a warm-up.
std::vector<PhaseTime> phase_times(const Variant& v, const Batches& batches) {
  CudaOptions options = v.options;
  options.graphs = false;
  const std::unique_ptr<Backend> backend = make_cuda_backend(options);
  Trainee trainee(*backend, batches);
  for (int i = 0; i < kWarmupSteps; ++i) trainee.step();
  backend->synchronize();
  backend->set_phase_timing(true);
  for (int i = 0; i < kPhaseSteps; ++i) trainee.step();
  std::vector<PhaseTime> times = backend->phase_times();
  backend->set_phase_timing(false);
  for (PhaseTime& t : times) t.ms /= kPhaseSteps;
  return times;
}

void print_phase_table(const std::vector<Variant>& list, const Batches& batches) {
  std::vector<std::vector<PhaseTime>> columns;
  std::vector<std::string> phases;
  for (const Variant& v : list) {
    try {
      columns.push_back(phase_times(v, batches));
    } catch (const std::exception& e) {
      std::printf("%s: phase timing failed: %.160s\n", v.name.c_str(), e.what());
      columns.emplace_back();
    }
    for (const PhaseTime& t : columns.back())
      if (std::find(phases.begin(), phases.end(), t.phase) == phases.end()) phases.push_back(t.phase);
  }
  std::printf("%-24s", "phase (ms per step)");
  for (const Variant& v : list) std::printf(" %18s", v.name.c_str());
  std::printf("\n");
  for (const std::string& phase : phases) {
    std::printf("%-24s", phase.c_str());
    for (const auto& column : columns) {
      const auto it = std::find_if(column.begin(), column.end(), [&](const PhaseTime& t) { return t.phase == phase; });
      if (it == column.end())
        std::printf(" %18s", "-");
      else
        std::printf(" %12.3f (%3d)", it->ms, it->spans / kPhaseSteps);
    }
    std::printf("\n");
  }
  std::printf("%-24s", "sum of phases");
  for (const auto& column : columns) {
    double total = 0;
    for (const PhaseTime& t : column) total += t.ms;
    std::printf(" %18.3f", total);
  }
  std::printf("\n(in brackets: ops or spans per step; the fused path's branches overlap, so its sum exceeds its step)\n");
  std::fflush(stdout);
}

// ---- ours against cuDNN --------------------------------------------------------------

// The fastest row with status ok that `pick` accepts; null if none.
const Timed* fastest(const std::vector<Timed>& rows, const std::function<bool(const Variant&)>& pick) {
  const Timed* best = nullptr;
  for (const Timed& t : rows)
    if (t.result.status == "ok" && pick(t.variant) && (!best || t.result.ms.median < best->result.ms.median))
      best = &t;
  return best;
}

void print_speedup(const char* what, const Timed* mine, const Timed* theirs) {
  if (!mine || !theirs) {
    std::printf("%-44s -\n", what);
    return;
  }
  std::printf("%-44s ours %8.3f ms (%s)  cuDNN %8.3f ms (%s)  speed-up %.2fx\n", what, mine->result.ms.median,
              mine->variant.name.c_str(), theirs->result.ms.median, theirs->variant.name.c_str(),
              theirs->result.ms.median / mine->result.ms.median);
}

// ---- arguments ------------------------------------------------------------------------

struct Arguments {
  int steps = 50;
  int notes = 200;
  bool ours_only = false;
};

// A positive whole number, or 0 for anything else.
int positive(const char* text) {
  char* end = nullptr;
  const long value = std::strtol(text, &end, 10);
  return end != text && *end == '\0' && value > 0 && value <= 1000000 ? int(value) : 0;
}

bool parse(int argc, char** argv, Arguments& a) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--ours-only") {
      a.ours_only = true;
    } else if ((arg == "--steps" || arg == "--notes") && i + 1 < argc) {
      const int value = positive(argv[++i]);
      if (value == 0) return false;
      (arg == "--steps" ? a.steps : a.notes) = value;
    } else {
      return false;
    }
  }
  return a.notes >= 2;
}

const char* operands_text(kernels::GemmOperands operands) {
  switch (operands) {
    case kernels::GemmOperands::fp32:
      return "fp32 (CUDA cores)";
    case kernels::GemmOperands::tf32:
      return "tf32 (tensor cores)";
    case kernels::GemmOperands::bf16:
      return "bf16 (tensor cores)";
  }
  return "?";
}

// The persistent path's partitions of the recipe's layers on this device,
// forward and backward: blocks, units a block, shared memory, occupancy, the
// cluster shape.
void print_persistent_plans() {
  const struct {
    const char* name;
    int input, hidden;
  } layers[] = {{"lstm1", 1, 512}, {"lstm2", 512, 256}};
  kernels::prepare_persistent_kernels();
  for (const auto& l : layers) {
    for (kernels::GemmOperands operands :
         {kernels::GemmOperands::fp32, kernels::GemmOperands::tf32, kernels::GemmOperands::bf16}) {
      const kernels::PersistentPlan p = kernels::persistent_device_plan(kBatch, l.input, l.hidden, operands);
      std::printf("# persistent %s %s (N %d F %d H %d): %s; %d blocks of %d units, %.1f KB shared a block, %d "
                  "resident a SM, clusters of %d (%d; h through L2 flags)\n",
                  l.name, operands_text(operands), kBatch, l.input, l.hidden,
                  kernels::persistent_refusal_text(p.refusal), p.blocks, p.units, double(p.shared.total) / 1024.0,
                  p.resident_per_sm, p.cluster, p.clusters);
    }
    for (kernels::GemmOperands operands :
         {kernels::GemmOperands::fp32, kernels::GemmOperands::tf32, kernels::GemmOperands::bf16}) {
      const kernels::PersistentPlan b = kernels::persistent_device_backward_plan(kBatch, l.hidden, operands);
      std::printf("# persistent %s backward %s (N %d H %d): %s; %d blocks of %d units, %.1f KB shared a block, %d "
                  "resident a SM (dgates through L2 flags%s)\n",
                  l.name, operands_text(operands), kBatch, l.hidden, kernels::persistent_refusal_text(b.refusal),
                  b.blocks, b.units, double(b.shared.total) / 1024.0, b.resident_per_sm,
                  b.fits() ? "" : "; the fused backward steps run instead");
    }
  }
  // The strict-FP32 forward of both layers in one launch (persistent/fp32's rows).
  const kernels::WavefrontPlan w = kernels::persistent_device_wavefront_plan(kBatch, 1, 512, 256);
  std::printf("# persistent wavefront fp32 (N %d, lstm1 then lstm2, one launch): %s; %d + %d blocks of %d and %d "
              "units, %.1f KB shared a block, %d resident a SM%s\n",
              kBatch, kernels::persistent_refusal_text(w.refusal), w.layer1.blocks, w.layer2.blocks, w.layer1.units,
              w.layer2.units, double(w.shared) / 1024.0, w.resident_per_sm,
              w.fits() ? "" : "; one launch a layer instead");
}

}  // namespace

int main(int argc, char** argv) {
  Arguments args;
  if (!parse(argc, argv, args)) {
    std::fprintf(stderr, "usage: %s [--steps N (default 50)] [--notes N >= 2 (default 200)] [--ours-only]\n", argv[0]);
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
    bool all_well = true;
    print_persistent_plans();
    const Batches batches = make_batches(recipe_config(), kBatch, 8);
    std::printf("# reference: the CPU backend's first %d losses from the same parameters and batches\n",
                kCheckedSteps);
    const std::vector<double> reference = cpu_reference_losses(batches);

    std::printf("\n== decisive: ours with CUDA graphs, ms per training step (batch %d; %d checked, %d warm-up, %d "
                "timed; 200 epochs from one timed epoch of %d steps)\n",
                kBatch, kCheckedSteps, kWarmupSteps, args.steps, kEpochSteps);
    print_step_header();
    std::vector<Timed> rows;
    for (const Variant& v : decisive_variants()) {
      rows.push_back({v, time_variant(v, batches, args.steps, reference, true)});
      print_step_row(rows.back());
      if (rows.back().result.status == "failed" || rows.back().result.status == "mismatch") all_well = false;
    }
    const auto median_of = [&](const char* name) {
      for (const Timed& t : rows)
        if (t.variant.name == name && t.result.status == "ok") return t.result.ms.median;
      return 0.0;
    };
    for (const char* mode : {"fp32", "tf32"}) {
      const double fused = median_of((std::string("fused/") + mode + "/graph").c_str());
      const double classic = median_of((std::string("classic/") + mode + "/graph").c_str());
      if (fused > 0 && classic > 0)
        std::printf("fused against classic, %s: %.2fx\n", mode, classic / fused);
    }

    std::printf("\n== decisive: generation at batch 1, ms per note (sampling, temperature 0.9, top-p 0.95)\n");
    {
      const std::unique_ptr<Backend> trainer_backend = make_cuda_backend();
      Trainee trained(*trainer_backend, batches);
      for (int i = 0; i < kWarmupSteps; ++i) trained.step();
      const kernels::GenerationPlan plan = kernels::generation_device_plan(
          {1, int(recipe_config().window), int(recipe_config().hidden1), int(recipe_config().hidden2),
           int(recipe_config().dense), int(recipe_config().vocab)});
      std::printf("persistent generation plan: %s; %d blocks x %d threads, %zu bytes of shared memory a block, "
                  "units %d / %d, dense columns %d / %d, %d resident per SM\n",
                  kernels::generation_refusal_text(plan.refusal), plan.blocks, kernels::kGenerationThreads,
                  plan.shared.total, plan.units1, plan.units2, plan.dense1, plan.dense2, plan.resident_per_sm);
      for (const Variant& v : {ours(LstmImpl::persistent, MathMode::strict_fp32, true),
                               ours(LstmImpl::fused, MathMode::strict_fp32, true),
                               ours(LstmImpl::fused, MathMode::tf32, true), ours(LstmImpl::fused, MathMode::bf16, true),
                               ours(LstmImpl::classic, MathMode::strict_fp32, true)}) {
        try {
          const std::unique_ptr<Backend> backend = make_cuda_backend(v.options);
          const double ms = generation_ms_per_note(*backend, trained.model, args.notes);
          const char* how = v.options.lstm_impl == LstmImpl::classic ? "window predictor, choice on the host"
                            : v.options.lstm_impl == LstmImpl::fused ? "device loop: one recorded program per note"
                            : plan.fits() ? "persistent generation kernel: 32 notes a launch"
                                          : "device loop (the generation kernel's plan refused)";
          std::printf("%-30s %8.4f ms/note  (%.1f us)  %s\n", v.name.c_str(), ms, 1000 * ms, how);
        } catch (const std::exception& e) {
          std::printf("%-30s failed: %.160s\n", v.name.c_str(), e.what());
          all_well = false;
        }
        std::fflush(stdout);
      }
    }

    std::printf("\n== where the time goes: eager steps, CUDA events around each op or phase\n");
    print_phase_table({ours(LstmImpl::fused, MathMode::strict_fp32, false), ours(LstmImpl::fused, MathMode::tf32, false),
                       ours(LstmImpl::classic, MathMode::strict_fp32, false)},
                      batches);

    if (args.ours_only) return all_well ? 0 : 1;
    std::printf("\n== training step, batch %d: every variant (%d checked steps against the CPU, %d warm-up, %d timed)\n",
                kBatch, kCheckedSteps, kWarmupSteps, args.steps);
    print_step_header();
    for (const Variant& v : comparison_variants(status.cudnn_built)) {
      rows.push_back({v, time_variant(v, batches, args.steps, reference, false)});
      print_step_row(rows.back());
      if (rows.back().result.status == "failed" || rows.back().result.status == "mismatch") all_well = false;
    }
    std::printf("\n");
    if (!status.cudnn_built) {
      std::printf("(no cuDNN rows: this build has no cuDNN path)\n");
      return all_well ? 0 : 1;
    }
    const auto pick = [](bool mine, MathMode math, bool graphs_too) {
      return [=](const Variant& v) {
        return v.ours() == mine && v.options.math == math && (graphs_too || !v.options.graphs || !mine);
      };
    };
    std::printf("== ours against cuDNN's best algorithm (medians; speed-up = cuDNN / ours)\n");
    print_speedup("strict fp32 (cuDNN fma)", fastest(rows, pick(true, MathMode::strict_fp32, true)),
                  fastest(rows, pick(false, MathMode::strict_fp32, true)));
    print_speedup("tf32 (cuDNN default math)", fastest(rows, pick(true, MathMode::tf32, true)),
                  fastest(rows, pick(false, MathMode::tf32, true)));
    print_speedup("bf16 ours, against cuDNN's best of any math",
                  fastest(rows, pick(true, MathMode::bf16, true)), fastest(rows, [](const Variant& v) {
                    return !v.ours();
                  }));
    print_speedup("fp32, both eager (no graphs)", fastest(rows, pick(true, MathMode::strict_fp32, false)),
                  fastest(rows, pick(false, MathMode::strict_fp32, true)));
    print_speedup("tf32, both eager (no graphs)", fastest(rows, pick(true, MathMode::tf32, false)),
                  fastest(rows, pick(false, MathMode::tf32, true)));
    return all_well ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_gpu: %s\n", e.what());
    return 1;
  }
}
