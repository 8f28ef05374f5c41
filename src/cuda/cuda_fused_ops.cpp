// The fused path's ops on the CUDA backend (nocturne/fused_ops.hpp): launch
// wrappers of kernels/fused_kernels.hpp on the current branch's stream. The
// argument checks are the CPU backend's (src/core/fused_op_checks.hpp), so a
// bad call fails the same way on both.

#include <algorithm>
#include <string>

#include "core/fused_op_checks.hpp"
#include "cuda/cuda_backend.hpp"
#include "kernels/fused_kernels.hpp"
#include "kernels/persistent_kernels.hpp"
#include "nocturne/error.hpp"

namespace nocturne::inline v0::cuda {

kernels::GemmOperands CudaBackend::gemm_operands() const {
  switch (math_) {
    case MathMode::tf32: return kernels::GemmOperands::tf32;
    case MathMode::bf16: return kernels::GemmOperands::bf16;
    case MathMode::strict_fp32: break;
  }
  return kernels::GemmOperands::fp32;
}

void CudaBackend::lstm_step_forward(const LstmStepForward<float>& step) {
  checks::lstm_step_forward(step);
  kernels::lstm_step_forward(launch(), gemm_operands(), step);
}

void CudaBackend::lstm_step_backward(const LstmStepBackward<float>& step) {
  checks::lstm_step_backward(step, lstm_partial_blocks(step.batch));
  kernels::lstm_step_backward(launch(), gemm_operands(), step);
}

void CudaBackend::lstm_sequence_forward(const LstmSequenceForward<float>& q) {
  // Every mode has a persistent forward kernel (CUDA cores for strict FP32,
  // tensor cores for TF32 and BF16); a layer that does not fit runs the
  // fused step kernels, which give the same results in the same mode.
  if (!persistent_ || q.steps <= 0) return BasicBackend<float>::lstm_sequence_forward(q);
  const kernels::PersistentPlan plan =
      kernels::persistent_device_plan(q.batch, q.input, q.hidden, gemm_operands());
  if (!plan.fits() || plan.blocks > multiprocessors_) return BasicBackend<float>::lstm_sequence_forward(q);
  // The step op's checks for the first and the last step (the same shapes and strides).
  for (int t : {0, q.steps - 1}) checks::lstm_step_forward(sequence_step(q, t));
  auto* flags = static_cast<unsigned*>(branch().flags.get());
  const kernels::PersistentForwardArgs args = kernels::make_persistent_forward_args(
      q.steps, q.batch, q.input, q.hidden, q.x, q.w, q.r, q.b, q.h, q.c, q.gates, q.h_dropped, q.dropout,
      q.dropout_p, flags);
  kernels::lstm_persistent_forward(launch(), plan, args);
}

void CudaBackend::lstm_sequence_backward(const LstmSequenceBackward<float>& q) {
  // Every mode has a persistent backward kernel (CUDA cores for strict FP32,
  // tensor cores for TF32 and BF16); a layer that does not fit runs the
  // fused step kernels, which give the same results in the same mode.
  if (!persistent_ || q.steps <= 0) return BasicBackend<float>::lstm_sequence_backward(q);
  const kernels::PersistentPlan plan = kernels::persistent_device_backward_plan(q.batch, q.hidden, gemm_operands());
  if (!plan.fits() || plan.blocks > multiprocessors_) return BasicBackend<float>::lstm_sequence_backward(q);
  const int blocks = lstm_partial_blocks(q.batch);
  for (int t : {0, q.steps - 1}) checks::lstm_step_backward(sequence_backward_step(q, t, blocks), blocks);
  auto* flags = static_cast<unsigned*>(branch().flags.get());
  kernels::lstm_persistent_backward(launch(), plan, kernels::make_persistent_backward_args(q, blocks, flags));
}

void CudaBackend::lstm_sequences_forward(const LstmSequencesForward<float>& q) {
  // Strict FP32: both layers in one cooperative launch (the wavefront) where
  // the pair fits the device; otherwise (CudaOptions::wavefront false, or in TF32 and BF16) the two
  // layers' sequence ops, one after the other. Both give the same bits: each
  // block runs the single-layer kernel's loop.
  checks::lstm_sequences_forward(q);
  const LstmSequenceForward<float>& l1 = q.layer1;
  const LstmSequenceForward<float>& l2 = q.layer2;
  if (!persistent_ || !wavefront_ || l1.steps <= 0 || gemm_operands() != kernels::GemmOperands::fp32)
    return BasicBackend<float>::lstm_sequences_forward(q);
  const kernels::WavefrontPlan plan =
      kernels::persistent_device_wavefront_plan(l1.batch, l1.input, l1.hidden, l2.hidden);
  if (!plan.fits() || plan.blocks > multiprocessors_) return BasicBackend<float>::lstm_sequences_forward(q);
  for (int t : {0, l1.steps - 1}) {
    checks::lstm_step_forward(sequence_step(l1, t));
    checks::lstm_step_forward(sequence_step(l2, t));
  }
  auto* flags = static_cast<unsigned*>(branch().flags.get());
  const kernels::PersistentForwardArgs a1 = kernels::make_persistent_forward_args(
      l1.steps, l1.batch, l1.input, l1.hidden, l1.x, l1.w, l1.r, l1.b, l1.h, l1.c, l1.gates, l1.h_dropped,
      l1.dropout, l1.dropout_p, flags);
  const kernels::PersistentForwardArgs a2 = kernels::make_wavefront_layer2_args(
      plan, a1,
      kernels::make_persistent_forward_args(l2.steps, l2.batch, l2.input, l2.hidden, l2.x, l2.w, l2.r, l2.b, l2.h,
                                            l2.c, l2.gates, l2.h_dropped, l2.dropout, l2.dropout_p, nullptr));
  kernels::lstm_persistent_wavefront_forward(launch(), plan, a1, a2);
}

int CudaBackend::lstm_partial_blocks(int batch) const { return kernels::lstm_partial_blocks(batch); }

void CudaBackend::lstm_partials_reduce(int steps, int blocks, int cols, const float* partials, float* out) {
  checks::lstm_partials_reduce(steps, blocks, cols, partials, out);
  kernels::lstm_partials_reduce(launch(), steps, blocks, cols, partials, out);
}

void CudaBackend::head_train_step(const HeadTrainStep<float>& head) {
  checks::head_train_step(head);
  kernels::head_train_step(launch(), head);
}

void CudaBackend::head_predict(int n, int input, int dense, int vocab, const float* x, const float* w1,
                               const float* b1, const float* w2, const float* b2, float* y1, float* logits,
                               float* probs) {
  checks::head_predict(n, input, dense, vocab, {x, w1, b1, w2, b2, y1, logits, probs});
  kernels::head_predict(launch(), n, input, dense, vocab, x, w1, b1, w2, b2, y1, logits, probs);
}

void CudaBackend::adamax_device_step(std::size_t n, float* params, const float* grads, float* m, float* u,
                                     const AdamaxParams& hp, const std::int64_t* step_on_device) {
  if (!checks::adamax_device_step(n, params, grads, m, u, hp, step_on_device)) return;
  kernels::adamax_device_step(launch(), n, params, grads, m, u, hp, step_on_device);
}

void CudaBackend::sample_tokens(const SampleTokens<float>& request) {
  checks::sample_tokens(request);
  kernels::sample_tokens(launch(), request);
}

}  // namespace nocturne::cuda
