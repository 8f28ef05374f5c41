// The LSTM parameter gradients that need no GEMM on the fused path: db (and
// layer 1's dW with its scalar input) from the per-step, per-row-block
// partial sums that lstm_step_backward writes (LstmStepBackward in
// nocturne/fused_ops.hpp).
//
// Design: one thread per column adds the steps x blocks partial rows in
// increasing row order, t then p (the order BasicBackend::lstm_partials_reduce
// defines), in FP32 from 0: with the backward's fixed row order inside each
// block, the whole sum's order depends only on the shape, so the result is
// reproducible bit for bit and no atomics are needed. Reads are coalesced
// (a warp reads 32 consecutive columns of a row). The recipe's layer 1 adds
// 40 x 8 rows of 2,048 columns.
//
// History: v1 (this one).

#include "fused_kernels.hpp"

namespace nocturne::inline v0::kernels {
namespace {

constexpr unsigned kReduceThreads = 256;

// partials [rows, cols] -> out [cols]
__global__ void lstm_partials_reduce_kernel(int rows, int cols, const float* partials, float* out) {
  const int col = int(blockIdx.x * kReduceThreads + threadIdx.x);
  if (col >= cols) return;
  float sum = 0.0f;
  for (int r = 0; r < rows; ++r) sum += partials[std::size_t(r) * std::size_t(cols) + std::size_t(col)];
  out[col] = sum;
}

}  // namespace

void lstm_partials_reduce(const Launch& launch, int steps, int blocks, int cols, const float* partials, float* out) {
  if (cols <= 0) return;
  const unsigned grid = (unsigned(cols) + kReduceThreads - 1) / kReduceThreads;
  lstm_partials_reduce_kernel<<<grid, kReduceThreads, 0, launch.stream>>>(steps > 0 && blocks > 0 ? steps * blocks : 0,
                                                                          cols, partials, out);
  NOCTURNE_CHECK_LAUNCH("lstm_partials_reduce", launch);
}

}  // namespace nocturne::kernels
