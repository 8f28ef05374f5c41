#pragma once
// Launch wrappers of the fused path's kernels (nocturne/fused_ops.hpp gives
// each op's exact semantics; the CPU backend's implementation of the same op
// is the reference every kernel is checked against). Same rules as
// kernels.hpp: plain C++, device pointers, launched on launch.stream, checked,
// never waiting, never allocating, so every wrapper can be captured in a graph.
//
// Files: lstm_step_forward.cu, lstm_step_backward.cu (the recurrent GEMM tile
// with the LSTM cell in its epilogue, in three operand precisions),
// lstm_partials.cu, head.cu, adamax_device.cu, sampling.cu. Their
// tile and partition arithmetic is in fused_tiling.hpp (constexpr, tested on
// the host for every shape the model uses).

#include <cstddef>
#include <cstdint>

#include "cuda/cuda_check.hpp"
#include "fused_tiling.hpp"  // GemmOperands, lstm_partial_blocks
#include "nocturne/backend.hpp"

namespace nocturne::inline v0::kernels {

using cuda::Launch;

// ---- lstm_step_forward.cu / lstm_step_backward.cu ---------------------------
// One time step of one layer (LstmStepForward / LstmStepBackward). The
// pointers inside `step`, the dropout key's offset_on_device included, are
// device pointers; the key itself is read on the host at launch.
void lstm_step_forward(const Launch& launch, GemmOperands operands, const LstmStepForward<float>& step);
void lstm_step_backward(const Launch& launch, GemmOperands operands, const LstmStepBackward<float>& step);

// ---- lstm_partials.cu -------------------------------------------------------
// out [cols] = sum over t, then p, of partials [steps, blocks, cols], in that
// fixed order (BasicBackend::lstm_partials_reduce).
void lstm_partials_reduce(const Launch& launch, int steps, int blocks, int cols, const float* partials,
                          float* out);

// ---- head.cu ------------------------------------------------------------------
// HeadTrainStep: a row-parallel kernel (dense 1, dropout, dense 2, softmax,
// loss, dlogits, dy1, dx) and a column-parallel kernel (dW1, db1, dW2, db2,
// each summed over the rows in a fixed order).
void head_train_step(const Launch& launch, const HeadTrainStep<float>& head);
// BasicBackend::head_predict.
void head_predict(const Launch& launch, int n, int input, int dense, int vocab, const float* x, const float* w1,
                  const float* b1, const float* w2, const float* b2, float* y1, float* logits, float* probs);

// ---- adamax_device.cu ---------------------------------------------------------
// adamax (kernels.hpp) with lr_t = float(math::adamax_step_size(lr, beta1,
// *step)) computed on the device from the step count there (>= 1), in double
// from hp's double beta1 as the CPU backend computes it.
void adamax_device_step(const Launch& launch, std::size_t n, float* params, const float* grads, float* m, float* u,
                        const AdamaxParams& hp, const std::int64_t* step);

// ---- sampling.cu ----------------------------------------------------------------
// SampleTokens: one block per stream, math/sampling.hpp's steps.
void sample_tokens(const Launch& launch, const SampleTokens<float>& request);

}  // namespace nocturne::kernels
