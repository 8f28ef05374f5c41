// Times the weight-gradient GEMMs of the FP32 LSTM kernels' backward
// (cpu::fp32_gemm, cpu::fp32_rank_one_gradients) against OpenBLAS's
// cblas_sgemm on the same shapes, both on one thread (as each kernel thread
// calls them), one after the other in the same run: the recipe's two layers
// (batch 256, 40 steps: 5120 rows a thread on two threads, 10240 on one).
//
//   bench_fp32_gemm [--reps N] [--rows K]   (defaults 5 and 5120)

#include <cblas.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "bench_support.hpp"
#include "cpu/cpu_kernels.hpp"
#include "nocturne/backend.hpp"

using namespace nocturne;
using bench::median_ms;
using bench::random_floats;

namespace {

CBLAS_TRANSPOSE cblas(Transpose t) { return t == Transpose::no ? CblasNoTrans : CblasTrans; }

// C [m, n] = op(A) op(B) by both, A and B stored as the backward stores them.
void compare(const char* what, int reps, Transpose ta, Transpose tb, int m, int n, int k) {
  const auto a = random_floats(std::size_t(m) * std::size_t(k), 1);
  const auto b = random_floats(std::size_t(k) * std::size_t(n), 2);
  std::vector<float> c(std::size_t(m) * std::size_t(n));
  const int lda = ta == Transpose::no ? k : m, ldb = tb == Transpose::no ? n : k;
  const double ours = median_ms(reps, [&] {
    cpu::fp32_gemm(ta, tb, m, n, k, a.data(), lda, b.data(), ldb, false, c.data(), n);
  });
  const double blas = median_ms(reps, [&] {
    cblas_sgemm(CblasRowMajor, cblas(ta), cblas(tb), m, n, k, 1.0f, a.data(), lda, b.data(), ldb, 0.0f, c.data(), n);
  });
  const double gflop = 2.0 * m * n * k / 1e9;
  std::printf("%-34s %5d %5d %6d  %8.2f ms %6.1f GFLOP/s  %8.2f ms %6.1f GFLOP/s  %5.2fx\n", what, m, n, k, ours,
              gflop / (ours * 1e-3), blas, gflop / (blas * 1e-3), blas / ours);
}

// The one-feature layer's dW, db and dx: ours in one pass, OpenBLAS by two
// GEMVs (blas_gemm's route for m == 1 and n == 1) and a column-sum loop.
void compare_rank_one(int reps, int n, int k) {
  const auto x = random_floats(std::size_t(k), 1), g = random_floats(std::size_t(k) * std::size_t(n), 2);
  const auto w = random_floats(std::size_t(n), 3);
  std::vector<float> dw(std::size_t(n), 0.0f), db(std::size_t(n), 0.0f), dx(std::size_t(k), 0.0f);
  const double ours = median_ms(reps, [&] {
    std::fill(db.begin(), db.end(), 0.0f);
    cpu::fp32_rank_one_gradients(k, n, x.data(), g.data(), n, w.data(), dw.data(), db.data(), dx.data());
  });
  const double blas = median_ms(reps, [&] {
    cblas_sgemv(CblasRowMajor, CblasTrans, k, n, 1.0f, g.data(), n, x.data(), 1, 0.0f, dw.data(), 1);
    cblas_sgemv(CblasRowMajor, CblasNoTrans, k, n, 1.0f, g.data(), n, w.data(), 1, 0.0f, dx.data(), 1);
    std::fill(db.begin(), db.end(), 0.0f);
    for (std::size_t r = 0; r < std::size_t(k); ++r)
      for (std::size_t j = 0; j < std::size_t(n); ++j) db[j] += g[r * std::size_t(n) + j];
  });
  std::printf("%-34s %5d %5d %6d  %8.2f ms %16s  %8.2f ms %16s  %5.2fx\n", "layer 1 dW, db, dx (F 1)", 1, n, k, ours,
              "", blas, "", blas / ours);
}

}  // namespace

int main(int argc, char** argv) {
  int reps = 5, rows = 5120;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--reps"))
      reps = std::max(1, std::atoi(argv[i + 1]));
    else if (!std::strcmp(argv[i], "--rows"))
      rows = std::max(1, std::atoi(argv[i + 1]));
    else {
      std::fprintf(stderr, "bench_fp32_gemm: unknown option %s (--reps N, --rows K)\n", argv[i]);
      return 2;
    }
  }
  if (!cpu::lstm_fp32_kernels_supported()) {
    std::printf("bench_fp32_gemm: this processor has no AVX-512F; the FP32 kernels do not run here\n");
    return 0;
  }
  set_cpu_threads(1);
  std::printf("one thread each, medians of %d after one warm-up; C [m, n] = op(A) op(B), k summed\n", reps);
  std::printf("%-34s %5s %5s %6s  %26s  %26s  %6s\n", "GEMM", "m", "n", "k", "ours", "cblas_sgemm", "speed");
  const Transpose no = Transpose::no, yes = Transpose::yes;
  compare("layer 1 dR = h^T dgates (H 512)", reps, yes, no, 512, 2048, rows);
  compare_rank_one(reps, 2048, rows);
  compare("layer 2 dR = h^T dgates (H 256)", reps, yes, no, 256, 1024, rows);
  compare("layer 2 dW = x^T dgates (F 512)", reps, yes, no, 512, 1024, rows);
  compare("layer 2 dx = dgates W^T", reps, no, yes, rows, 512, 1024);
  compare("square 2048^3 (no, no)", reps, no, no, 2048, 2048, 2048);
  return 0;
}
