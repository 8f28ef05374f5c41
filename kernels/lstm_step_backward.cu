// Fused recurrent step, backward: one time step of one LSTM layer, from
// t = T - 1 down to 0 (LstmStepBackward in nocturne/fused_ops.hpp): h_t's
// gradient dh (masked by the forward's dropout) + dgates_next R^T, the
// cell's backward, and the fixed-order partial sums of db and (F == 1) dW.
//
// Design: a block owns 32 batch rows x 16 hidden units. Its GEMM (K = 4H,
// the columns of step t + 1's da) has one output per unit: R's rows of the
// tile's units are R^T's columns, staged from R as it lies. Each slice of 64
// K values is split among 4 k-groups (groups of 64 threads on CUDA cores,
// one warp each on tensor cores) whose sums go to shared memory after the
// loop and are added in group order: a long K, few outputs, and still 256
// blocks for the recipe's layer 1 (128 for layer 2). The epilogue reads the
// unit's four saved gates as one float4, runs math::lstm_cell_backward,
// writes da (float4) and the dc carry, keeps da in shared memory, and the
// block then adds its rows in increasing order into row p of db_partial
// (and dw_partial, with x): the block's 32 rows are exactly partial block p
// (fused_tiling.hpp: kPartialRows), so no atomics and no second pass over
// da; lstm_partials_reduce adds the T x P rows later. FP32 operands on CUDA
// cores (micro-tiles of 4 rows x 2 units), TF32 / BF16 on tensor cores
// (WMMA; operands rounded to nearest even while staged, as the CPU backend's
// emulation rounds them). Every phase between two barriers is a __host__
// __device__ function of lstm_step_phases.hpp that the host simulator runs.
//
// History: v1 (this one) - first version, written without a GPU: checked by
// the host simulator against a double reference, to be checked on a GPU
// against the CPU backend.

#include <cuda_bf16.h>
#include <mma.h>

#include <string>

#include "fused_kernels.hpp"
#include "fused_tiling.hpp"
#include "lstm_step_phases.hpp"
#include "lstm_step_wmma.cuh"
#include "nocturne/error.hpp"

