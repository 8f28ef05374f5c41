// Fused recurrent step, forward: one time step of one LSTM layer,
// a = x W + h_prev R + b and the cell, in one kernel (LstmStepForward in
// nocturne/fused_ops.hpp).
//
// Design: a block owns a tile of batch rows x hidden units; on the fused
// path a unit's four gates are adjacent columns, so the tile's 4 x units GEMM
// columns are all its cells need and the cell runs in the GEMM's epilogue:
// the gates, c and h (and dropout's h for the next layer) are written once,
// and no [N, 4H] pre-activation tensor exists. The K loop runs over h_prev /
// R (skipped for the zero state) and then x / W when F > 1, in slices staged
// through shared memory with register double-buffering (one barrier per
// slice). With F == 1 (the recipe's scalar input) x W is rank one and is
// added in FP32 in the epilogue (math/lstm_fused.hpp). Three operand modes:
// - FP32 on CUDA cores: each thread a micro-tile of 4 rows x 1 unit (16
//   accumulators), so its cells run from its registers; A is staged
//   transposed so a thread reads its 4 rows as one float4.
// - TF32 and BF16 on tensor cores (WMMA m16n16k8 / m16n16k16): operands are
//   rounded to nearest even with math/precision.hpp while they are staged,
//   so they equal the CPU backend's emulated operands bit for bit (the
//   TF32 conversion of the fragments then changes nothing); the fragments are
//   stored to shared memory and the epilogue reads its cells from there.
// Tiles (fused_tiling.hpp): 64 rows x 16 units when that still gives 128
// blocks (the recipe's layer 1: 4 x 32), else 32 rows x 16 units (layer 2:
// 8 x 16; generation, N = 40). Every phase between two barriers is a
// __host__ __device__ function of lstm_step_phases.hpp that the host
// simulator (test/kernels_host) runs too.
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
__global__ void __launch_bounds__(ForwardSimt<kIndex>::kThreads) lstm_step_forward_simt(ForwardArgs p) {
  using K = ForwardSimt<kIndex>;
  using Stage = typename K::Stage;
  __shared__ __align__(128) unsigned char shared[K::kS.total];
  constexpr StepTile tile = K::kT;
  const TileOrigin o = tile_origin(tile, int(blockIdx.x), int(blockIdx.y));
  const int thread = int(threadIdx.x);
  const ForwardSlices slices = forward_slices(tile, p.hidden, p.input, p.h_prev == nullptr);
  const int n = slices.total();
  typename K::Registers r;
  K::begin(r);
  if (n > 0) {
    Stage::fetch(p, o, thread, 0, slices.recurrent, r.fetched);
    Stage::store(thread, 0, r.fetched, shared);
  }
  __syncthreads();
  for (int s = 0; s < n; ++s) {
    if (s + 1 < n) Stage::fetch(p, o, thread, s + 1, slices.recurrent, r.fetched);
    K::multiply(thread, s & 1, shared, r);
    if (s + 1 < n) Stage::store(thread, (s + 1) & 1, r.fetched, shared);
    __syncthreads();
  }
  K::finish(p, o, thread, r);
}

