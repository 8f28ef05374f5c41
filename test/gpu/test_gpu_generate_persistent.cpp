// The persistent generation kernel (kernels/generation_kernels.hpp) on the
// GPU: called directly from a random state against the host simulator of
// its own phases (test/kernels_host/persistent_generation_simulator.hpp) with
// the device's plan (the same tokens; the probabilities and every slot's
// state within 1e-5: only expf / tanhf / exp / log differ), for a small odd
// model and the recipe's shapes, in one launch and in several; the window
// predictor on the persistent path against the CPU's predictor and the fused
// path's device loop (the same tokens for the same model, windows, options
// and seed); and the refusals that keep the fused path's loop (TF32, too
// many streams). Part of test_gpu_backend: skipped where no GPU can run our
// kernels.

#include <algorithm>
#include <cstdint>
#include <vector>

#include "generation_buffers.hpp"
#include "gpu_test_support.hpp"
#include "kernels/generation_kernels.hpp"
#include "nocturne/error.hpp"
#include "nocturne/generate.hpp"
#include "nocturne/window_predictor.hpp"
#include "persistent_generation_simulator.hpp"
#include "recipe_training.hpp"

namespace {

using namespace nocturne;
using namespace nocturne::test::gpu;
using kernels::GenerateArgs;
using kernels::GenerationPlan;
using kernels::GenerationShape;

const kernels::Launch kLaunch{nullptr, true};

// Host values of one launch's inputs: weights, a random state (slot 0 zero) and logits.
struct GenerationData {
  std::vector<float> w1, r1, b1, w2, r2, b2, dw1, db1, dw2, db2;
  std::vector<float> h1[2], c1[2], h2[2], c2[2];
  std::vector<float> y1, logits, probs;
  std::vector<std::int32_t> history;

  GenerationData(const GenerationShape& s, std::int64_t notes) {
    const std::size_t h1n = std::size_t(s.hidden1), h2n = std::size_t(s.hidden2), d = std::size_t(s.dense),
                      v = std::size_t(s.vocab), rows = std::size_t((s.window + 1) * s.streams);
    const float scale1 = 1.0f / std::sqrt(float(s.hidden1)), scale2 = 1.0f / std::sqrt(float(s.hidden2));
    w1 = random_vector(4 * h1n);
    r1 = random_vector(h1n * 4 * h1n, -scale1, scale1);
    b1 = random_vector(4 * h1n, -0.2f, 0.2f);
    w2 = random_vector(h1n * 4 * h2n, -scale1, scale1);
    r2 = random_vector(h2n * 4 * h2n, -scale2, scale2);
    b2 = random_vector(4 * h2n, -0.2f, 0.2f);
    dw1 = random_vector(h2n * d, -scale2, scale2);
    db1 = random_vector(d, -0.2f, 0.2f);
    dw2 = random_vector(d * v, -2.0f / std::sqrt(float(d)), 2.0f / std::sqrt(float(d)));
    db2 = random_vector(v, -0.2f, 0.2f);
    for (int k = 0; k < 2; ++k) {
      h1[k] = random_vector(rows * h1n, -0.9f, 0.9f);
      c1[k] = random_vector(rows * h1n, -2.0f, 2.0f);
      h2[k] = random_vector(rows * h2n, -0.9f, 0.9f);
      c2[k] = random_vector(rows * h2n, -2.0f, 2.0f);
      // Slot 0 (the window that begins) stays zero.
      for (auto* state : {&h1[k], &c1[k]})
        std::fill(state->begin(), state->begin() + std::ptrdiff_t(std::size_t(s.streams) * h1n), 0.0f);
      for (auto* state : {&h2[k], &c2[k]})
        std::fill(state->begin(), state->begin() + std::ptrdiff_t(std::size_t(s.streams) * h2n), 0.0f);
    }
    y1.assign(std::size_t(s.streams) * d, 0.0f);
    logits = random_vector(std::size_t(s.streams) * v, -3.0f, 3.0f);
    probs.assign(logits.size(), 0.0f);
    history.assign(std::size_t(notes) * std::size_t(s.streams), -7);
  }
};

GenerateArgs host_args(GenerationData& d, const GenerationPlan& plan) {
  GenerateArgs a;
  a.plan = plan;
  a.w1 = d.w1.data();
  a.r1 = d.r1.data();
  a.b1 = d.b1.data();
  a.w2 = d.w2.data();
  a.r2 = d.r2.data();
  a.b2 = d.b2.data();
  a.dw1 = d.dw1.data();
  a.db1 = d.db1.data();
  a.dw2 = d.dw2.data();
  a.db2 = d.db2.data();
  test::point_generation_buffers(a, d);
  a.history = d.history.data();
  a.history_notes = std::int64_t(d.history.size()) / plan.shape.streams;
  return a;
}

// The same data on the device, and args pointing there.
struct DeviceGeneration {
  std::vector<Buffer<float>> weights;
  Buffer<float> h1[2], c1[2], h2[2], c2[2], y1, logits, probs;
  Buffer<std::int32_t> history;

