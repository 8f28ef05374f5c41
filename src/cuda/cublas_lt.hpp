#pragma once
// The fused path's GEMMs through cuBLASLt: one plan per shape, operand
// precision and pointer alignment, made the first time that GEMM is issued
// (host work only, so also inside a graph capture) and kept: the algorithm is
// chosen once by cuBLASLt's heuristic and then fixed, so every replay runs the
// same kernel and gives the same bits (cuBLASLt's split-K reductions are all
// sequenced: in place with counters, or through the workspace). Each branch
// of a step program has its own LtGemm, with its own workspace.
//
// Operand modes: strict FP32 (CUBLAS_COMPUTE_32F), TF32 or BF16 tensor cores
// with FP32 sums (CUBLAS_COMPUTE_32F_FAST_TF32 / _FAST_16BF): cuBLASLt rounds
// the FP32 operands itself, so its rounding may differ from
// math/precision.hpp's in ties (the tolerance envelopes allow for it).

#include <cublasLt.h>

#include <cstddef>
#include <map>
#include <tuple>

#include "cuda/cuda_resources.hpp"
#include "nocturne/backend.hpp"

namespace nocturne::inline v0::cuda {

inline void destroy_lt(cublasLtHandle_t h) { cublasLtDestroy(h); }
inline void destroy_lt_desc(cublasLtMatmulDesc_t d) { cublasLtMatmulDescDestroy(d); }
inline void destroy_lt_layout(cublasLtMatrixLayout_t l) { cublasLtMatrixLayoutDestroy(l); }
using LtHandle = Owned<cublasLtHandle_t, destroy_lt>;
using LtDesc = Owned<cublasLtMatmulDesc_t, destroy_lt_desc>;
using LtLayout = Owned<cublasLtMatrixLayout_t, destroy_lt_layout>;

// The largest power of two (up to 256) that divides the address: the
// alignment a plan may assume.
std::size_t pointer_alignment(const void* p);

class LtGemm {
 public:
  LtGemm() = default;
  LtGemm(LtGemm&&) noexcept = default;
  LtGemm& operator=(LtGemm&&) noexcept = default;
  // Creates the handle and a workspace of `workspace_bytes`.
  void init(std::size_t workspace_bytes);

  // Row-major C [m, n] = alpha op(A) op(B) + beta C on `stream` (the same
  // contract as BasicBackend::gemm; k == 0 is the caller's case).
  void run(cudaStream_t stream, MathMode mode, Transpose trans_a, Transpose trans_b, int m, int n, int k,
           float alpha, const float* a, int lda, const float* b, int ldb, float beta, float* c, int ldc);

  std::size_t plans() const { return plans_.size(); }

 private:
  struct Plan {
    LtDesc desc;
    LtLayout first, second, out;
    cublasLtMatmulAlgo_t algo{};
  };
  // (transpose first, transpose second, rows, cols, depth, ld first, ld second,
  // ldc, compute type, alignment of first, second, C)
  using Key = std::tuple<bool, bool, int, int, int, int, int, int, int, std::size_t, std::size_t, std::size_t>;
  Plan make_plan(const Key& key);

  LtHandle handle_;
  DeviceMemory workspace_;
  std::size_t workspace_bytes_ = 0;
  std::map<Key, Plan> plans_;
};

}  // namespace nocturne::cuda