template <int kIndex, GemmOperands kOperands>
__global__ void __launch_bounds__(ForwardWmma<kIndex, kOperands>::kThreads) lstm_step_forward_wmma(ForwardArgs p) {
  using K = ForwardWmma<kIndex, kOperands>;
  using Stage = typename K::Stage;
  using F = Fragments<kOperands>;
  constexpr WarpRole kShape = K::kWarpShape;
  __shared__ __align__(128) unsigned char shared[K::kS.total];
  constexpr StepTile tile = K::kT;
  const TileOrigin o = tile_origin(tile, int(blockIdx.x), int(blockIdx.y));
  const int thread = int(threadIdx.x);
  const WarpRole warp = warp_role(tile, thread / kWarp, true);
  const ForwardSlices slices = forward_slices(tile, p.hidden, p.input, p.h_prev == nullptr);
  const int n = slices.total();
  typename F::Accumulator acc[kShape.frag_rows][kShape.frag_cols];
#pragma unroll
  for (int i = 0; i < kShape.frag_rows; ++i)
#pragma unroll
    for (int j = 0; j < kShape.frag_cols; ++j) nvcuda::wmma::fill_fragment(acc[i][j], 0.0f);
  typename Stage::Fetched fetched;
  if (n > 0) {
    Stage::fetch(p, o, thread, 0, slices.recurrent, fetched);
    Stage::store(thread, 0, fetched, shared);
  }
  __syncthreads();
  for (int s = 0; s < n; ++s) {
    if (s + 1 < n) Stage::fetch(p, o, thread, s + 1, slices.recurrent, fetched);
    const auto* a = Stage::a_stage(shared, s & 1);
    const auto* b = Stage::b_stage(shared, s & 1);
#pragma unroll
    for (int k = 0; k < tile.slice(); k += F::kDepth) {
      typename F::A af[kShape.frag_rows];
      typename F::BRowMajor bf[kShape.frag_cols];
#pragma unroll
      for (int i = 0; i < kShape.frag_rows; ++i)
        F::load(af[i], a + (warp.row + i * kFragment) * K::kS.a_pitch + k, K::kS.a_pitch);
#pragma unroll
      for (int j = 0; j < kShape.frag_cols; ++j)
        F::load(bf[j], b + k * K::kS.b_pitch + warp.col + j * kFragment, K::kS.b_pitch);
#pragma unroll
      for (int i = 0; i < kShape.frag_rows; ++i)
#pragma unroll
        for (int j = 0; j < kShape.frag_cols; ++j) nvcuda::wmma::mma_sync(acc[i][j], af[i], bf[j], acc[i][j]);
    }
    if (s + 1 < n) Stage::store(thread, (s + 1) & 1, fetched, shared);
    __syncthreads();
  }
  // The staging area is free (every warp passed the last barrier): the
  // accumulator tile takes its place.
  float* sums = K::accumulators(shared);
#pragma unroll
  for (int i = 0; i < kShape.frag_rows; ++i)
#pragma unroll
    for (int j = 0; j < kShape.frag_cols; ++j)
      nvcuda::wmma::store_matrix_sync(sums + (warp.row + i * kFragment) * K::kS.acc_pitch + warp.col + j * kFragment,
                                      acc[i][j], K::kS.acc_pitch, nvcuda::wmma::mem_row_major);
  __syncthreads();
  K::finish(p, o, thread, shared);
}

}  // namespace

void lstm_step_forward(const Launch& launch, GemmOperands operands, const LstmStepForward<float>& step) {
  if (step.batch <= 0 || step.hidden <= 0) return;
  const ForwardArgs args = make_forward_args(step);
  const int tile = forward_tile_index(operands, step.batch, step.hidden);
  const StepGrid grid = step_grid(kForwardTiles[tile], step.batch, step.hidden);
  if (grid.row_blocks > kMaxGridY)
    throw ShapeError("lstm_step_forward: batch " + std::to_string(step.batch) + " needs more than " +
                     std::to_string(kMaxGridY) + " row blocks");
  const dim3 blocks(unsigned(grid.unit_blocks), unsigned(grid.row_blocks));
  const unsigned threads = unsigned(kForwardTiles[tile].threads());
  cudaStream_t stream = launch.stream;
  switch (operands) {
    case GemmOperands::fp32:
      if (tile == 0)
        lstm_step_forward_simt<0><<<blocks, threads, 0, stream>>>(args);
      else
        lstm_step_forward_simt<1><<<blocks, threads, 0, stream>>>(args);
      break;
    case GemmOperands::tf32:
      if (tile == 2)
        lstm_step_forward_wmma<2, GemmOperands::tf32><<<blocks, threads, 0, stream>>>(args);
      else
        lstm_step_forward_wmma<3, GemmOperands::tf32><<<blocks, threads, 0, stream>>>(args);
      break;
    case GemmOperands::bf16:
      if (tile == 2)
        lstm_step_forward_wmma<2, GemmOperands::bf16><<<blocks, threads, 0, stream>>>(args);
      else
        lstm_step_forward_wmma<3, GemmOperands::bf16><<<blocks, threads, 0, stream>>>(args);
      break;
  }
  NOCTURNE_CHECK_LAUNCH("lstm_step_forward", launch);
}

}  // namespace nocturne::kernels