  explicit DeviceGeneration(const GenerationData& d) {
    for (const auto* v : {&d.w1, &d.r1, &d.b1, &d.w2, &d.r2, &d.b2, &d.dw1, &d.db1, &d.dw2, &d.db2})
      weights.push_back(upload(gpu(), *v));
    for (int k = 0; k < 2; ++k) {
      h1[k] = upload(gpu(), d.h1[k]);
      c1[k] = upload(gpu(), d.c1[k]);
      h2[k] = upload(gpu(), d.h2[k]);
      c2[k] = upload(gpu(), d.c2[k]);
    }
    y1 = poisoned(gpu(), d.y1.size());
    logits = upload(gpu(), d.logits);
    probs = poisoned(gpu(), d.probs.size());
    history = upload(gpu(), d.history);
  }
  GenerateArgs args(const GenerateArgs& host) {
    GenerateArgs a = host;
    const float** w[] = {&a.w1, &a.r1, &a.b1, &a.w2, &a.r2, &a.b2, &a.dw1, &a.db1, &a.dw2, &a.db2};
    for (std::size_t i = 0; i < weights.size(); ++i) *w[i] = weights[i].data();
    test::point_generation_buffers(a, *this);
    a.history = history.data();
    return a;
  }
};

void check_close(const char* what, const std::vector<float>& got, const std::vector<float>& want, double bound) {
  const Errors e = measure(got, want);
  INFO(what << ": max abs " << e.max_abs << ", bound " << bound);
  CHECK(e.nonfinite == 0);
  CHECK(e.max_abs <= bound);
}

// `notes` notes in launches of `per_launch`, the kernel against the simulator.
void check_kernel(const GenerationShape& shape, std::int64_t notes, int per_launch, const math::SamplingRule& rule) {
  const GenerationPlan plan = kernels::generation_device_plan(shape);
  INFO(shape.streams << " x " << shape.window << ", " << shape.hidden1 << "/" << shape.hidden2 << "/" << shape.dense
                     << "/" << shape.vocab << ": " << kernels::generation_refusal_text(plan.refusal));
  REQUIRE(plan.fits());
  GenerationData data(shape, notes);
  DeviceGeneration device(data);
  GenerateArgs host = host_args(data, plan);
  host.rule = rule;
  host.seed = 99;
  host.first_stream = 3;
  nocturne::kernels::simulation::GenerationSimulator sim(host, {});
  for (std::int64_t first = 0; first < notes; first += per_launch) {
    host.first_note = first;
    host.notes = int(std::min<std::int64_t>(per_launch, notes - first));
    host.push_last = first + host.notes < notes;
    kernels::lstm_persistent_generate(kLaunch, device.args(host));
    sim.run(host);
    host.current = (host.current + host.notes - (host.push_last ? 0 : 1)) & 1;
  }
  CHECK(gpu().download(device.history) == data.history);
  check_close("probabilities", gpu().download(device.probs), data.probs, 1e-5);
  check_close("logits", gpu().download(device.logits), data.logits, 1e-4);
  for (int k = 0; k < 2; ++k) {
    check_close("h1", gpu().download(device.h1[k]), data.h1[k], 1e-5);
    check_close("c1", gpu().download(device.c1[k]), data.c1[k], 1e-5);
    check_close("h2", gpu().download(device.h2[k]), data.h2[k], 1e-5);
    check_close("c2", gpu().download(device.c2[k]), data.c2[k], 1e-5);
  }
}

CudaOptions persistent_options(MathMode mode = MathMode::strict_fp32) {
  CudaOptions options;
  options.lstm_impl = LstmImpl::persistent;
  options.math = mode;
  return options;
}

}  // namespace

