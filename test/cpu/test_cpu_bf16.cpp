// The BF16 GEMM kernels (AVX-512 BF16, CpuOptions::bf16_gemm) against a double
// GEMM of the same BF16-rounded operands: every transpose, odd sizes, padded
// leading dimensions, k past one block, and calls large enough to split
// between threads. Skipped, with a message, on a processor without AVX-512 BF16.

#include <catch2/catch.hpp>

#include <limits>
#include <string>
#include <vector>

#include "cpu_test_support.hpp"
#include "math/precision.hpp"
#include "nocturne/backend.hpp"
#include "nocturne/model.hpp"
#include "nocturne/optimizer.hpp"
#include "nocturne/window_predictor.hpp"

using namespace nocturne;
using test::random_vector;

namespace {

// alpha op(A) op(B) + beta C in double, over the operands as given.
std::vector<double> double_gemm(Transpose ta, Transpose tb, int m, int n, int k, double alpha,
                                const std::vector<float>& a, int lda, const std::vector<float>& b, int ldb,
                                double beta, const std::vector<float>& c, int ldc) {
  std::vector<double> out(c.begin(), c.end());
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < n; ++j) {
      double sum = 0.0;
      for (int p = 0; p < k; ++p) {
        const double av = ta == Transpose::no ? a[std::size_t(i) * lda + p] : a[std::size_t(p) * lda + i];
        const double bv = tb == Transpose::no ? b[std::size_t(p) * ldb + j] : b[std::size_t(j) * ldb + p];
        sum += av * bv;
      }
      out[std::size_t(i) * ldc + j] = alpha * sum + beta * double(c[std::size_t(i) * ldc + j]);
    }
  return out;
}

std::vector<float> rounded(std::vector<float> v) {
  for (float& e : v) e = math::round_to_bf16(e);
  return v;
}

bool have_kernels() {
  if (cpu_has_bf16_gemm()) return true;
  WARN("skipped: this processor has no AVX-512 BF16 (the BF16 mode runs the emulation here)");
  return false;
}

}  // namespace

TEST_CASE("BF16 kernels: the sums of the rounded operands, odd sizes, all transposes", "[cpu][bf16]") {
  if (!have_kernels()) return;
  auto native = make_cpu_backend(CpuOptions{.math = MathMode::bf16, .bf16_gemm = true});
  auto emulated = make_cpu_backend(CpuOptions{.math = MathMode::bf16, .bf16_gemm = false});
  const int sizes[][3] = {{1, 1, 1},   {3, 5, 7},     {17, 9, 13},  {1, 33, 8},    {21, 1, 6},
                          {8, 8, 1},   {64, 70, 65},  {9, 100, 1031}, {300, 40, 20}, {40, 600, 300}};
  std::uint32_t seed = 7;
  for (const auto& size : sizes)
    for (Transpose ta : {Transpose::no, Transpose::yes})
      for (Transpose tb : {Transpose::no, Transpose::yes}) {
        const int m = size[0], n = size[1], k = size[2];
        const int lda = (ta == Transpose::no ? k : m) + 2, ldb = (tb == Transpose::no ? n : k) + 1, ldc = n + 3;
        const int a_rows = ta == Transpose::no ? m : k, b_rows = tb == Transpose::no ? k : n;
        const auto a = random_vector<float>(std::size_t(a_rows) * lda, seed++);
        const auto b = random_vector<float>(std::size_t(b_rows) * ldb, seed++);
        const auto c0 = random_vector<float>(std::size_t(m) * ldc, seed++);
        const auto want = double_gemm(ta, tb, m, n, k, 0.75, rounded(a), lda, rounded(b), ldb, -0.5, c0, ldc);
        const auto unrounded = double_gemm(ta, tb, m, n, k, 0.75, a, lda, b, ldb, -0.5, c0, ldc);
        auto got = c0, emu = c0;
        native->gemm(ta, tb, m, n, k, 0.75f, a.data(), lda, b.data(), ldb, -0.5f, got.data(), ldc);
        emulated->gemm(ta, tb, m, n, k, 0.75f, a.data(), lda, b.data(), ldb, -0.5f, emu.data(), ldc);
        INFO("m " << m << " n " << n << " k " << k << " ta " << int(ta) << " tb " << int(tb));
        CHECK(test::relative_error(got, want) < 2e-6);   // FP32 sums of exact BF16 products
        CHECK(test::relative_error(got, emu) < 2e-6);    // the emulation differs in the sums' order only
        if (k > 1) CHECK(test::relative_error(got, unrounded) > 1e-4);  // the operands really are BF16
        // The padding between rows of C is never written.
        for (int i = 0; i < m; ++i)
          for (int j = n; j < ldc; ++j) CHECK(got[std::size_t(i) * ldc + j] == c0[std::size_t(i) * ldc + j]);
      }
}

