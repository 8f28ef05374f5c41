// CpuBackend::gemm against a naive triple loop: every transpose combination,
// odd sizes, padded leading dimensions, the GEMV routes (m == 1, n == 1) and
// k == 0.

#include <catch2/catch.hpp>

#include <vector>

#include "cpu_test_support.hpp"
#include "nocturne/backend.hpp"
#include "nocturne/error.hpp"

using namespace nocturne;
using test::random_vector;

namespace {

// C = alpha op(A) op(B) + beta C in double, element by element.
template <typename T>
std::vector<double> naive_gemm(Transpose ta, Transpose tb, int m, int n, int k, double alpha,
                               const std::vector<T>& a, int lda, const std::vector<T>& b, int ldb, double beta,
                               const std::vector<T>& c, int ldc) {
  std::vector<double> out(c.begin(), c.end());
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < n; ++j) {
      double sum = 0.0;
      for (int p = 0; p < k; ++p) {
        const double av = ta == Transpose::no ? double(a[std::size_t(i * lda + p)]) : double(a[std::size_t(p * lda + i)]);
        const double bv = tb == Transpose::no ? double(b[std::size_t(p * ldb + j)]) : double(b[std::size_t(j * ldb + p)]);
        sum += av * bv;
      }
      out[std::size_t(i * ldc + j)] = alpha * sum + beta * double(c[std::size_t(i * ldc + j)]);
    }
  return out;
}

template <typename T>
void check_gemm(BasicBackend<T>& backend, double tolerance) {
  const int sizes[][3] = {{1, 1, 1}, {3, 5, 7}, {17, 9, 13}, {1, 33, 8}, {21, 1, 6}, {1, 1, 40}, {8, 8, 1}, {64, 70, 65}};
  std::uint32_t seed = 1;
  for (const auto& size : sizes) {
    const int m = size[0], n = size[1], k = size[2];
    for (Transpose ta : {Transpose::no, Transpose::yes})
      for (Transpose tb : {Transpose::no, Transpose::yes}) {
        // Leading dimensions padded by 2 so strides differ from widths.
        const int lda = (ta == Transpose::no ? k : m) + 2, ldb = (tb == Transpose::no ? n : k) + 2, ldc = n + 3;
        const int a_rows = ta == Transpose::no ? m : k, b_rows = tb == Transpose::no ? k : n;
        const auto a = random_vector<T>(std::size_t(a_rows * lda), seed++);
        const auto b = random_vector<T>(std::size_t(b_rows * ldb), seed++);
        auto c = random_vector<T>(std::size_t(m * ldc), seed++);
        const auto expected = naive_gemm(ta, tb, m, n, k, 0.75, a, lda, b, ldb, -0.5, c, ldc);
        backend.gemm(ta, tb, m, n, k, T(0.75), a.data(), lda, b.data(), ldb, T(-0.5), c.data(), ldc);
        INFO("m " << m << " n " << n << " k " << k << " ta " << int(ta) << " tb " << int(tb));
        CHECK(test::relative_error(c, expected) < tolerance);
      }
  }
}

}  // namespace

TEST_CASE("gemm matches a naive loop for every transpose and odd sizes", "[cpu][gemm]") {
  auto single = make_cpu_backend();
  auto twice = make_cpu_backend_double();
  check_gemm(*twice, 1e-13);
  check_gemm(*single, 1e-6);
}

TEST_CASE("gemm with k == 0 scales C by beta", "[cpu][gemm]") {
  auto backend = make_cpu_backend_double();
  std::vector<double> a(1), b(1), c = {1.0, 2.0, 3.0, 4.0};
  backend->gemm(Transpose::no, Transpose::no, 2, 2, 0, 1.0, a.data(), 1, b.data(), 2, 0.5, c.data(), 2);
  CHECK(c == std::vector<double>{0.5, 1.0, 1.5, 2.0});
  backend->gemm(Transpose::no, Transpose::no, 2, 2, 0, 1.0, a.data(), 1, b.data(), 2, 0.0, c.data(), 2);
  CHECK(c == std::vector<double>{0.0, 0.0, 0.0, 0.0});
}

TEST_CASE("gemm rejects leading dimensions that are too small", "[cpu][gemm]") {
  auto backend = make_cpu_backend();
  std::vector<float> a(64), b(64), c(64);
  CHECK_THROWS_AS(backend->gemm(Transpose::no, Transpose::no, 4, 4, 4, 1.0f, a.data(), 3, b.data(), 4, 0.0f,
                                c.data(), 4),
                  ShapeError);
  CHECK_THROWS_AS(backend->gemm(Transpose::no, Transpose::yes, 4, 4, 4, 1.0f, a.data(), 4, b.data(), 3, 0.0f,
                                c.data(), 4),
                  ShapeError);
  CHECK_THROWS_AS(backend->gemm(Transpose::no, Transpose::no, 4, 4, 4, 1.0f, a.data(), 4, b.data(), 4, 0.0f,
                                c.data(), 2),
                  ShapeError);
  CHECK_THROWS_AS(backend->gemm(Transpose::no, Transpose::no, -1, 4, 4, 1.0f, a.data(), 4, b.data(), 4, 0.0f,
                                c.data(), 4),
                  ShapeError);
}

TEST_CASE("the CPU backend's thread count can be read and set", "[cpu][gemm][threads]") {
  const int before = cpu_threads();
  CHECK_FALSE(set_cpu_threads(0));
  CHECK(cpu_threads() == before);
  if (before == 0) {  // a BLAS without thread control
    CHECK_FALSE(set_cpu_threads(1));
    return;
  }
  REQUIRE(set_cpu_threads(1));
  CHECK(cpu_threads() == 1);
  REQUIRE(set_cpu_threads(before));
  CHECK(cpu_threads() == before);
}
