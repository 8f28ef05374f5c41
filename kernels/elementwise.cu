// Elementwise kernels: fill, row broadcast, the scalar and embedding inputs,
// dropout and Adamax.
//
// Design: one thread per element in a grid-stride loop (the grid capped by
// launch_config.hpp), so any n fits and the work of one element never depends
// on the grid. Per-element math comes from src/math (dropout_keep,
// adamax_element), the very functions the CPU backend runs, so dropout masks
// are bit-identical to the CPU's and Adamax differs only by rounding of the
// device's division. The embedding gradient is a gather, not a scatter: one
// thread per (vocabulary row, column) scans the tokens in order, so the sum
// order is fixed and no atomics are needed (the vocabulary is small).
//
// History: v1 (this one) - straightforward versions, checked against the CPU
// backend by test/gpu.

#include <cstdint>

#include "kernels.hpp"
#include "launch_config.hpp"
#include "math/adamax.hpp"
#include "math/philox.hpp"

namespace nocturne::inline v0::kernels {
namespace {

__device__ __forceinline__ std::size_t first_index() { return std::size_t(blockIdx.x) * blockDim.x + threadIdx.x; }
__device__ __forceinline__ std::size_t grid_stride() { return std::size_t(gridDim.x) * blockDim.x; }

// x [n]
__global__ void fill_kernel(float* x, std::size_t n, float value) {
  for (std::size_t i = first_index(); i < n; i += grid_stride()) x[i] = value;
}

// v [cols] -> out [rows, cols]
__global__ void broadcast_rows_kernel(std::size_t rows, std::size_t cols, const float* v, float* out) {
  const std::size_t total = rows * cols;
  for (std::size_t i = first_index(); i < total; i += grid_stride()) out[i] = v[i % cols];
}

// tokens [n] -> out [n]
__global__ void scalar_input_kernel(const std::int32_t* tokens, std::size_t n, float vocab, float* out) {
  for (std::size_t i = first_index(); i < n; i += grid_stride()) out[i] = float(tokens[i]) / vocab;
}

// tokens [n], table [V, dim] -> out [n, dim]
__global__ void embedding_forward_kernel(const std::int32_t* tokens, std::size_t n, std::size_t dim,
                                         const float* table, float* out) {
  const std::size_t total = n * dim;
  for (std::size_t i = first_index(); i < total; i += grid_stride()) {
    const std::size_t row = i / dim, col = i - row * dim;
    out[i] = table[std::size_t(tokens[row]) * dim + col];
  }
}

// grid (vocab, ceil(dim / blockDim.x)): thread (v, col) owns d_table[v, col].
// tokens [n], d_out [n, dim] -> d_table [vocab, dim]
__global__ void embedding_backward_kernel(const std::int32_t* tokens, std::size_t n, std::size_t dim,
                                          const float* d_out, float* d_table) {
  const std::int32_t v = std::int32_t(blockIdx.x);
  const std::size_t col = std::size_t(blockIdx.y) * blockDim.x + threadIdx.x;
  if (col >= dim) return;
  float sum = 0.0f;
  for (std::size_t i = 0; i < n; ++i)
    if (tokens[i] == v) sum += d_out[i * dim + col];
  d_table[std::size_t(v) * dim + col] = sum;
}

// in [n] -> out [n]; the mask's first index is mask.offset + *mask.offset_on_device.
__global__ void dropout_kernel(DropoutMask mask, std::size_t n, const float* in, float* out) {
  const std::uint64_t base = mask.offset + (mask.offset_on_device ? *mask.offset_on_device : 0);
  for (std::size_t i = first_index(); i < n; i += grid_stride()) {
    const float factor = math::dropout_keep(mask.seed, mask.stream, base + i, mask.p) ? mask.scale : 0.0f;
    out[i] = in[i] * factor;
  }
}

// params, grads, m, u [n]
__global__ void adamax_kernel(std::size_t n, float* params, const float* grads, float* m, float* u, float lr_t,
                              float beta1, float beta2, float epsilon, float decay) {
  for (std::size_t i = first_index(); i < n; i += grid_stride()) {
    float p = params[i], mi = m[i], ui = u[i];
    math::adamax_element(p, grads[i], mi, ui, lr_t, beta1, beta2, epsilon, decay);
    params[i] = p;
    m[i] = mi;
    u[i] = ui;
  }
}

// x, y [steps, n], mask [n]: the same mask at every step (variational dropout).
__global__ void mask_steps_kernel(std::size_t steps, std::size_t n, const float* mask, const float* x, float* y) {
  const std::size_t total = steps * n;
  for (std::size_t i = first_index(); i < total; i += grid_stride()) y[i] = x[i] * mask[i % n];
}

}  // namespace

void mask_steps(const Launch& launch, std::size_t steps, std::size_t n, const float* mask, const float* x,
                float* y) {
  if (steps == 0 || n == 0) return;
  mask_steps_kernel<<<blocks_for(steps * n), kThreads, 0, launch.stream>>>(steps, n, mask, x, y);
  NOCTURNE_CHECK_LAUNCH("mask_steps", launch);
}

void fill(const Launch& launch, float* x, std::size_t n, float value) {
  if (n == 0) return;
  fill_kernel<<<blocks_for(n), kThreads, 0, launch.stream>>>(x, n, value);
  NOCTURNE_CHECK_LAUNCH("fill", launch);
}

void broadcast_rows(const Launch& launch, std::size_t rows, std::size_t cols, const float* v, float* out) {
  if (rows == 0 || cols == 0) return;
  broadcast_rows_kernel<<<blocks_for(rows * cols), kThreads, 0, launch.stream>>>(rows, cols, v, out);
  NOCTURNE_CHECK_LAUNCH("broadcast_rows", launch);
}

void scalar_input(const Launch& launch, const std::int32_t* tokens, std::size_t n, int vocab, float* out) {
  if (n == 0) return;
  scalar_input_kernel<<<blocks_for(n), kThreads, 0, launch.stream>>>(tokens, n, float(vocab), out);
  NOCTURNE_CHECK_LAUNCH("scalar_input", launch);
}

void embedding_forward(const Launch& launch, const std::int32_t* tokens, std::size_t n, int dim,
                       const float* table, float* out) {
  if (n == 0 || dim <= 0) return;
  embedding_forward_kernel<<<blocks_for(n * std::size_t(dim)), kThreads, 0, launch.stream>>>(
      tokens, n, std::size_t(dim), table, out);
  NOCTURNE_CHECK_LAUNCH("embedding_forward", launch);
}

void embedding_backward(const Launch& launch, const std::int32_t* tokens, std::size_t n, int vocab, int dim,
                        const float* d_out, float* d_table) {
  if (vocab <= 0 || dim <= 0) return;
  constexpr unsigned threads = 128;
  const dim3 grid(unsigned(vocab), (unsigned(dim) + threads - 1) / threads);
  embedding_backward_kernel<<<grid, threads, 0, launch.stream>>>(tokens, n, std::size_t(dim), d_out, d_table);
  NOCTURNE_CHECK_LAUNCH("embedding_backward", launch);
}

void dropout(const Launch& launch, const DropoutMask& mask, std::size_t n, const float* in, float* out) {
  if (n == 0) return;
  dropout_kernel<<<blocks_for(n), kThreads, 0, launch.stream>>>(mask, n, in, out);
  NOCTURNE_CHECK_LAUNCH("dropout", launch);
}

void adamax(const Launch& launch, std::size_t n, float* params, const float* grads, float* m, float* u, float lr_t,
            float beta1, float beta2, float epsilon, float decay) {
  if (n == 0) return;
  adamax_kernel<<<blocks_for(n), kThreads, 0, launch.stream>>>(n, params, grads, m, u, lr_t, beta1, beta2,
                                                               epsilon, decay);
  NOCTURNE_CHECK_LAUNCH("adamax", launch);
}

cudaError_t probe_kernel_image() {
  cudaFuncAttributes attributes{};
  return cudaFuncGetAttributes(&attributes, fill_kernel);
}

}  // namespace nocturne::kernels
