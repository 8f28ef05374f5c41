// What every backend shares: the math-mode names, and the fused path's ops
// for a backend that does not offer that path (they say so).

#include <string>

#include "core/fused_op_checks.hpp"
#include "nocturne/backend.hpp"
#include "nocturne/error.hpp"

namespace nocturne::inline v0 {

const char* to_string(MathMode mode) {
  switch (mode) {
    case MathMode::strict_fp32: return "fp32";
    case MathMode::tf32: return "tf32";
    case MathMode::bf16: return "bf16";
  }
  return "unknown";
}

MathMode parse_math_mode(std::string_view name) {
  for (MathMode mode : {MathMode::strict_fp32, MathMode::tf32, MathMode::bf16})
    if (name == to_string(mode)) return mode;
  throw ConfigError("unknown precision '" + std::string(name) + "' (expected fp32, tf32 or bf16)");
}

namespace {

[[noreturn]] void no_fused_path(const std::string& backend, const char* op) {
  throw NotSupportedError(std::string(op) + ": the " + backend + " backend has no fused LSTM path");
}

}  // namespace

template <typename T>
void BasicBackend<T>::mask_steps(int, std::size_t, const T*, const T*, T*) {
  throw NotSupportedError("mask_steps: the " + name() + " backend has no variational dropout");
}
template <typename T>
void BasicBackend<T>::lstm_forward_masked(const LstmShape& s, const T* x, const T* w, const T* r, const T* b,
                                          const T* mask, T*, T* h, T* c, T* gates) {
  if (mask) throw NotSupportedError("lstm_forward_masked: the " + name() + " backend has no recurrent dropout");
  lstm_forward(s, x, w, r, b, h, c, gates);
}
template <typename T>
void BasicBackend<T>::lstm_backward_masked(const LstmShape& s, const T* x, const T* w, const T* r, const T* mask,
                                           const T*, const T* h, const T* c, const T* gates, const T* dh, T* dx,
                                           T* dw, T* dr, T* db, T* workspace) {
  if (mask) throw NotSupportedError("lstm_backward_masked: the " + name() + " backend has no recurrent dropout");
  lstm_backward(s, x, w, r, h, c, gates, dh, dx, dw, dr, db, workspace);
}
template <typename T>
void BasicBackend<T>::softmax_cross_entropy_smoothed(int n, int vocab, const T* logits, const std::int32_t* targets,
                                                     T smoothing, T grad_scale, T* dlogits, double* stats) {
  if (smoothing != T(0))
    throw NotSupportedError("softmax_cross_entropy_smoothed: the " + name() + " backend has no label smoothing");
  softmax_cross_entropy(n, vocab, logits, targets, grad_scale, dlogits, stats);
}

template <typename T>
void BasicBackend<T>::lstm_step_forward(const LstmStepForward<T>&) {
  no_fused_path(name(), "lstm_step_forward");
}
template <typename T>
void BasicBackend<T>::lstm_step_backward(const LstmStepBackward<T>&) {
  no_fused_path(name(), "lstm_step_backward");
}
template <typename T>
void BasicBackend<T>::lstm_sequence_forward(const LstmSequenceForward<T>& q) {
  if (q.steps < 0)
    throw ShapeError("lstm_sequence_forward: steps must not be negative, got " + std::to_string(q.steps));
  for (int t = 0; t < q.steps; ++t) lstm_step_forward(sequence_step(q, t));
}
template <typename T>
void BasicBackend<T>::lstm_sequences_forward(const LstmSequencesForward<T>& q) {
  checks::lstm_sequences_forward(q);
  lstm_sequence_forward(q.layer1);
  lstm_sequence_forward(q.layer2);
}
template <typename T>
void BasicBackend<T>::lstm_sequence_backward(const LstmSequenceBackward<T>& q) {
  if (q.steps < 0)
    throw ShapeError("lstm_sequence_backward: steps must not be negative, got " + std::to_string(q.steps));
  const int blocks = lstm_partial_blocks(q.batch);
  for (int t = q.steps - 1; t >= 0; --t) lstm_step_backward(sequence_backward_step(q, t, blocks));
}
template <typename T>
int BasicBackend<T>::lstm_partial_blocks(int) const {
  no_fused_path(name(), "lstm_partial_blocks");
}
template <typename T>
void BasicBackend<T>::lstm_partials_reduce(int, int, int, const T*, T*) {
  no_fused_path(name(), "lstm_partials_reduce");
}
template <typename T>
void BasicBackend<T>::head_train_step(const HeadTrainStep<T>&) {
  no_fused_path(name(), "head_train_step");
}
template <typename T>
void BasicBackend<T>::head_predict(int, int, int, int, const T*, const T*, const T*, const T*, const T*, T*, T*,
                                   T*) {
  no_fused_path(name(), "head_predict");
}
template <typename T>
void BasicBackend<T>::adamax_device_step(std::size_t, T*, const T*, T*, T*, const AdamaxParams&,
                                         const std::int64_t*) {
  no_fused_path(name(), "adamax_device_step");
}
template <typename T>
void BasicBackend<T>::sample_tokens(const SampleTokens<T>&) {
  no_fused_path(name(), "sample_tokens");
}
template <typename T>
bool BasicBackend<T>::generate_notes(const GenerateNotes<T>&) {
  return false;
}
template class BasicBackend<float>;
template class BasicBackend<double>;

}  // namespace nocturne
