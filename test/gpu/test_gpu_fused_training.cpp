// The fused path's whole training step and generation on the GPU: the
// recipe's model trained for a few steps against the CPU backend running the
// same path in the same math mode (strict FP32, and the emulated TF32 and
// BF16 whose envelopes test/support/precision_envelopes.hpp states), the
// wavefront on two streams against every op on one stream, graph replay
// against eager replay, two runs against each other (all bit for bit), and
// generation with sampling on the device against the host's choice from the
// same GPU's probabilities.

#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "gpu_test_support.hpp"
#include "nocturne/generate.hpp"
#include "nocturne/window_predictor.hpp"
#include "recipe_training.hpp"
#include "support/precision_envelopes.hpp"

namespace {

using namespace nocturne;
using namespace nocturne::test::gpu;
namespace envelopes = nocturne::test::envelopes;

CudaOptions fused_options(MathMode mode) {
  CudaOptions options;
  options.lstm_impl = LstmImpl::fused;
  options.math = mode;
  return options;
}

const TrainingRun& fused_gpu_run() {
  static const TrainingRun run = [] {
    const std::unique_ptr<Backend> backend = make_cuda_backend(fused_options(MathMode::strict_fp32));
    return train(*backend);
  }();
  return run;
}

// Step 1 of two runs from the same parameters, batch and masks, tensor by
// tensor, within the mode's envelope; later steps are printed (Adamax's first
// updates amplify rounding: see recipe_training.hpp).
void check_within_envelope(const std::string& what, const TrainingRun& gpu_run, const TrainingRun& cpu_run,
                           MathMode mode) {
  INFO(what);
  const envelopes::Envelope& bound = envelopes::for_mode(mode);
  for (double loss : gpu_run.losses) REQUIRE(std::isfinite(loss));
  const double loss_error = std::fabs(gpu_run.losses[0] - cpu_run.losses[0]) / cpu_run.losses[0];
  std::printf("%s: step 1 loss gpu %.7f cpu %.7f (rel %.2e, envelope %.0e)\n", what.c_str(), gpu_run.losses[0],
              cpu_run.losses[0], loss_error, bound[envelopes::Kind::loss]);
  CHECK(loss_error <= bound[envelopes::Kind::loss]);
  const ParameterLayout layout(recipe());
  for (const ParameterView& view : layout.views()) {
    const std::span<const float> got(gpu_run.first_gradients.data() + view.offset, view.size());
    const std::span<const float> want(cpu_run.first_gradients.data() + view.offset, view.size());
    const Errors e = measure(got, want);
    INFO("gradient " << view.name << ": normalised " << e.normalised << ", envelope "
                     << bound[envelopes::Kind::weight_gradient]);
    CHECK(e.nonfinite == 0);
    CHECK(e.normalised <= bound[envelopes::Kind::weight_gradient]);
  }
  for (std::size_t i = 1; i < gpu_run.losses.size(); ++i)
    std::printf("%s: step %2zu loss gpu %.7f cpu %.7f\n", what.c_str(), i + 1, gpu_run.losses[i], cpu_run.losses[i]);
}

TEST_CASE("the fused path's training steps follow the CPU's fused path in every math mode",
          "[gpu][fused][training]") {
  for (MathMode mode : {MathMode::strict_fp32, MathMode::tf32, MathMode::bf16}) {
    CpuOptions cpu_options;
    cpu_options.fused_lstm = true;
    cpu_options.math = mode;
    const std::unique_ptr<Backend> cpu_backend = make_cpu_backend(cpu_options);
    const TrainingRun c = train(*cpu_backend);
    if (mode == MathMode::strict_fp32) {
      check_within_envelope("fused fp32 gpu vs cpu", fused_gpu_run(), c, mode);
      check_fp32_runs_agree("fused fp32 gpu vs cpu", fused_gpu_run(), c);
      continue;
    }
    const std::unique_ptr<Backend> gpu_backend = make_cuda_backend(fused_options(mode));
    CHECK(gpu_backend->name().find(to_string(mode)) != std::string::npos);
    check_within_envelope(std::string("fused ") + to_string(mode) + " gpu vs emulated cpu", train(*gpu_backend), c,
                          mode);
  }
}

TEST_CASE("the fused path on the GPU follows the classic path on the GPU", "[gpu][fused][training]") {
  check_fp32_runs_agree("fused vs classic (gpu, fp32)", fused_gpu_run(), train(gpu()));
}

TEST_CASE("the wavefront on two streams trains bit-identically to every op on one stream", "[gpu][fused][training]") {
  CudaOptions serial = fused_options(MathMode::strict_fp32);
  serial.wavefront = false;
  const std::unique_ptr<Backend> backend = make_cuda_backend(serial);
  CHECK(backend->name().find("serial") != std::string::npos);
  const TrainingRun s = train(*backend);
  const TrainingRun& w = fused_gpu_run();
  CHECK(s.losses == w.losses);
  CHECK(s.first_gradients == w.first_gradients);
  REQUIRE(s.params.size() == w.params.size());
  CHECK(std::memcmp(s.params.data(), w.params.data(), s.params.size() * sizeof(float)) == 0);
}

TEST_CASE("the fused path: graph replay, eager replay and a second run are bit-identical", "[gpu][fused][training]") {
  CudaOptions eager_options = fused_options(MathMode::strict_fp32);
  eager_options.graphs = false;
  const std::unique_ptr<Backend> eager = make_cuda_backend(eager_options);
  const std::unique_ptr<Backend> again = make_cuda_backend(fused_options(MathMode::strict_fp32));
  const TrainingRun& g = fused_gpu_run();
  for (const TrainingRun& other : {train(*eager), train(*again)}) {
    CHECK(other.losses == g.losses);
    REQUIRE(other.params.size() == g.params.size());
    CHECK(std::memcmp(other.params.data(), g.params.data(), other.params.size() * sizeof(float)) == 0);
  }
}

TEST_CASE("generation on the device picks what the host picks from the same GPU's probabilities",
          "[gpu][fused][inference]") {
  const ModelConfig config = recipe();
  const int streams = small_run() ? 2 : 3, notes = small_run() ? 10 : 60;
  for (MathMode mode : {MathMode::strict_fp32, MathMode::bf16}) {
    const std::unique_ptr<Backend> backend = make_cuda_backend(fused_options(mode));
    Model model(*backend, config, streams);
    model.initialize(5);
    const auto windows = random_tokens(std::size_t(streams) * std::size_t(config.window), config.vocab);
    for (const SamplingOptions& sampling : {SamplingOptions{}, SamplingOptions{false, 0.9, 0, 0.95},
                                            SamplingOptions{false, 1.2, 20, 1.0}}) {
      INFO(to_string(mode) << " " << sampling.describe());
      WindowPredictor on_device(model, streams);
      REQUIRE(on_device.samples_on_device());
      const std::uint32_t first_stream = sampling_stream(4);
      const std::vector<std::int32_t> device =
          on_device.generate(windows, notes, sampling, 77, first_stream, {}, 7);  // read back every 7 notes
      REQUIRE(device.size() == std::size_t(notes) * std::size_t(streams));

      WindowPredictor on_host(model, streams);
      std::vector<float> probs = on_host.start(windows);
      std::vector<std::int32_t> host;
      std::vector<std::int32_t> chosen(static_cast<std::size_t>(streams));
      for (int k = 0; k < notes; ++k) {
        for (int s = 0; s < streams; ++s) {
          const std::span<const float> row(probs.data() + std::size_t(s) * std::size_t(config.vocab),
                                           std::size_t(config.vocab));
          chosen[std::size_t(s)] =
              choose_token(row, sampling, 77, first_stream + std::uint32_t(s), std::uint64_t(k));
        }
        host.insert(host.end(), chosen.begin(), chosen.end());
        if (k + 1 < notes) probs = on_host.push(chosen);
      }
      CHECK(device == host);
    }
  }
}

}  // namespace
