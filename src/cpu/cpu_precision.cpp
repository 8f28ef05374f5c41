// The reduced math modes on the CPU: every GEMM operand rounded to TF32 or
// BF16 (round to nearest even, math/precision.hpp) before an ordinary BLAS
// GEMM sums the products in the backend's own precision. The CUDA kernels
// round their operands with the same functions, so the operands of both are
// the same bits and only the order of the sums differs: the CPU run is the
// reference the GPU's reduced modes are checked against.

#include <algorithm>
#include <cstddef>

#include "cpu/cpu_kernels.hpp"
#include "math/precision.hpp"

namespace nocturne::inline v0::cpu {
namespace {

template <typename T>
T round_operand(MathMode mode, T x) {
  return mode == MathMode::bf16 ? math::round_to_bf16(x) : math::round_to_tf32(x);
}

// copy[rows, cols] (leading dimension cols) = the rounded stored matrix src
// [rows, cols] with leading dimension ld.
template <typename T>
const T* rounded_copy(MathMode mode, std::vector<T>& copy, int rows, int cols, const T* src, int ld) {
  const std::size_t r = std::size_t(rows), c = std::size_t(cols);
  if (copy.size() < r * c) copy.resize(r * c);
  for (std::size_t i = 0; i < r; ++i) {
    const T* in = src + i * std::size_t(ld);
    T* out = copy.data() + i * c;
    for (std::size_t j = 0; j < c; ++j) out[j] = round_operand(mode, in[j]);
  }
  return copy.data();
}

template <typename T>
void gemm_rounded(MathMode mode, OperandCopies<T>& copies, Transpose trans_a, Transpose trans_b, int m, int n, int k,
                  T alpha, const T* a, int lda, const T* b, int ldb, T beta, T* c, int ldc) {
  if (mode == MathMode::strict_fp32 || m == 0 || n == 0 || k == 0)
    return blas_gemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  check_gemm(trans_a, trans_b, m, n, k, lda, ldb, ldc);
  // The stored shapes: op(A) [m, k] is A [m, k] or A [k, m], likewise B.
  const int a_rows = trans_a == Transpose::no ? m : k, a_cols = trans_a == Transpose::no ? k : m;
  const int b_rows = trans_b == Transpose::no ? k : n, b_cols = trans_b == Transpose::no ? n : k;
  const T* ra = rounded_copy(mode, copies.a, a_rows, a_cols, a, lda);
  const T* rb = rounded_copy(mode, copies.b, b_rows, b_cols, b, ldb);
  blas_gemm(trans_a, trans_b, m, n, k, alpha, ra, a_cols, rb, b_cols, beta, c, ldc);
}

template <typename T>
void round_all(MathMode mode, std::size_t n, T* x) {
  if (mode == MathMode::strict_fp32) return;
  for (std::size_t i = 0; i < n; ++i) x[i] = round_operand(mode, x[i]);
}

}  // namespace

void gemm_in_mode(MathMode mode, OperandCopies<float>& copies, Transpose trans_a, Transpose trans_b, int m, int n,
                  int k, float alpha, const float* a, int lda, const float* b, int ldb, float beta, float* c,
                  int ldc) {
  gemm_rounded(mode, copies, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void gemm_in_mode(MathMode mode, OperandCopies<double>& copies, Transpose trans_a, Transpose trans_b, int m, int n,
                  int k, double alpha, const double* a, int lda, const double* b, int ldb, double beta, double* c,
                  int ldc) {
  gemm_rounded(mode, copies, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void round_in_mode(MathMode mode, std::size_t n, float* x) { round_all(mode, n, x); }
void round_in_mode(MathMode mode, std::size_t n, double* x) { round_all(mode, n, x); }

}  // namespace nocturne::cpu