TEST_CASE("BF16 kernels: beta 0 ignores C, k 0 scales C, threads change no bit", "[cpu][bf16]") {
  if (!have_kernels()) return;
  auto native = make_cpu_backend(CpuOptions{.math = MathMode::bf16, .bf16_gemm = true});
  CHECK(native->name().find("AVX-512 BF16") != std::string::npos);
  auto emulated = make_cpu_backend(CpuOptions{.math = MathMode::bf16, .bf16_gemm = false});
  CHECK(emulated->name().find("emulated bf16") != std::string::npos);

  const int m = 70, n = 300, k = 260;
  const auto a = random_vector<float>(std::size_t(m) * k, 1), b = random_vector<float>(std::size_t(k) * n, 2);
  std::vector<float> nan_c(std::size_t(m) * n, std::numeric_limits<float>::quiet_NaN());
  native->gemm(Transpose::no, Transpose::no, m, n, k, 1.0f, a.data(), k, b.data(), n, 0.0f, nan_c.data(), n);
  const auto want = double_gemm(Transpose::no, Transpose::no, m, n, k, 1.0, rounded(a), k, rounded(b), n, 0.0,
                                std::vector<float>(nan_c.size(), 0.0f), n);
  CHECK(test::relative_error(nan_c, want) < 2e-6);

  std::vector<float> scaled(6, 2.0f);
  native->gemm(Transpose::no, Transpose::no, 2, 3, 0, 1.0f, a.data(), 1, b.data(), 3, 0.5f, scaled.data(), 3);
  CHECK(scaled == std::vector<float>(6, 1.0f));

  const int threads = cpu_threads();
  if (threads == 0) return;  // no thread control in this BLAS
  std::vector<float> one(std::size_t(m) * n), two(std::size_t(m) * n);
  set_cpu_threads(1);
  native->gemm(Transpose::yes, Transpose::no, m, n, k, 1.0f, a.data(), m, b.data(), n, 0.0f, one.data(), n);
  set_cpu_threads(2);
  native->gemm(Transpose::yes, Transpose::no, m, n, k, 1.0f, a.data(), m, b.data(), n, 0.0f, two.data(), n);
  set_cpu_threads(threads);
  CHECK(one == two);  // each element is one thread's sum, in the same order
}

TEST_CASE("BF16 kernels: an LSTM sequence (R packed once) matches the emulation", "[cpu][bf16]") {
  if (!have_kernels()) return;
  auto native = make_cpu_backend(CpuOptions{.math = MathMode::bf16, .bf16_gemm = true});
  auto emulated = make_cpu_backend(CpuOptions{.math = MathMode::bf16, .bf16_gemm = false});
  // Odd sizes: H 37 gives 4H = 148 columns (panels of 32 with a ragged last one).
  const LstmShape s{6, 11, 9, 37};
  const int width = 4 * s.hidden;
  const std::size_t rows = std::size_t(s.steps) * s.batch, cells = rows * std::size_t(s.hidden);
  const auto x = random_vector<float>(rows * s.input, 1), w = random_vector<float>(std::size_t(s.input) * width, 2);
  const auto r = random_vector<float>(std::size_t(s.hidden) * width, 3, -0.3, 0.3);
  const auto b = random_vector<float>(std::size_t(width), 4), dh = random_vector<float>(cells, 5);
  struct Out {
    std::vector<float> h, c, gates, dx, dw, dr, db;
  };
  auto run = [&](Backend& backend) {
    Out o{std::vector<float>(cells), std::vector<float>(cells), std::vector<float>(rows * width),
          std::vector<float>(rows * s.input), std::vector<float>(std::size_t(s.input) * width),
          std::vector<float>(std::size_t(s.hidden) * width), std::vector<float>(std::size_t(width))};
    std::vector<float> workspace(rows * width + 2 * std::size_t(s.batch) * s.hidden);
    backend.lstm_forward(s, x.data(), w.data(), r.data(), b.data(), o.h.data(), o.c.data(), o.gates.data());
    backend.lstm_backward(s, x.data(), w.data(), r.data(), o.h.data(), o.c.data(), o.gates.data(), dh.data(),
                          o.dx.data(), o.dw.data(), o.dr.data(), o.db.data(), workspace.data());
    return o;
  };
  const Out got = run(*native), want = run(*emulated);
  CHECK(test::relative_error(got.h, want.h) < 1e-5);
  CHECK(test::relative_error(got.c, want.c) < 1e-5);
  CHECK(test::relative_error(got.dx, want.dx) < 1e-5);
  CHECK(test::relative_error(got.dw, want.dw) < 1e-5);
  CHECK(test::relative_error(got.dr, want.dr) < 1e-5);
  CHECK(test::relative_error(got.db, want.db) < 1e-5);
  CHECK(got.h != want.h);  // the two really run different GEMMs
}

