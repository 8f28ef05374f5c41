// Row-major GEMM through CBLAS (OpenBLAS).
#include <cblas.h>

#include <algorithm>
#include <string>

#include "cpu/cpu_kernels.hpp"

namespace nocturne::inline v0::cpu {
namespace {

CBLAS_TRANSPOSE to_cblas(Transpose t) { return t == Transpose::yes ? CblasTrans : CblasNoTrans; }

}  // namespace

// Stored shapes of op(A) [m, k] and op(B) [k, n] in row-major order.
void check_gemm(Transpose trans_a, Transpose trans_b, int m, int n, int k, int lda, int ldb, int ldc) {
  const char* op = "gemm";
  if (m < 0 || n < 0 || k < 0)
    throw ShapeError("gemm: negative size m=" + std::to_string(m) + " n=" + std::to_string(n) +
                     " k=" + std::to_string(k));
  const int a_cols = trans_a == Transpose::no ? k : m;
  const int b_cols = trans_b == Transpose::no ? n : k;
  require(lda >= std::max(1, a_cols), op, "lda " + std::to_string(lda) + " < " + std::to_string(a_cols));
  require(ldb >= std::max(1, b_cols), op, "ldb " + std::to_string(ldb) + " < " + std::to_string(b_cols));
  require(ldc >= std::max(1, n), op, "ldc " + std::to_string(ldc) + " < " + std::to_string(n));
}

namespace {

// C = beta * C for the k == 0 case, where BLAS implementations differ.
template <typename E>
void scale_c(int m, int n, E beta, E* c, int ldc) {
  for (int i = 0; i < m; ++i) {
    E* row = c + std::size_t(i) * ldc;
    for (int j = 0; j < n; ++j) row[j] = beta == E(0) ? E(0) : beta * row[j];
  }
}

// One body for both precisions; Blas supplies the typed CBLAS calls.
template <typename E, typename Blas>
void gemm_impl(Transpose trans_a, Transpose trans_b, int m, int n, int k, E alpha, const E* a, int lda, const E* b,
               int ldb, E beta, E* c, int ldc) {
  check_gemm(trans_a, trans_b, m, n, k, lda, ldb, ldc);
  if (m == 0 || n == 0) return;
  if (k == 0) return scale_c(m, n, beta, c, ldc);
  if (m == 1) {
    // c[1, n] = op(A) row . op(B): a GEMV over B. The row of op(A) is A's
    // first row (no transpose) or its first column (stride lda).
    const int inc_a = trans_a == Transpose::no ? 1 : lda;
    if (trans_b == Transpose::no)
      Blas::gemv(CblasTrans, k, n, alpha, b, ldb, a, inc_a, beta, c, 1);
    else
      Blas::gemv(CblasNoTrans, n, k, alpha, b, ldb, a, inc_a, beta, c, 1);
    return;
  }
  if (n == 1) {
    // c[m, 1] (stride ldc) = op(A) . op(B) column: a GEMV over A.
    const int inc_b = trans_b == Transpose::no ? ldb : 1;
    if (trans_a == Transpose::no)
      Blas::gemv(CblasNoTrans, m, k, alpha, a, lda, b, inc_b, beta, c, ldc);
    else
      Blas::gemv(CblasTrans, k, m, alpha, a, lda, b, inc_b, beta, c, ldc);
    return;
  }
  Blas::gemm(to_cblas(trans_a), to_cblas(trans_b), m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

struct SingleBlas {
  static void gemv(CBLAS_TRANSPOSE t, int rows, int cols, float alpha, const float* a, int lda, const float* x,
                   int incx, float beta, float* y, int incy) {
    cblas_sgemv(CblasRowMajor, t, rows, cols, alpha, a, lda, x, incx, beta, y, incy);
  }
  static void gemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int m, int n, int k, float alpha, const float* a, int lda,
                   const float* b, int ldb, float beta, float* c, int ldc) {
    cblas_sgemm(CblasRowMajor, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  }
};

struct DoubleBlas {
  static void gemv(CBLAS_TRANSPOSE t, int rows, int cols, double alpha, const double* a, int lda, const double* x,
                   int incx, double beta, double* y, int incy) {
    cblas_dgemv(CblasRowMajor, t, rows, cols, alpha, a, lda, x, incx, beta, y, incy);
  }
  static void gemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int m, int n, int k, double alpha, const double* a,
                   int lda, const double* b, int ldb, double beta, double* c, int ldc) {
    cblas_dgemm(CblasRowMajor, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  }
};

}  // namespace

void blas_gemm(Transpose trans_a, Transpose trans_b, int m, int n, int k, float alpha, const float* a, int lda,
               const float* b, int ldb, float beta, float* c, int ldc) {
  gemm_impl<float, SingleBlas>(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void blas_gemm(Transpose trans_a, Transpose trans_b, int m, int n, int k, double alpha, const double* a, int lda,
               const double* b, int ldb, double beta, double* c, int ldc) {
  gemm_impl<double, DoubleBlas>(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

}  // namespace nocturne::cpu
