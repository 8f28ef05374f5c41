#pragma once
// Launch wrappers of Nocturne's own CUDA kernels: plain C++ functions the
// backend (src/cuda) calls. Every wrapper launches on launch.stream, checks
// the launch (NOCTURNE_CHECK_LAUNCH) and returns without waiting. Pointers are
// device pointers; matrices are row-major; sizes are elements. Nothing here
// allocates, so every wrapper may be recorded into a CUDA graph.
//
// Files: elementwise.cu (fill, broadcast, inputs, embedding, dropout,
// Adamax), reduce.cu (column sums, sum of squares), lstm_cell.cu (fused LSTM
// cell forward and backward), softmax.cu (softmax, softmax + cross-entropy).

#include <cstddef>
#include <cstdint>

#include "cuda/cuda_check.hpp"

namespace nocturne::inline v0::kernels {

using cuda::Launch;

// ---- elementwise.cu --------------------------------------------------------
// x [n] = value.
void fill(const Launch& launch, float* x, std::size_t n, float value);
// out [rows, cols]: every row = v [cols].
void broadcast_rows(const Launch& launch, std::size_t rows, std::size_t cols, const float* v, float* out);
// out [n] = tokens [n] / vocab.
void scalar_input(const Launch& launch, const std::int32_t* tokens, std::size_t n, int vocab, float* out);
// out [n, dim] = table [tokens[i], :] (table [V, dim]; tokens must be in [0, V)).
void embedding_forward(const Launch& launch, const std::int32_t* tokens, std::size_t n, int dim,
                       const float* table, float* out);
// d_table [vocab, dim] (overwritten): row v = sum over i with tokens[i] == v of
// d_out [i, :], added in increasing i (one thread per (v, column): no atomics).
void embedding_backward(const Launch& launch, const std::int32_t* tokens, std::size_t n, int vocab, int dim,
                        const float* d_out, float* d_table);
// out [n] = in [n] * (keep(seed, stream, offset + *offset_on_device + i) ? scale : 0),
// keep = math::dropout_keep (the CPU backend's masks); offset_on_device may be
// null and is read when the kernel runs.
struct DropoutMask {
  std::uint64_t seed = 0;
  std::uint32_t stream = 0;
  std::uint64_t offset = 0;
  const std::uint64_t* offset_on_device = nullptr;
  float p = 0;
  float scale = 1;
};
void dropout(const Launch& launch, const DropoutMask& mask, std::size_t n, const float* in, float* out);
// y [steps, n] = x [steps, n] * mask [n] at every step (x may equal y).
void mask_steps(const Launch& launch, std::size_t steps, std::size_t n, const float* mask, const float* x, float* y);
// One Adamax step over params, grads, m, u [n] (math::adamax_element);
// lr_t = lr / (1 - beta1^t), computed by the caller in double; decay = lr * weight decay.
void adamax(const Launch& launch, std::size_t n, float* params, const float* grads, float* m, float* u, float lr_t,
            float beta1, float beta2, float epsilon, float decay);

// ---- reduce.cu ---------------------------------------------------------------
// sums [cols] = column sums of m [rows, cols] in a fixed order (deterministic).
// scratch [scratch_elements] holds partial sums when rows are many
// (launch_config.hpp: column_sum_chunks); it may be null when scratch_elements is 0.
void column_sums(const Launch& launch, std::size_t rows, std::size_t cols, const float* m, float* sums,
                 float* scratch, std::size_t scratch_elements);
// Blocks of the first pass of sum_squares; partials needs kSumSquaresBlocks + 1 doubles.
inline constexpr unsigned kSumSquaresBlocks = 256;
// partials[kSumSquaresBlocks] = sum of x [n]^2 in double, in a fixed order.
void sum_squares(const Launch& launch, const float* x, std::size_t n, double* partials);

// ---- lstm_cell.cu ------------------------------------------------------------
// One time step of n rows of LSTM cells (gate order i, f, g, o).
// gates [n, 4H]: pre-activations without bias in, activated gates out.
// bias [4H]; c_prev [n, H] or null for the zero initial state; c, h [n, H] out.
void lstm_cell_forward(const Launch& launch, int n, int hidden, const float* bias, float* gates,
                       const float* c_prev, float* c, float* h);
// gates [n, 4H] (activated), c [n, H], c_prev [n, H] or null; dh [n, H] from
// above plus dh_next [n, H] from step t + 1 is h_t's gradient; dc [n, H] holds
// c_t's gradient from step t + 1 on entry and c_{t-1}'s on exit; dgates
// [n, 4H] receives the pre-activation gradients.
void lstm_cell_backward(const Launch& launch, int n, int hidden, const float* gates, const float* c,
                        const float* c_prev, const float* dh, const float* dh_next, float* dc, float* dgates);

// ---- softmax.cu --------------------------------------------------------------
// probs [n, vocab] = row-wise softmax of logits [n, vocab].
void softmax(const Launch& launch, int n, int vocab, const float* logits, float* probs);
// dlogits [n, vocab] (may be null) = (softmax - ((1 - eps) onehot(targets) + eps / V)) * grad_scale,
// eps = smoothing (BasicBackend::softmax_cross_entropy_smoothed; 0: plain);
// stats[0] += sum of -log softmax[target], stats[1] += rows whose first
// maximum is the target. One block, a warp per row, partial sums added in a
// fixed order: no atomics, reproducible.
void softmax_cross_entropy(const Launch& launch, int n, int vocab, const float* logits,
                           const std::int32_t* targets, float smoothing, float grad_scale, float* dlogits,
                           double* stats);

// ---- probe -------------------------------------------------------------------
// cudaSuccess when the current device can run this build's kernels (an image
// for its architecture or PTX it can compile); the error otherwise.
cudaError_t probe_kernel_image();

}  // namespace nocturne::kernels