// Generation in --precision bf16: the window predictor's lstm_step and dense
// ops multiply weights packed once (Bf16WeightCache) instead of at every call.
// Its probabilities must be the emulation's within the sequence test's
// envelope (the same rounded operands, other sums' order), note after note,
// and stay so after the weights change through the backend (upload_parameters:
// a copy_to_device over the packed weights) and after a training step
// (lstm_forward, Adamax), which must drop the packings.
TEST_CASE("BF16 kernels: generation on weights packed once matches the emulation", "[cpu][bf16][generate]") {
  if (!have_kernels()) return;
  auto native = make_cpu_backend(CpuOptions{.math = MathMode::bf16, .bf16_gemm = true});
  auto emulated = make_cpu_backend(CpuOptions{.math = MathMode::bf16, .bf16_gemm = false});
  ModelConfig config;  // odd sizes: 4 H1 = 148 and 4 H2 = 84 columns, ragged panels of 32
  config.vocab = 23;
  config.window = 7;
  config.hidden1 = 37;
  config.hidden2 = 21;
  config.dense = 19;
  config.input = InputMode::embedding;  // layer 1's input projection is a GEMM too
  config.embedding_dim = 9;
  Model got_model(*native, config, 1), want_model(*emulated, config, 1);
  got_model.initialize(7);
  want_model.upload_parameters(got_model.download_parameters());
  WindowPredictor got(got_model, 3), want(want_model, 3);
  std::vector<std::int32_t> windows(3 * std::size_t(config.window));
  for (std::size_t i = 0; i < windows.size(); ++i) windows[i] = std::int32_t((i * 5 + 1) % 23);
  CHECK(test::relative_error(got.start(windows), want.start(windows)) < 1e-5);
  std::vector<std::int32_t> next{4, 17, 9};
  auto push_both = [&](int notes) {
    for (int i = 0; i < notes; ++i) {
      const std::vector<float> a = got.push(next), b = want.push(next);
      INFO("note " << i);
      CHECK(test::relative_error(a, b) < 1e-5);
      for (std::int32_t& t : next) t = (t * 3 + 2) % 23;
    }
  };
  push_both(5);

  // New weights through the backend: a stale packing would keep the old ones.
  std::vector<float> changed = got_model.download_parameters();
  for (float& v : changed) v = -1.5f * v;
  got_model.upload_parameters(changed);
  want_model.upload_parameters(changed);
  push_both(5);

  // A training step of the generating model changes its weights in place
  // (Adamax): generation after it must multiply the new ones.
  std::vector<std::int32_t> window(std::size_t(config.window));
  for (std::size_t i = 0; i < window.size(); ++i) window[i] = std::int32_t((i * 7 + 3) % 23);
  got_model.set_batch(window, std::vector<std::int32_t>{5});
  got_model.train_step(1, 1);
  AdamaxParams hp;
  hp.learning_rate = 0.05;
  Adamax adamax(*native, got_model.parameters().size(), hp);
  adamax.step(got_model.parameters().data(), got_model.gradients().data());
  const std::vector<float> trained = got_model.download_parameters();
  REQUIRE(trained != changed);
  want_model.upload_parameters(trained);
  push_both(5);
}
