// cuBLASLt plans of the fused path (cublas_lt.hpp).

#include "cuda/cublas_lt.hpp"

#include <cstdint>
#include <string>

#include "cuda/gemm_mapping.hpp"
#include "nocturne/error.hpp"

namespace nocturne::inline v0::cuda {

std::size_t pointer_alignment(const void* p) {
  const auto address = reinterpret_cast<std::uintptr_t>(p);
  std::size_t alignment = 256;
  while (alignment > 1 && address % alignment != 0) alignment /= 2;
  return alignment;
}

namespace {

cublasComputeType_t compute_type(MathMode mode) {
  switch (mode) {
    case MathMode::tf32: return CUBLAS_COMPUTE_32F_FAST_TF32;
    case MathMode::bf16: return CUBLAS_COMPUTE_32F_FAST_16BF;
    case MathMode::strict_fp32: break;
  }
  return CUBLAS_COMPUTE_32F;
}

template <typename Attribute, typename Value>
void set_desc(cublasLtMatmulDesc_t desc, Attribute attribute, const Value& value) {
  NOCTURNE_CUDA_CHECK(cublasLtMatmulDescSetAttribute(desc, attribute, &value, sizeof value));
}

LtLayout layout(int rows, int cols, int ld) {
  cublasLtMatrixLayout_t raw = nullptr;
  NOCTURNE_CUDA_CHECK(cublasLtMatrixLayoutCreate(&raw, CUDA_R_32F, std::uint64_t(rows), std::uint64_t(cols),
                                                 std::int64_t(ld)));
  return LtLayout(raw);
}

inline void destroy_preference(cublasLtMatmulPreference_t p) { cublasLtMatmulPreferenceDestroy(p); }
using LtPreference = Owned<cublasLtMatmulPreference_t, destroy_preference>;

template <typename Value>
void set_preference(cublasLtMatmulPreference_t pref, cublasLtMatmulPreferenceAttributes_t attribute,
                    const Value& value) {
  NOCTURNE_CUDA_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, attribute, &value, sizeof value));
}

}  // namespace

void LtGemm::init(std::size_t workspace_bytes) {
  cublasLtHandle_t raw = nullptr;
  NOCTURNE_CUDA_CHECK(cublasLtCreate(&raw));
  handle_ = LtHandle(raw);
  workspace_ = device_memory(workspace_bytes);
  workspace_bytes_ = workspace_bytes;
}

LtGemm::Plan LtGemm::make_plan(const Key& key) {
  const auto [t_first, t_second, rows, cols, depth, ld_first, ld_second, ldc, compute, al_first, al_second, al_c] =
      key;
  Plan plan;
  cublasLtMatmulDesc_t desc = nullptr;
  NOCTURNE_CUDA_CHECK(cublasLtMatmulDescCreate(&desc, cublasComputeType_t(compute), CUDA_R_32F));
  plan.desc = LtDesc(desc);
  const cublasOperation_t op_first = t_first ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t op_second = t_second ? CUBLAS_OP_T : CUBLAS_OP_N;
  set_desc(desc, CUBLASLT_MATMUL_DESC_TRANSA, op_first);
  set_desc(desc, CUBLASLT_MATMUL_DESC_TRANSB, op_second);
  // Column-major layouts of the stored matrices (before their transposes).
  plan.first = t_first ? layout(depth, rows, ld_first) : layout(rows, depth, ld_first);
  plan.second = t_second ? layout(cols, depth, ld_second) : layout(depth, cols, ld_second);
  plan.out = layout(rows, cols, ldc);

  cublasLtMatmulPreference_t raw_pref = nullptr;
  NOCTURNE_CUDA_CHECK(cublasLtMatmulPreferenceCreate(&raw_pref));
  LtPreference pref(raw_pref);
  set_preference(raw_pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, std::uint64_t(workspace_bytes_));
  set_preference(raw_pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, std::uint32_t(al_first));
  set_preference(raw_pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, std::uint32_t(al_second));
  set_preference(raw_pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, std::uint32_t(al_c));
  set_preference(raw_pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, std::uint32_t(al_c));

  cublasLtMatmulHeuristicResult_t result{};
  int found = 0;
  NOCTURNE_CUDA_CHECK(cublasLtMatmulAlgoGetHeuristic(handle_.get(), desc, plan.first.get(), plan.second.get(),
                                                     plan.out.get(), plan.out.get(), raw_pref, 1, &result, &found));
  if (found == 0)
    throw NotSupportedError("cuBLASLt has no algorithm for the GEMM " + std::to_string(rows) + " x " +
                            std::to_string(cols) + " x " + std::to_string(depth) + " (compute type " +
                            std::to_string(compute) + ")");
  plan.algo = result.algo;
  return plan;
}

void LtGemm::run(cudaStream_t stream, MathMode mode, Transpose trans_a, Transpose trans_b, int m, int n, int k,
                 float alpha, const float* a, int lda, const float* b, int ldb, float beta, float* c, int ldc) {
  const ColumnMajorGemm g = map_row_major_gemm(trans_a, trans_b, m, n, k, lda, ldb, ldc);
  const float* first = g.first_is_b ? b : a;
  const float* second = g.first_is_b ? a : b;
  const Key key{g.transpose_first, g.transpose_second, g.rows, g.cols, g.depth, g.ld_first, g.ld_second, g.ldc,
                int(compute_type(mode)), pointer_alignment(first), pointer_alignment(second), pointer_alignment(c)};
  auto it = plans_.find(key);
  if (it == plans_.end()) it = plans_.emplace(key, make_plan(key)).first;
  const Plan& plan = it->second;
  NOCTURNE_CUDA_CHECK(cublasLtMatmul(handle_.get(), plan.desc.get(), &alpha, first, plan.first.get(), second,
                                     plan.second.get(), &beta, c, plan.out.get(), c, plan.out.get(), &plan.algo,
                                     workspace_.get(), workspace_bytes_, stream));
}

}  // namespace nocturne::cuda
