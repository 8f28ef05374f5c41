// Persistent LSTM backward on tensor cores (TF32, BF16): the FP32 backward
// kernel's loop, flags and waits (lstm_persistent_backward.cu,
// persistent_backward_plan), with U 16 units a block: the block's output is
// N x U (one column a unit), so U 16 is one whole WMMA fragment column, with
// no zero columns in the tensor work or in the resident slice. R^T's slice is
// resident column-major ([unit][k], R's own rows), rounded once at load as
// the fused tensor-core backward kernel rounds R every step (BF16 halves it);
// dgates_{t+1} is rounded while staged, row-major [row][16 + pad].
//
// Warp w owns rows [32 w, 32 w + 32) of a pass of 256 x the 16 units, with
// one accumulator per k-group of the fused tensor-core backward kernel: K
// slice s (16 columns) goes to group s % 4. The multiply always adds into
// acc[.][0] and the four rotate after each slice (register moves, as the FP32
// kernel rotates its sums); the loop unrolled by 4 instead, with the group a
// constant, took 255 registers and spilled (nvcc 13.0, sm_90). After the
// loop the warp adds its groups' fragments element by element in group order
// (the fused kernel adds its k-groups' sums in that order before the cell),
// stores the sums to the accumulator tile, and after a barrier the threads
// run the cells (backward_cell, FP32 cell state and dc carry) and the
// partial sums as the FP32 kernel does. The same mma operations on the same
// operands into the same accumulators as the fused kernel: its bits.
//
// History: v1 (this one) - first version, written without a GPU: the phases
// and the waits checked by the host simulator (test/kernels_host), to be
// checked on a GPU against the fused kernels and the CPU backend in each mode.

#include <mma.h>

#include <string>

#include "lstm_step_wmma.cuh"
#include "nocturne/error.hpp"
#include "persistent_flags.cuh"
#include "persistent_kernels.hpp"

namespace nocturne::inline v0::kernels {
namespace {

template <GemmOperands kOperands>
__global__ void __launch_bounds__(kPersistentThreads, 1)
    lstm_persistent_backward_wmma(PersistentBackwardArgs a, PersistentPlan plan) {
  using K = PersistentBackwardWmma<kOperands>;
  using F = Fragments<kOperands>;
  constexpr int kGroups = K::kGroups;
  extern __shared__ __align__(128) unsigned char shared[];
  const int block = int(blockIdx.x), thread = int(threadIdx.x);
  const int warp_row = K::warp_row(thread / kWarp);
  const int a_pitch = plan.shared.a_pitch, w_pitch = plan.shared.weight_pitch, acc_pitch = plan.shared.acc_pitch;
  K::load_weights(a, plan, block, thread, shared);
  __syncthreads();
  typename K::Registers r;
  for (int i = 0; i < a.steps; ++i) {
    const int n = persistent_backward_slices(plan, i);  // whole groups of slices
    const BackwardArgs step = persistent_backward_step_args(a, persistent_backward_step(a, i));
    int ready = 0;
    for (int pass = 0; pass < plan.passes; ++pass) {
      typename F::Accumulator acc[K::kFragRows][kGroups];
#pragma unroll
      for (int f = 0; f < K::kFragRows; ++f)
#pragma unroll
        for (int g = 0; g < kGroups; ++g) nvcuda::wmma::fill_fragment(acc[f][g], 0.0f);
      if (i > 0) {
        wait_for_slices(a.flags, i, plan, -2, ready);
        __syncthreads();
      }
      if (n > 0) {
        K::fetch(step, pass, 0, thread, r);
        K::store(plan, thread, 0, r, shared);
      }
      wait_for_slices(a.flags, i, plan, -1, ready);
      __syncthreads();
      for (int s = 0; s < n; ++s) {
        if (s + 1 < n) K::fetch(step, pass, s + 1, thread, r);
        const auto* as = K::a_stage(plan, shared, s & 1) + warp_row * a_pitch;
        const auto* ws = K::weights(shared) + s * kPersistentDepth;
#pragma unroll
        for (int k = 0; k < kPersistentDepth; k += F::kDepth) {
          typename F::A af[K::kFragRows];
          typename F::BColMajor bf;
#pragma unroll
          for (int f = 0; f < K::kFragRows; ++f) F::load(af[f], as + f * kFragment * a_pitch + k, a_pitch);
          F::load(bf, ws + k, w_pitch);
#pragma unroll
          for (int f = 0; f < K::kFragRows; ++f) nvcuda::wmma::mma_sync(acc[f][0], af[f], bf, acc[f][0]);
        }
        // The next slice's group to the front (whole groups of slices: back in place at the end).
#pragma unroll
        for (int f = 0; f < K::kFragRows; ++f) {
          const typename F::Accumulator first = acc[f][0];
#pragma unroll
          for (int g = 0; g + 1 < kGroups; ++g) acc[f][g] = acc[f][g + 1];
          acc[f][kGroups - 1] = first;
        }
        if (s + 1 < n) K::store(plan, thread, (s + 1) & 1, r, shared);
        wait_for_slices(a.flags, i, plan, s, ready);
        __syncthreads();
      }
      // The groups' sums added in group order (the same element of each
      // fragment is the same output), then to the accumulator tile.
      float* tile = K::accumulators(plan, shared) + warp_row * acc_pitch;
#pragma unroll
      for (int f = 0; f < K::kFragRows; ++f) {
#pragma unroll
        for (int e = 0; e < acc[f][0].num_elements; ++e) {
          float sum = acc[f][0].x[e];
#pragma unroll
          for (int g = 1; g < kGroups; ++g) sum += acc[f][g].x[e];
          acc[f][0].x[e] = sum;
        }
        nvcuda::wmma::store_matrix_sync(tile + f * kFragment * acc_pitch, acc[f][0], unsigned(acc_pitch),
                                        nvcuda::wmma::mem_row_major);
      }
      __syncthreads();
      K::cells(step, plan, block, pass, thread, shared);
      __syncthreads();  // the pass's da_t rows of the block, for its partial sums
      K::partials(step, plan, block, pass, thread);
    }
    // Every thread's da_t is written: publish the block's columns of step t.
    __syncthreads();
    publish_step(a.flags, block, unsigned(i) + 1);
  }
}

}  // namespace

const void* persistent_backward_wmma_kernel(GemmOperands operands) {
  switch (operands) {
    case GemmOperands::tf32:
      return reinterpret_cast<const void*>(&lstm_persistent_backward_wmma<GemmOperands::tf32>);
    case GemmOperands::bf16:
      return reinterpret_cast<const void*>(&lstm_persistent_backward_wmma<GemmOperands::bf16>);
    case GemmOperands::fp32:
      break;
  }
  throw ShapeError("lstm_persistent_backward: no tensor-core kernel for strict FP32");
}

}  // namespace nocturne::kernels