TEST_CASE("the generation kernel follows its host simulation", "[gpu][persistent][generate]") {
  const math::SamplingRule greedy{}, sampled{false, 0.9, 0, 0.95}, top_k{false, 1.2, 20, 1.0};
  check_kernel({3, 5, 37, 13, 9, 11}, 9, 4, sampled);
  check_kernel({2, 6, 70, 33, 17, 29}, 7, 7, greedy);
  check_kernel({1, 40, 512, 256, 256, 127}, small_run() ? 3 : 12, 5, top_k);
  if (!small_run()) check_kernel({2, 40, 512, 256, 256, 388}, 6, 2, sampled);
}

TEST_CASE("generation on the persistent path picks the CPU's and the fused path's tokens",
          "[gpu][persistent][generate]") {
  const ModelConfig config = recipe();
  const int streams = small_run() ? 1 : 2, notes = small_run() ? 8 : 40;
  const std::unique_ptr<Backend> persistent = make_cuda_backend(persistent_options());
  CudaOptions fused_options;
  fused_options.lstm_impl = LstmImpl::fused;
  const std::unique_ptr<Backend> fused = make_cuda_backend(fused_options);
  CpuOptions cpu_options;
  cpu_options.fused_lstm = true;
  const std::unique_ptr<Backend> cpu_backend = make_cpu_backend(cpu_options);
  Model model(*persistent, config, streams), fused_model(*fused, config, streams),
      cpu_model(*cpu_backend, config, streams);
  model.initialize(5);
  const std::vector<float> parameters = model.download_parameters();
  fused_model.upload_parameters(parameters);
  cpu_model.upload_parameters(parameters);
  const auto windows = random_tokens(std::size_t(streams) * std::size_t(config.window), config.vocab);
  for (const SamplingOptions& sampling : {SamplingOptions{}, SamplingOptions{false, 0.9, 0, 0.95},
                                          SamplingOptions{false, 1.2, 20, 1.0}}) {
    INFO(sampling.describe());
    const std::uint32_t first_stream = sampling_stream(4);
    WindowPredictor on_persistent(model, streams), on_fused(fused_model, streams), on_cpu(cpu_model, streams);
    std::vector<std::int64_t> reads;
    const std::vector<std::int32_t> got = on_persistent.generate(
        windows, notes, sampling, 77, first_stream, [&](std::int64_t done) { reads.push_back(done); }, 16);
    CHECK(reads == (small_run() ? std::vector<std::int64_t>{8} : std::vector<std::int64_t>{16, 32, 40}));
    CHECK(got == on_fused.generate(windows, notes, sampling, 77, first_stream));
    CHECK(got == on_cpu.generate(windows, notes, sampling, 77, first_stream));
  }
}

TEST_CASE("the generation kernel's refusals keep the fused path's loop", "[gpu][persistent][generate]") {
  GenerateNotes<float> q;
  q.streams = 1;
  q.window = 40;
  q.hidden1 = 512;
  q.hidden2 = 256;
  q.dense = 256;
  q.vocab = 127;
  q.notes = 4;
  // TF32 and BF16 keep the fused path's loop; so do the fused path and too many streams.
  for (MathMode mode : {MathMode::tf32, MathMode::bf16})
    CHECK_FALSE(make_cuda_backend(persistent_options(mode))->generate_notes(q));
  CudaOptions fused_options;
  fused_options.lstm_impl = LstmImpl::fused;
  CHECK_FALSE(make_cuda_backend(fused_options)->generate_notes(q));
  q.streams = 7;
  CHECK_FALSE(make_cuda_backend(persistent_options())->generate_notes(q));
  CHECK(kernels::generation_device_plan({7, 40, 512, 256, 256, 127}).refusal ==
        kernels::GenerationRefusal::too_many_rows);
  // A fitting shape with a null pointer is a bad call, not a refusal.
  q.streams = 1;
  CHECK_THROWS_AS(make_cuda_backend(persistent_options())->generate_notes(q), ShapeError);
}
