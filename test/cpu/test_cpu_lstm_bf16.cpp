// The BF16 LSTM kernels (AVX-512 BF16, CpuOptions::bf16_lstm_kernels): the
// sequence forward and backward, with and without a recurrent mask, against
// the emulated BF16 backend (the same rounded operands through strict GEMMs)
// and against the BF16 GEMM-per-step path; then a training step of a small
// model. The shapes put batch rows outside whole register tiles (6 rows),
// hidden sizes off the panels (16 units forward, 64 backward), odd input
// widths (a zero pair of k) and work enough to split the rows between two
// threads. Skipped, with a message, on a processor without AVX-512 BF16.

#include <catch2/catch.hpp>

#include <cmath>
#include <string>
#include <vector>

#include "cpu_lstm_sequence.hpp"
#include "cpu_test_support.hpp"
#include "nocturne/backend.hpp"
#include "nocturne/model.hpp"

using namespace nocturne;
using test::random_vector;

namespace {

// Against the emulation: the same BF16 operands, but the FP32 sums in another
// order and the cells' exp and tanh the kernels' own, and a difference of one
// FP32 ulp can round an operand to the neighbouring BF16 value (2^-8 apart),
// which the steps after carry on. Measured on these shapes (2026-12-06):
// forward (h, c, gates) at most 9.7e-5 from the emulation, gradients 4.9e-4,
// and the GEMM-per-step path itself 2.6e-4 from the emulation; twice those.
// BF16 itself is 7e-4 to 5e-3 from FP32 on the same shapes, and
// test/support/precision_envelopes.hpp's BF16 envelope against double 2e-2.
constexpr double kForward = 2e-4;
constexpr double kGradient = 1e-3;
constexpr double kLoss = 1e-5;

// Sequences of 256 rows (steps x batch) and more run on the kernels.
const LstmShape kShapes[] = {
    {40, 7, 1, 17},    // scalar input folded into the cells in FP32; one forward panel and a tail of 1
    {20, 13, 9, 33},   // x W in the tiles, F odd (a zero pair); 13 rows in tiles of 5, 4 and 4
    {256, 1, 3, 5},    // one row, H under one vector and odd (a zero pair of h)
    {11, 25, 20, 70},  // backward panels of 64 and a tail of 6
    {6, 48, 1, 64},    // enough work to split the rows between two threads
    {7, 40, 12, 64},   // the same with x W in the tiles
    {1, 300, 5, 24},   // one step: no recurrent GEMM; the second thread has no step of the weight gradients
    {2, 600, 3, 16},   // two steps, one each: step 0 adds nothing to dR
};

bool kernels_on(const Backend& be) { return be.name().find("AVX-512 BF16 LSTM kernels") != std::string::npos; }

CpuOptions bf16_options(bool gemm, bool lstm_kernels) {
  CpuOptions options;
  options.math = MathMode::bf16;
  options.bf16_gemm = gemm;
  options.bf16_lstm_kernels = lstm_kernels;
  return options;
}

}  // namespace

