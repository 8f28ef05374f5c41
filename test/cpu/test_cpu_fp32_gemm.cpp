// The FP32 GEMMs of the LSTM kernels' weight gradients (cpu::fp32_gemm,
// cpu::fp32_rank_one_gradients; AVX-512) against double-precision loops, on
// sizes around the register tile (6 rows, 64 columns), the k block (128) and
// the column block (1024), with leading dimensions wider than the matrices.
// Skipped, with a message, on a processor without AVX-512F (the kernels that
// call them do not run there).

#include <catch2/catch.hpp>
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "cpu/cpu_kernels.hpp"
#include "cpu_test_support.hpp"
#include "nocturne/error.hpp"

using namespace nocturne;
using test::random_vector;

namespace {

bool supported() {
  if (cpu::lstm_fp32_kernels_supported()) return true;
  WARN("this processor has no AVX-512F: the FP32 GEMMs do not run here, nothing to check");
  return false;
}

std::vector<float> to_float(const std::vector<double>& v) { return {v.begin(), v.end()}; }

// op(X)[row, col] of a row-major X with leading dimension ld.
double element(const std::vector<float>& x, int ld, Transpose t, int row, int col) {
  return t == Transpose::no ? x[std::size_t(row) * std::size_t(ld) + std::size_t(col)]
                            : x[std::size_t(col) * std::size_t(ld) + std::size_t(row)];
}

// |got - want| within the worst-case bound of a float sum of k products,
// k u sum |a b| (u = 2^-24), doubled, plus the rounding of the start value.
bool within(double got, double want, double magnitude, int k) {
  return std::fabs(got - want) <= 2.0 * (k + 1) * (FLT_EPSILON / 2) * magnitude + 1e-30;
}

}  // namespace

TEST_CASE("fp32_gemm: op(A) op(B) against a double loop", "[cpu][fp32-gemm]") {
  if (!supported()) return;
  struct Size {
    int m, n, k;
  };
  // 1 x 1 x 1; under one tile; one tile exactly with k one block; odd sizes
  // over a tile, k over a block and not a multiple of it; columns over the
  // 1024-column block.
  const Size sizes[] = {{1, 1, 1}, {5, 63, 7}, {6, 64, 128}, {7, 65, 129}, {13, 130, 300}, {17, 1100, 261}};
  const Transpose no = Transpose::no, yes = Transpose::yes;
  const Transpose trans[][2] = {{yes, no}, {no, yes}, {no, no}, {yes, yes}};
  std::uint32_t seed = 7;
  for (const Size& s : sizes)
    for (const auto& t : trans)
      for (bool accumulate : {false, true}) {
        const Transpose ta = t[0], tb = t[1];
        INFO("m " << s.m << " n " << s.n << " k " << s.k << " op(A) " << (ta == yes ? "A^T" : "A") << " op(B) "
                  << (tb == yes ? "B^T" : "B") << (accumulate ? ", accumulating" : ""));
        // Leading dimensions 3 wider than the stored rows.
        const int a_rows = ta == no ? s.m : s.k, a_cols = ta == no ? s.k : s.m;
        const int b_rows = tb == no ? s.k : s.n, b_cols = tb == no ? s.n : s.k;
        const int lda = a_cols + 3, ldb = b_cols + 3, ldc = s.n + 3;
        const auto a = to_float(random_vector(std::size_t(a_rows) * std::size_t(lda), seed++));
        const auto b = to_float(random_vector(std::size_t(b_rows) * std::size_t(ldb), seed++));
        const auto c0 = to_float(random_vector(std::size_t(s.m) * std::size_t(ldc), seed++));
        auto c = c0;
        // Column sums (op(B) = B only) added to a start value.
        const auto sums0 = to_float(random_vector(std::size_t(s.n), seed++));
        auto sums = sums0;
        cpu::fp32_gemm(ta, tb, s.m, s.n, s.k, a.data(), lda, b.data(), ldb, accumulate, c.data(), ldc,
                       tb == no ? sums.data() : nullptr);
        int bad = 0;
        for (int i = 0; i < s.m; ++i)
          for (int j = 0; j < s.n; ++j) {
            const std::size_t at = std::size_t(i) * std::size_t(ldc) + std::size_t(j);
            double want = accumulate ? double(c0[at]) : 0.0, magnitude = std::fabs(want);
            for (int p = 0; p < s.k; ++p) {
              const double term = element(a, lda, ta, i, p) * element(b, ldb, tb, p, j);
              want += term;
              magnitude += std::fabs(term);
            }
            if (!within(c[at], want, magnitude, s.k)) ++bad;
          }
        CHECK(bad == 0);
        // The padding past n in each row of C is not written.
        int written = 0;
        for (int i = 0; i < s.m; ++i)
          for (int j = s.n; j < ldc; ++j) {
            const std::size_t at = std::size_t(i) * std::size_t(ldc) + std::size_t(j);
            if (c[at] != c0[at]) ++written;
          }
        CHECK(written == 0);
        if (tb == no) {
          int bad_sums = 0;
          for (int j = 0; j < s.n; ++j) {
            double want = sums0[std::size_t(j)], magnitude = std::fabs(want);
            for (int p = 0; p < s.k; ++p) {
              want += element(b, ldb, tb, p, j);
              magnitude += std::fabs(element(b, ldb, tb, p, j));
            }
            if (!within(sums[std::size_t(j)], want, magnitude, s.k)) ++bad_sums;
          }
          CHECK(bad_sums == 0);
        }
      }
}

