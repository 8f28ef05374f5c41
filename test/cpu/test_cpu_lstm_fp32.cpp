// The FP32 LSTM kernels (AVX-512, CpuOptions::fp32_lstm_kernels): the
// sequence forward and backward, with and without a recurrent mask, against
// the double-precision backend (the reference the finite-difference tests
// check) and against the SGEMM path. The shapes put batch rows outside whole
// register tiles (6 rows), hidden sizes off the panels (16 units forward, 64
// backward), widths on both sides of the folded input projection (< 8), and
// work enough to split the rows between two threads. Skipped, with a message,
// on a processor without AVX-512F (the backend then runs the SGEMM path,
// which test_cpu_lstm checks).

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "cpu_lstm_sequence.hpp"
#include "cpu_test_support.hpp"
#include "nocturne/backend.hpp"

using namespace nocturne;
using test::random_vector;

namespace {

// FP32 against double: the envelope test_cpu_lstm's float-against-double case uses.
constexpr double kTolerance = 1e-5;

// Sequences of 256 rows (steps x batch) and more run on the kernels; fewer on
// the SGEMM path, which test_cpu_lstm checks.
const LstmShape kShapes[] = {
    {40, 7, 1, 17},    // scalar input folded into the cells; one forward panel of 16 and a tail of 1
    {20, 13, 9, 33},   // x W in the register tiles; 13 rows in tiles of 5, 4 and 4
    {256, 1, 3, 5},    // one row, folded input of width 3, H under one vector
    {43, 6, 1, 16},    // exactly one tile and one forward panel
    {11, 25, 20, 70},  // backward panels of 64 and a tail of 6
    {8, 40, 1, 24},    // a forward panel tail of 8
    {6, 48, 3, 64},    // enough work to split the rows between two threads
    {7, 40, 12, 64},   // the same with x W in the tiles
    {2, 600, 3, 16},   // weight gradients in the threads, one step each: step 0 adds nothing to dR
    {1, 1500, 3, 16},  // the same with one step: the first thread has none
    {5, 60, 7, 260},   // 4H = 1040: the weight-gradient GEMMs' B in two column blocks (1024 + 16)
};

bool kernels_on(const BasicBackend<float>& be) { return be.name().find("AVX-512 LSTM kernels") != std::string::npos; }

}  // namespace

// Each thread's weight gradients over its own steps on our GEMMs
// (fp32_thread_weight_gradients on, the default) and OpenBLAS's after the
// recurrence (off), on one thread and two (partials added at the end).
TEST_CASE("FP32 LSTM kernels: sequence forward and backward against double and the SGEMM path",
          "[cpu][lstm][fp32-kernels]") {
  const bool in_threads = GENERATE(true, false);
  const int threads = GENERATE(1, 2);
  CpuOptions options;
  options.fp32_thread_weight_gradients = in_threads;
  auto kernels = make_cpu_backend(options);
  CpuOptions sgemm_options;
  sgemm_options.fp32_lstm_kernels = false;
  auto sgemm = make_cpu_backend(sgemm_options);
  auto reference = make_cpu_backend_double();
  REQUIRE_FALSE(kernels_on(*sgemm));
  if (!kernels_on(*kernels)) {
    WARN("this processor has no AVX-512F: the FP32 LSTM kernels are not used, nothing to check");
    return;
  }
  const test::CpuThreadsScope scope(threads);
  const int blas_threads = cpu_threads();  // 0 where the BLAS has no thread control (then one thread)
  if (threads > 1 && blas_threads == 0) return;
  std::uint32_t seed = 100;
  for (const LstmShape& s : kShapes)
    for (bool masked : {false, true}) {
      INFO("T " << s.steps << " N " << s.batch << " F " << s.input << " H " << s.hidden << (masked ? " masked" : "")
                << ", " << threads << " thread(s), weight gradients " << (in_threads ? "in" : "after") << " the threads");
      const std::size_t g = 4 * std::size_t(s.hidden), nh = std::size_t(s.batch) * std::size_t(s.hidden);
      const auto x = random_vector(std::size_t(s.steps) * std::size_t(s.batch) * std::size_t(s.input), seed++);
      const auto w = random_vector(std::size_t(s.input) * g, seed++, -0.5, 0.5);
      const auto r = random_vector(std::size_t(s.hidden) * g, seed++, -0.4, 0.4);
      const auto b = random_vector(g, seed++, -0.3, 0.3);
      const auto dh = random_vector(std::size_t(s.steps) * nh, seed++);
      std::vector<double> mask(nh);
      for (std::size_t i = 0; i < nh; ++i) mask[i] = (i * 7 + seed) % 5 == 0 ? 0.0 : 1.25;  // inverted dropout
      const std::vector<double>* m = masked ? &mask : nullptr;
      const auto want = test::run_lstm_sequence(*reference, s, x, w, r, b, dh, m);
      const auto got = test::run_lstm_sequence(*kernels, s, x, w, r, b, dh, m);
      const auto classic = test::run_lstm_sequence(*sgemm, s, x, w, r, b, dh, m);
      test::check_lstm_close(got, want, masked, kTolerance, kTolerance);
      test::check_lstm_close(classic, want, masked, kTolerance, kTolerance);
      // The kernels differ from the SGEMM path by summation order alone.
      CHECK(test::relative_error(got.h, classic.h) < kTolerance);
      CHECK(test::relative_error(got.dx, classic.dx) < kTolerance);
      CHECK(test::relative_error(got.dw, classic.dw) < kTolerance);
      CHECK(test::relative_error(got.dr, classic.dr) < kTolerance);
      CHECK(test::relative_error(got.db, classic.db) < kTolerance);
      // OpenBLAS's thread count is the caller's afterwards (the kernels leave it alone).
      CHECK(cpu_threads() == blas_threads);
    }
}