TEST_CASE("BF16 LSTM kernels: sequence forward and backward against the emulation and the GEMM-per-step path",
          "[cpu][lstm][bf16]") {
  const int threads = GENERATE(1, 2);
  auto kernels = make_cpu_backend(bf16_options(true, true));
  auto per_step = make_cpu_backend(bf16_options(true, false));
  auto emulated = make_cpu_backend(bf16_options(false, true));
  auto fp32 = make_cpu_backend();
  REQUIRE_FALSE(kernels_on(*per_step));
  REQUIRE_FALSE(kernels_on(*emulated));
  if (!kernels_on(*kernels)) {
    WARN("this processor has no AVX-512 BF16: the BF16 LSTM kernels are not used, nothing to check");
    return;
  }
  const test::CpuThreadsScope scope(threads);
  const int blas_threads = cpu_threads();  // 0 where the BLAS has no thread control (then one thread)
  if (threads > 1 && blas_threads == 0) return;
  std::uint32_t seed = 300;
  for (const LstmShape& s : kShapes)
    for (bool masked : {false, true}) {
      INFO("T " << s.steps << " N " << s.batch << " F " << s.input << " H " << s.hidden << (masked ? " masked" : "")
                << ", " << threads << " thread(s)");
      const std::size_t g = 4 * std::size_t(s.hidden), nh = std::size_t(s.batch) * std::size_t(s.hidden);
      const auto x = random_vector<float>(std::size_t(s.steps) * std::size_t(s.batch) * std::size_t(s.input), seed++);
      const auto w = random_vector<float>(std::size_t(s.input) * g, seed++, -0.5, 0.5);
      const auto r = random_vector<float>(std::size_t(s.hidden) * g, seed++, -0.4, 0.4);
      const auto b = random_vector<float>(g, seed++, -0.3, 0.3);
      const auto dh = random_vector<float>(std::size_t(s.steps) * nh, seed++);
      std::vector<float> mask(nh);
      for (std::size_t i = 0; i < nh; ++i) mask[i] = (i * 7 + seed) % 5 == 0 ? 0.0f : 1.25f;  // inverted dropout
      const std::vector<float>* m = masked ? &mask : nullptr;
      const auto got = test::run_lstm_sequence(*kernels, s, x, w, r, b, dh, m);
      const auto want = test::run_lstm_sequence(*emulated, s, x, w, r, b, dh, m);
      const auto classic = test::run_lstm_sequence(*per_step, s, x, w, r, b, dh, m);
      const auto strict = test::run_lstm_sequence(*fp32, s, x, w, r, b, dh, m);
      test::check_lstm_close(got, want, masked, kForward, kGradient);
      test::check_lstm_close(got, classic, masked, kForward, kGradient);
      // The operands really are BF16: FP32 is well outside the envelope.
      CHECK(test::relative_error(got.h, strict.h) > 2 * kForward);
      if (s.steps > 1) CHECK(test::relative_error(got.dr, strict.dr) > kGradient);
      CHECK(test::relative_error(got.dw, strict.dw) > kGradient);
      // The BF16 GEMM's thread setting is the caller's again afterwards.
      CHECK(cpu_threads() == blas_threads);
    }
}

// A training step of a small model (variational dropout on, so the masked
// ops run too): loss and every gradient of the kernels' step against the
// emulation's, and the step really ran on them (rows past the threshold).
TEST_CASE("BF16 LSTM kernels: a training step of a small model matches the emulation", "[cpu][lstm][bf16][model]") {
  auto kernels = make_cpu_backend(bf16_options(true, true));
  auto emulated = make_cpu_backend(bf16_options(false, true));
  if (!kernels_on(*kernels)) {
    WARN("this processor has no AVX-512 BF16: the BF16 LSTM kernels are not used, nothing to check");
    return;
  }
  const bool variational = GENERATE(false, true);
  ModelConfig config;
  config.vocab = 29;
  config.window = 32;  // x batch 9 = 288 rows: the kernels' sequences
  config.hidden1 = 37;
  config.hidden2 = 21;
  config.dense = 19;
  if (variational) {
    config.input_dropout = 0.2;
    config.recurrent_dropout = 0.25;
  }
  const int batch = 9;
  Model got(*kernels, config, batch), want(*emulated, config, batch);
  got.initialize(5);
  want.upload_parameters(got.download_parameters());
  std::vector<std::int32_t> tokens(std::size_t(config.window) * batch);
  std::vector<std::int32_t> targets{std::vector<std::int32_t>(std::size_t(batch))};
  for (std::size_t i = 0; i < tokens.size(); ++i) tokens[i] = std::int32_t((i * 11 + 3) % 29);
  for (std::size_t i = 0; i < targets.size(); ++i) targets[i] = std::int32_t((i * 5 + 1) % 29);
  for (Model* model : {&got, &want}) {
    model->set_batch(tokens, targets);
    model->reset_stats();
    model->train_step(7, 1);
  }
  INFO((variational ? "variational dropout" : "no variational dropout"));
  const double got_loss = got.read_stats().loss_sum, want_loss = want.read_stats().loss_sum;
  CHECK(std::abs(got_loss - want_loss) < kLoss * std::abs(want_loss));
  const std::vector<float> got_grads = got.download_gradients(), want_grads = want.download_gradients();
  CHECK(test::relative_error(got_grads, want_grads) < kGradient);
  CHECK(got_grads != want_grads);  // the two really run different kernels
}
