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
template class BasicBackend<float>;
template class BasicBackend<double>;

}  // namespace nocturne
