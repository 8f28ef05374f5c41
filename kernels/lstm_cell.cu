// Fused LSTM cell kernels: one time step of n rows x H cells.
//
// Design: the GEMMs (input projection for all steps, one recurrent GEMM per
// step) run in cuBLAS; everything elementwise of a step is one kernel here.
// One thread per (row, cell j) reads the four gate pre-activations at
// gates[row, k * H + j] (k = i, f, g, o), so a warp reads four coalesced
// runs of 32 floats. The per-element formulas are math::lstm_cell_forward and
// math::lstm_cell_backward, shared with the CPU backend.
// - forward adds the bias here (saving a broadcast pass over [T, N, 4H]) and
//   writes the activated gates back in place, with c and h.
// - backward adds dh (from above) and dh_next (from step t + 1, produced by
//   the previous step's GEMM) into h_t's total gradient, reads and rewrites
//   the cell-state carry dc in place, and writes the four pre-activation
//   gradients: the input of the next GEMMs and of the bias column sum.
//
// History: v1 (this one).

#include "kernels.hpp"
#include "launch_config.hpp"
#include "math/lstm_cell.hpp"

namespace nocturne::inline v0::kernels {
namespace {

// bias [4H], gates [n, 4H] in/out, c_prev [n, H] or null, c [n, H], h [n, H].
__global__ void lstm_cell_forward_kernel(std::size_t n, std::size_t hidden, const float* bias, float* gates,
                                         const float* c_prev, float* c, float* h) {
  const std::size_t total = n * hidden;
  const std::size_t stride = std::size_t(gridDim.x) * blockDim.x;
  for (std::size_t idx = std::size_t(blockIdx.x) * blockDim.x + threadIdx.x; idx < total; idx += stride) {
    const std::size_t row = idx / hidden, j = idx - row * hidden;
    float* g = gates + row * 4 * hidden + j;
    const auto cell = math::lstm_cell_forward(g[0] + bias[j], g[hidden] + bias[hidden + j],
                                              g[2 * hidden] + bias[2 * hidden + j],
                                              g[3 * hidden] + bias[3 * hidden + j], c_prev ? c_prev[idx] : 0.0f);
    g[0] = cell.i;
    g[hidden] = cell.f;
    g[2 * hidden] = cell.g;
    g[3 * hidden] = cell.o;
    c[idx] = cell.c;
    h[idx] = cell.h;
  }
}

// gates [n, 4H], c [n, H], c_prev [n, H] or null, dh, dh_next [n, H],
// dc [n, H] in/out, dgates [n, 4H] out.
__global__ void lstm_cell_backward_kernel(std::size_t n, std::size_t hidden, const float* gates, const float* c,
                                          const float* c_prev, const float* dh, const float* dh_next, float* dc,
                                          float* dgates) {
  const std::size_t total = n * hidden;
  const std::size_t stride = std::size_t(gridDim.x) * blockDim.x;
  for (std::size_t idx = std::size_t(blockIdx.x) * blockDim.x + threadIdx.x; idx < total; idx += stride) {
    const std::size_t row = idx / hidden, j = idx - row * hidden;
    const float* g = gates + row * 4 * hidden + j;
    const auto grad = math::lstm_cell_backward(g[0], g[hidden], g[2 * hidden], g[3 * hidden], c[idx],
                                               c_prev ? c_prev[idx] : 0.0f, dh[idx] + dh_next[idx], dc[idx]);
    float* d = dgates + row * 4 * hidden + j;
    d[0] = grad.da_i;
    d[hidden] = grad.da_f;
    d[2 * hidden] = grad.da_g;
    d[3 * hidden] = grad.da_o;
    dc[idx] = grad.dc_prev;
  }
}

}  // namespace

void lstm_cell_forward(const Launch& launch, int n, int hidden, const float* bias, float* gates,
                       const float* c_prev, float* c, float* h) {
  const std::size_t total = std::size_t(n) * std::size_t(hidden);
  if (total == 0) return;
  lstm_cell_forward_kernel<<<blocks_for(total), kThreads, 0, launch.stream>>>(
      std::size_t(n), std::size_t(hidden), bias, gates, c_prev, c, h);
  NOCTURNE_CHECK_LAUNCH("lstm_cell_forward", launch);
}

void lstm_cell_backward(const Launch& launch, int n, int hidden, const float* gates, const float* c,
                        const float* c_prev, const float* dh, const float* dh_next, float* dc, float* dgates) {
  const std::size_t total = std::size_t(n) * std::size_t(hidden);
  if (total == 0) return;
  lstm_cell_backward_kernel<<<blocks_for(total), kThreads, 0, launch.stream>>>(
      std::size_t(n), std::size_t(hidden), gates, c, c_prev, dh, dh_next, dc, dgates);
  NOCTURNE_CHECK_LAUNCH("lstm_cell_backward", launch);
}

}  // namespace nocturne::kernels