TEST_CASE("fp32_gemm: k = 0 clears C or leaves it; a given workspace; bad arguments throw", "[cpu][fp32-gemm]") {
  if (!supported()) return;
  const std::vector<float> a(12, 1.0f), b(12, 1.0f);
  std::vector<float> c(12, 5.0f);
  cpu::fp32_gemm(Transpose::yes, Transpose::no, 3, 4, 0, a.data(), 3, b.data(), 4, true, c.data(), 4);
  CHECK(c == std::vector<float>(12, 5.0f));
  cpu::fp32_gemm(Transpose::yes, Transpose::no, 3, 4, 0, a.data(), 3, b.data(), 4, false, c.data(), 4);
  CHECK(c == std::vector<float>(12, 0.0f));
  std::vector<float> sums(4);
  CHECK_THROWS_AS(cpu::fp32_gemm(Transpose::no, Transpose::yes, 3, 4, 1, a.data(), 1, b.data(), 1, false, c.data(),
                                 4, sums.data()),
                  ShapeError);
  CHECK_THROWS_AS(cpu::fp32_gemm(Transpose::no, Transpose::no, 3, 4, 2, a.data(), 1, b.data(), 4, false, c.data(), 4),
                  ShapeError);
  // A workspace of the caller's: the same result as one of the call's own; misaligned, refused.
  std::vector<float> workspace(cpu::fp32_gemm_workspace_size() + 16);
  float* aligned = workspace.data();
  while (reinterpret_cast<std::uintptr_t>(aligned) % 64 != 0) ++aligned;
  const auto x = to_float(random_vector(6 * 9, 3)), y = to_float(random_vector(6 * 70, 4));
  std::vector<float> own(9 * 70), given(9 * 70);
  cpu::fp32_gemm(Transpose::yes, Transpose::no, 9, 70, 6, x.data(), 9, y.data(), 70, false, own.data(), 70);
  cpu::fp32_gemm(Transpose::yes, Transpose::no, 9, 70, 6, x.data(), 9, y.data(), 70, false, given.data(), 70, nullptr,
                 aligned);
  CHECK(own == given);
  CHECK(std::count(own.begin(), own.end(), 0.0f) == 0);
  CHECK_THROWS_AS(cpu::fp32_gemm(Transpose::yes, Transpose::no, 9, 70, 6, x.data(), 9, y.data(), 70, false,
                                 given.data(), 70, nullptr, aligned + 1),
                  ShapeError);
}

TEST_CASE("fp32_rank_one_gradients: dw, db and dx of a one-feature input against a double loop",
          "[cpu][fp32-gemm]") {
  if (!supported()) return;
  std::uint32_t seed = 31;
  // Rows on both sides of the 4-row groups, columns on both sides of a vector.
  for (int k : {1, 3, 4, 9, 130})
    for (int n : {1, 15, 17, 100})
      for (bool with_dx : {true, false}) {
        INFO("k " << k << " n " << n << (with_dx ? "" : ", no dx"));
        const int ldg = n + 5;
        const auto x = to_float(random_vector(std::size_t(k), seed++));
        const auto g = to_float(random_vector(std::size_t(k) * std::size_t(ldg), seed++));
        const auto w = to_float(random_vector(std::size_t(n), seed++));
        const auto db0 = to_float(random_vector(std::size_t(n), seed++));
        std::vector<float> dw(std::size_t(n), 9.0f), db = db0, dx(std::size_t(k), 9.0f);
        cpu::fp32_rank_one_gradients(k, n, x.data(), g.data(), ldg, w.data(), dw.data(), db.data(),
                                     with_dx ? dx.data() : nullptr);
        int bad = 0;
        for (int j = 0; j < n; ++j) {
          double want_w = 0, mag_w = 0, want_b = db0[std::size_t(j)], mag_b = std::fabs(want_b);
          for (int p = 0; p < k; ++p) {
            const double gv = g[std::size_t(p) * std::size_t(ldg) + std::size_t(j)];
            want_w += x[std::size_t(p)] * gv;
            mag_w += std::fabs(x[std::size_t(p)] * gv);
            want_b += gv;
            mag_b += std::fabs(gv);
          }
          if (!within(dw[std::size_t(j)], want_w, mag_w, k)) ++bad;
          if (!within(db[std::size_t(j)], want_b, mag_b, k)) ++bad;
        }
        for (int p = 0; p < k; ++p) {
          if (!with_dx) {
            if (dx[std::size_t(p)] != 9.0f) ++bad;  // not written
            continue;
          }
          double want = 0, magnitude = 0;
          for (int j = 0; j < n; ++j) {
            const double term = g[std::size_t(p) * std::size_t(ldg) + std::size_t(j)] * double(w[std::size_t(j)]);
            want += term;
            magnitude += std::fabs(term);
          }
          if (!within(dx[std::size_t(p)], want, magnitude, n)) ++bad;
        }
        CHECK(bad == 0);
      }
}
