// Persistent LSTM forward on tensor cores (TF32, BF16): the FP32 kernel's
// partition, flags and waits (lstm_persistent.cu, persistent_partition.hpp),
// with the block's slice of R (and W) resident in the operand type, rounded
// once at load as the fused tensor-core step kernels round every step's
// operands (math/precision.hpp; BF16 halves the slice), h_{t-1} rounded
// while it is staged, and the GEMM on WMMA fragments (lstm_step_wmma.cuh)
// with FP32 accumulators: warp w owns rows [32 w, 32 w + 32) of a pass of
// 256 and the block's 4U columns (U 4: one fragment column, U 8: two). After
// the K loop the fragments go to an accumulator tile of their own (no
// aliasing with the stages, so no extra barrier before the next pass) and
// each thread runs the cells of one row (forward_cell, FP32 cell state).
//
// History: v1 (this one) - first version, written without a GPU: the phases
// and the waits checked by the host simulator (test/kernels_host), to be
// checked on a GPU against the CPU backend in each mode.

#include <mma.h>

#include <string>

#include "lstm_step_wmma.cuh"
#include "nocturne/error.hpp"
#include "persistent_flags.cuh"
#include "persistent_kernels.hpp"

namespace nocturne::inline v0::kernels {
namespace {

template <int kUnits, GemmOperands kOperands>
__global__ void __launch_bounds__(kPersistentThreads, 1)
    lstm_persistent_forward_wmma(PersistentForwardArgs a, PersistentPlan plan) {
  using K = PersistentForwardWmma<kUnits, kOperands>;
  using F = Fragments<kOperands>;
  extern __shared__ __align__(128) unsigned char shared[];
  const int block = int(blockIdx.x), thread = int(threadIdx.x);
  const int warp_row = K::warp_row(thread / kWarp);
  K::load_weights(a, plan, block, thread, shared);
  __syncthreads();
  typename K::Registers r;
  for (int t = 0; t < a.steps; ++t) {
    const int n = persistent_slices(plan, t);
    const ForwardArgs step = persistent_step_args(a, t);
    int ready = 0;
    for (int pass = 0; pass < plan.passes; ++pass) {
      typename F::Accumulator acc[K::kFragRows][K::kFragCols];
#pragma unroll
      for (int i = 0; i < K::kFragRows; ++i)
#pragma unroll
        for (int j = 0; j < K::kFragCols; ++j) nvcuda::wmma::fill_fragment(acc[i][j], 0.0f);
      if (t > 0) {
        wait_for_slices(a.flags, t, plan, -2, ready);
        __syncthreads();
      }
      if (n > 0) {
        K::fetch(a, plan, t, pass, 0, thread, r);
        K::store(plan, thread, 0, r, shared);
      }
      wait_for_slices(a.flags, t, plan, -1, ready);
      __syncthreads();
      for (int s = 0; s < n; ++s) {
        if (s + 1 < n) K::fetch(a, plan, t, pass, s + 1, thread, r);
        const auto* as = K::a_stage(plan, shared, s & 1) + warp_row * plan.shared.a_pitch;
        const auto* ws = K::weights(shared) + persistent_weight_row(plan, t, s) * plan.shared.weight_pitch;
#pragma unroll
        for (int k = 0; k < kPersistentDepth; k += F::kDepth) {
          typename F::A af[K::kFragRows];
          typename F::BRowMajor bf[K::kFragCols];
#pragma unroll
          for (int i = 0; i < K::kFragRows; ++i)
            F::load(af[i], as + i * kFragment * plan.shared.a_pitch + k, plan.shared.a_pitch);
#pragma unroll
          for (int j = 0; j < K::kFragCols; ++j)
            F::load(bf[j], ws + k * plan.shared.weight_pitch + j * kFragment, plan.shared.weight_pitch);
#pragma unroll
          for (int i = 0; i < K::kFragRows; ++i)
#pragma unroll
            for (int j = 0; j < K::kFragCols; ++j) nvcuda::wmma::mma_sync(acc[i][j], af[i], bf[j], acc[i][j]);
        }
        if (s + 1 < n) K::store(plan, thread, (s + 1) & 1, r, shared);
        wait_for_slices(a.flags, t, plan, s, ready);
        __syncthreads();
      }
      float* tile = K::accumulators(plan, shared) + warp_row * plan.shared.acc_pitch;
#pragma unroll
      for (int i = 0; i < K::kFragRows; ++i)
#pragma unroll
        for (int j = 0; j < K::kFragCols; ++j)
          nvcuda::wmma::store_matrix_sync(tile + i * kFragment * plan.shared.acc_pitch + j * kFragment, acc[i][j],
                                          unsigned(plan.shared.acc_pitch), nvcuda::wmma::mem_row_major);
      __syncthreads();
      K::finish(step, plan, block, pass, thread, shared);
    }
    // Every thread's h_t is written: publish the block's units of step t.
    __syncthreads();
    publish_step(a.flags, block, unsigned(t) + 1);
  }
}

template <int kUnits, GemmOperands kOperands>
const void* wmma_kernel() {
  return reinterpret_cast<const void*>(&lstm_persistent_forward_wmma<kUnits, kOperands>);
}

}  // namespace

const void* persistent_forward_wmma_kernel(GemmOperands operands, int units) {
  if (operands == GemmOperands::tf32 && units == 4) return wmma_kernel<4, GemmOperands::tf32>();
  if (operands == GemmOperands::tf32 && units == 8) return wmma_kernel<8, GemmOperands::tf32>();
  if (operands == GemmOperands::bf16 && units == 4) return wmma_kernel<4, GemmOperands::bf16>();
  if (operands == GemmOperands::bf16 && units == 8) return wmma_kernel<8, GemmOperands::bf16>();
  throw ShapeError("lstm_persistent_forward: no tensor-core kernel for " + std::to_string(units) + " units a block");
}

}  // namespace nocturne::kernels
