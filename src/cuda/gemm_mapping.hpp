#pragma once
// Row-major GEMM on a column-major BLAS (cuBLAS), as a pure function so the
// host tests check it without a GPU.
//
// A row-major matrix X [r, c] with leading dimension ld is, read column-major,
// X^T [c, r] with the same ld. So the row-major product
//     C [m, n] = op(A) [m, k] * op(B) [k, n]
// is, in column-major terms,
//     C^T [n, m] = op(B)^T [n, k] * op(A)^T [k, m]:
// swap the operands and m with n; each operand keeps its own transpose flag
// and its own leading dimension.

#include <algorithm>
#include <string>

#include "nocturne/backend.hpp"
#include "nocturne/error.hpp"

namespace nocturne::inline v0::cuda {

// The arguments of one column-major call: C = op(first) * op(second), C
// [rows, cols] with leading dimension ldc. first_is_b says which row-major
// operand goes first (always B: kept explicit for the tests and the reader).
struct ColumnMajorGemm {
  bool transpose_first = false;
  bool transpose_second = false;
  int rows = 0, cols = 0, depth = 0;  // cuBLAS' m, n, k
  bool first_is_b = true;
  int ld_first = 0, ld_second = 0, ldc = 0;
};

// Throws ShapeError (the same checks as the CPU backend) when a size is
// negative or a leading dimension is shorter than the row-major rows it spans.
inline ColumnMajorGemm map_row_major_gemm(Transpose trans_a, Transpose trans_b, int m, int n, int k, int lda,
                                          int ldb, int ldc) {
  if (m < 0 || n < 0 || k < 0)
    throw ShapeError("gemm: negative size m=" + std::to_string(m) + " n=" + std::to_string(n) +
                     " k=" + std::to_string(k));
  const int a_cols = trans_a == Transpose::no ? k : m;
  const int b_cols = trans_b == Transpose::no ? n : k;
  if (lda < std::max(1, a_cols)) throw ShapeError("gemm: lda " + std::to_string(lda) + " < " + std::to_string(a_cols));
  if (ldb < std::max(1, b_cols)) throw ShapeError("gemm: ldb " + std::to_string(ldb) + " < " + std::to_string(b_cols));
  if (ldc < std::max(1, n)) throw ShapeError("gemm: ldc " + std::to_string(ldc) + " < " + std::to_string(n));
  ColumnMajorGemm g;
  g.transpose_first = trans_b == Transpose::yes;
  g.transpose_second = trans_a == Transpose::yes;
  g.rows = n;
  g.cols = m;
  g.depth = k;
  g.first_is_b = true;
  g.ld_first = ldb;
  g.ld_second = lda;
  g.ldc = ldc;
  return g;
}

}  // namespace nocturne::cuda
