#pragma once
// The WMMA fragment types of the step kernels' tensor-core variants (device
// code only; the staging and the epilogues are in lstm_step_phases.hpp).
// TF32: m16n16k8 from floats already rounded to TF32 (so __float_to_tf32,
// which the fragments require, changes nothing); BF16: m16n16k16 from the
// staged 16-bit patterns. Accumulators are FP32 in both.

#include <cuda_bf16.h>
#include <mma.h>

#include <cstdint>

#include "fused_tiling.hpp"

namespace nocturne::inline v0::kernels {

template <GemmOperands kOperands>
struct Fragments;

template <>
struct Fragments<GemmOperands::tf32> {
  static constexpr int kDepth = 8;
  using A =
      nvcuda::wmma::fragment<nvcuda::wmma::matrix_a, 16, 16, 8, nvcuda::wmma::precision::tf32, nvcuda::wmma::row_major>;
  using BRowMajor =
      nvcuda::wmma::fragment<nvcuda::wmma::matrix_b, 16, 16, 8, nvcuda::wmma::precision::tf32, nvcuda::wmma::row_major>;
  using BColMajor =
      nvcuda::wmma::fragment<nvcuda::wmma::matrix_b, 16, 16, 8, nvcuda::wmma::precision::tf32, nvcuda::wmma::col_major>;
  using Accumulator = nvcuda::wmma::fragment<nvcuda::wmma::accumulator, 16, 16, 8, float>;
  template <typename Fragment>
  __device__ __forceinline__ static void load(Fragment& f, const float* p, int ld) {
    nvcuda::wmma::load_matrix_sync(f, p, unsigned(ld));
#pragma unroll
    for (int i = 0; i < f.num_elements; ++i) f.x[i] = nvcuda::wmma::__float_to_tf32(f.x[i]);
  }
};

template <>
struct Fragments<GemmOperands::bf16> {
  static constexpr int kDepth = 16;
  using A = nvcuda::wmma::fragment<nvcuda::wmma::matrix_a, 16, 16, 16, __nv_bfloat16, nvcuda::wmma::row_major>;
  using BRowMajor = nvcuda::wmma::fragment<nvcuda::wmma::matrix_b, 16, 16, 16, __nv_bfloat16, nvcuda::wmma::row_major>;
  using BColMajor = nvcuda::wmma::fragment<nvcuda::wmma::matrix_b, 16, 16, 16, __nv_bfloat16, nvcuda::wmma::col_major>;
  using Accumulator = nvcuda::wmma::fragment<nvcuda::wmma::accumulator, 16, 16, 16, float>;
  template <typename Fragment>
  __device__ __forceinline__ static void load(Fragment& f, const std::uint16_t* p, int ld) {
    nvcuda::wmma::load_matrix_sync(f, reinterpret_cast<const __nv_bfloat16*>(p), unsigned(ld));
  }
};

static_assert(Fragments<GemmOperands::tf32>::kDepth == fragment_depth(GemmOperands::tf32));
static_assert(Fragments<GemmOperands::bf16>::kDepth == fragment_depth(GemmOperands::bf16));

}  // namespace nocturne::kernels