namespace nocturne::inline v0::kernels {
namespace {

template <int kIndex>
__global__ void __launch_bounds__(BackwardSimt<kIndex>::kThreads) lstm_step_backward_simt(BackwardArgs p) {
  using K = BackwardSimt<kIndex>;
  using Stage = typename K::Stage;
  __shared__ __align__(128) unsigned char shared[K::kS.total];
  constexpr StepTile tile = K::kT;
  const TileOrigin o = tile_origin(tile, int(blockIdx.x), int(blockIdx.y));
  const int thread = int(threadIdx.x);
  const int n = backward_slices(tile, p.hidden, p.dgates_next == nullptr);
  typename K::Registers r;
  K::begin(r);
  if (n > 0) {
    Stage::fetch(p, o, thread, 0, r.fetched);
    Stage::store(p, thread, 0, r.fetched, shared);
  }
  __syncthreads();
  for (int s = 0; s < n; ++s) {
    if (s + 1 < n) Stage::fetch(p, o, thread, s + 1, r.fetched);
    K::multiply(thread, s & 1, shared, r);
    if (s + 1 < n) Stage::store(p, thread, (s + 1) & 1, r.fetched, shared);
    __syncthreads();
  }
  K::park(thread, shared, r);
  __syncthreads();
  Stage::cells(p, o, thread, shared);
  __syncthreads();
  Stage::partials(p, o, thread, shared);
}

template <int kIndex, GemmOperands kOperands>
__global__ void __launch_bounds__(BackwardWmma<kIndex, kOperands>::kThreads) lstm_step_backward_wmma(BackwardArgs p) {
  using K = BackwardWmma<kIndex, kOperands>;
  using Stage = typename K::Stage;
  using F = Fragments<kOperands>;
  constexpr WarpRole kShape = K::kWarpShape;
  __shared__ __align__(128) unsigned char shared[K::kS.total];
  constexpr StepTile tile = K::kT;
  const TileOrigin o = tile_origin(tile, int(blockIdx.x), int(blockIdx.y));
  const int thread = int(threadIdx.x);
  const WarpRole warp = warp_role(tile, thread / kWarp, false);
  const int n = backward_slices(tile, p.hidden, p.dgates_next == nullptr);
  typename F::Accumulator acc[kShape.frag_rows][kShape.frag_cols];
#pragma unroll
  for (int i = 0; i < kShape.frag_rows; ++i)
#pragma unroll
    for (int j = 0; j < kShape.frag_cols; ++j) nvcuda::wmma::fill_fragment(acc[i][j], 0.0f);
  typename Stage::Fetched fetched;
  if (n > 0) {
    Stage::fetch(p, o, thread, 0, fetched);
    Stage::store(p, thread, 0, fetched, shared);
  }
  __syncthreads();
  for (int s = 0; s < n; ++s) {
    if (s + 1 < n) Stage::fetch(p, o, thread, s + 1, fetched);
    const auto* a = Stage::a_stage(shared, s & 1);
    const auto* b = Stage::b_stage(shared, s & 1);
#pragma unroll
    for (int k = 0; k < tile.depth; k += F::kDepth) {
      const int kk = warp.group * tile.depth + k;  // this warp's part of the slice
      typename F::A af[kShape.frag_rows];
      typename F::BColMajor bf[kShape.frag_cols];
#pragma unroll
      for (int i = 0; i < kShape.frag_rows; ++i)
        F::load(af[i], a + (warp.row + i * kFragment) * K::kS.a_pitch + kk, K::kS.a_pitch);
#pragma unroll
      for (int j = 0; j < kShape.frag_cols; ++j)
        F::load(bf[j], b + (warp.col + j * kFragment) * K::kS.b_pitch + kk, K::kS.b_pitch);
#pragma unroll
      for (int i = 0; i < kShape.frag_rows; ++i)
#pragma unroll
        for (int j = 0; j < kShape.frag_cols; ++j) nvcuda::wmma::mma_sync(acc[i][j], af[i], bf[j], acc[i][j]);
    }
    if (s + 1 < n) Stage::store(p, thread, (s + 1) & 1, fetched, shared);
    __syncthreads();
  }
  // Each warp's sums to its k-group's tile (the staging area is free now).
  float* sums = Stage::accumulators(shared, warp.group);
#pragma unroll
  for (int i = 0; i < kShape.frag_rows; ++i)
#pragma unroll
    for (int j = 0; j < kShape.frag_cols; ++j)
      nvcuda::wmma::store_matrix_sync(sums + (warp.row + i * kFragment) * K::kS.acc_pitch + warp.col + j * kFragment,
                                      acc[i][j], K::kS.acc_pitch, nvcuda::wmma::mem_row_major);
  __syncthreads();
  Stage::cells(p, o, thread, shared);
  __syncthreads();
  Stage::partials(p, o, thread, shared);
}

}  // namespace

void lstm_step_backward(const Launch& launch, GemmOperands operands, const LstmStepBackward<float>& step) {
  if (step.batch <= 0 || step.hidden <= 0) return;
  const BackwardArgs args = make_backward_args(step);
  const int tile = backward_tile_index(operands);
  const StepGrid grid = step_grid(kBackwardTiles[tile], step.batch, step.hidden);
  if (grid.row_blocks > kMaxGridY)
    throw ShapeError("lstm_step_backward: batch " + std::to_string(step.batch) + " needs more than " +
                     std::to_string(kMaxGridY) + " row blocks");
  const dim3 blocks(unsigned(grid.unit_blocks), unsigned(grid.row_blocks));
  const unsigned threads = unsigned(kBackwardTiles[tile].threads());
  cudaStream_t stream = launch.stream;
  switch (operands) {
    case GemmOperands::fp32:
      lstm_step_backward_simt<0><<<blocks, threads, 0, stream>>>(args);
      break;
    case GemmOperands::tf32:
      lstm_step_backward_wmma<1, GemmOperands::tf32><<<blocks, threads, 0, stream>>>(args);
      break;
    case GemmOperands::bf16:
      lstm_step_backward_wmma<1, GemmOperands::bf16><<<blocks, threads, 0, stream>>>(args);
      break;
  }
  NOCTURNE_CHECK_LAUNCH("lstm_step_backward", launch);
}

}  // namespace nocturne::kernels
