#pragma once
// The argument checks of the fused path's ops (nocturne/fused_ops.hpp),
// shared by the CPU and CUDA backends as op_checks.hpp is: the same bad call
// fails the same way on both (ShapeError or ConfigError naming the op and the
// argument).

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>

#include "core/op_checks.hpp"
#include "nocturne/backend.hpp"

namespace nocturne::inline v0 {

// Step t of a sequence op as a step op: the pointers advanced to step t, the
// dropout stream's offset where that step's mask starts. The step-op loop of
// the reference lstm_sequence_forward and the persistent kernel's checks use it.
template <typename T>
LstmStepForward<T> sequence_step(const LstmSequenceForward<T>& q, int t) {
  const std::size_t at = std::size_t(t);
  const std::size_t nh = std::size_t(q.batch) * std::size_t(q.hidden);
  LstmStepForward<T> s;
  s.batch = q.batch;
  s.input = q.input;
  s.hidden = q.hidden;
  s.x = q.x + at * std::size_t(q.batch) * std::size_t(q.input);
  s.w = q.w;
  s.r = q.r;
  s.b = q.b;
  s.h_prev = t > 0 ? q.h + (at - 1) * nh : nullptr;
  s.c_prev = t > 0 ? q.c + (at - 1) * nh : nullptr;
  s.h = q.h + at * nh;
  s.c = q.c + at * nh;
  s.gates = q.gates + at * 4 * nh;
  if (q.h_dropped) {
    s.h_dropped = q.h_dropped + at * nh;
    s.dropout = q.dropout;
    s.dropout_p = q.dropout_p;
    s.dropout_index = std::uint64_t(at * nh);
  }
  return s;
}

// Step t of a backward sequence op as a step op (partial_blocks: the
// backend's lstm_partial_blocks(N)).
template <typename T>
LstmStepBackward<T> sequence_backward_step(const LstmSequenceBackward<T>& q, int t, int partial_blocks) {
  const std::size_t at = std::size_t(t);
  const std::size_t nh = std::size_t(q.batch) * std::size_t(q.hidden);
  const std::size_t partials = std::size_t(partial_blocks) * 4 * std::size_t(q.hidden);
  LstmStepBackward<T> s;
  s.batch = q.batch;
  s.hidden = q.hidden;
  s.r = q.r;
  s.dgates_next = t + 1 < q.steps ? q.dgates + (at + 1) * 4 * nh : nullptr;
  s.dh = q.dh ? q.dh + at * nh : t + 1 == q.steps ? q.dh_last : nullptr;
  if (s.dh) {
    s.dropout = q.dropout;
    s.dropout_p = q.dropout_p;
    s.dropout_index = std::uint64_t(at * nh);
  }
  s.gates = q.gates + at * 4 * nh;
  s.c = q.c + at * nh;
  s.c_prev = t > 0 ? q.c + (at - 1) * nh : nullptr;
  s.dc = q.dc;
  s.dgates = q.dgates + at * 4 * nh;
  s.db_partial = q.db_partial + at * partials;
  if (q.x) {
    s.x = q.x + at * std::size_t(q.batch);
    s.dw_partial = q.dw_partial + at * partials;
  }
  return s;
}

}  // namespace nocturne::v0

namespace nocturne::inline v0::checks {

inline void dropout_probability(const char* op, double p) {
  if (!(p >= 0.0 && p < 1.0))
    throw ConfigError(std::string(op) + ": drop probability must be in [0, 1), got " + std::to_string(p));
}

// Layer 2 reads layer 1's output (LstmSequencesForward): the same steps and
// batch, layer 2's input layer 1's hidden size, its x layer 1's h_dropped
// (where layer 1 drops) or h.
template <typename T>
void lstm_sequences_forward(const LstmSequencesForward<T>& q) {
  const char* op = "lstm_sequences_forward";
  const LstmSequenceForward<T>& a = q.layer1;
  const LstmSequenceForward<T>& b = q.layer2;
  if (a.steps != b.steps || a.batch != b.batch)
    throw ShapeError(std::string(op) + ": layer 2's steps and batch (" + std::to_string(b.steps) + ", " +
                     std::to_string(b.batch) + ") differ from layer 1's (" + std::to_string(a.steps) + ", " +
                     std::to_string(a.batch) + ")");
  if (b.input != a.hidden)
    throw ShapeError(std::string(op) + ": layer 2's input " + std::to_string(b.input) + " is not layer 1's hidden " +
                     std::to_string(a.hidden));
  if (b.x != (a.h_dropped ? a.h_dropped : a.h))
    throw ShapeError(std::string(op) + ": layer 2's x is not layer 1's " + (a.h_dropped ? "h_dropped" : "h"));
}

template <typename T>
void lstm_step_forward(const LstmStepForward<T>& s) {
  const char* op = "lstm_step_forward";
  lstm_shape(op, LstmShape{1, s.batch, s.input, s.hidden});
  require_pointer(op, "x", s.x);
  require_pointer(op, "w", s.w);
  require_pointer(op, "r", s.r);
  require_pointer(op, "b", s.b);
  if (s.h_prev) require_pointer(op, "c_prev (with h_prev)", s.c_prev);
  require_pointer(op, "h", s.h);
  require_pointer(op, "c", s.c);
  require_pointer(op, "gates", s.gates);
  if (s.dropout) dropout_probability(op, double(s.dropout_p));
}

template <typename T>
void lstm_step_backward(const LstmStepBackward<T>& s, int partial_blocks) {
  const char* op = "lstm_step_backward";
  lstm_shape(op, LstmShape{1, s.batch, 1, s.hidden});
  require_pointer(op, "r", s.r);
  require_pointer(op, "gates", s.gates);
  require_pointer(op, "c", s.c);
  require_pointer(op, "dc", s.dc);
  require_pointer(op, "dgates", s.dgates);
  require_pointer(op, "db_partial", s.db_partial);
  require(partial_blocks > 0, op, "no partial-sum blocks");
  if (s.dropout) dropout_probability(op, double(s.dropout_p));
  if (s.x) require_pointer(op, "dw_partial (with x)", s.dw_partial);
}

inline void lstm_partials_reduce(int steps, int blocks, int cols, const void* partials, const void* out) {
  const char* op = "lstm_partials_reduce";
  require_positive(op, "steps", steps);
  require_positive(op, "blocks", blocks);
  require_positive(op, "cols", cols);
  require_pointer(op, "partials", partials);
  require_pointer(op, "out", out);
}

template <typename T>
void head_train_step(const HeadTrainStep<T>& h) {
  const char* op = "head_train_step";
  require_positive(op, "batch", h.batch);
  require_positive(op, "input", h.input);
  require_positive(op, "dense", h.dense);
  require_positive(op, "vocab", h.vocab);
  require_pointers(op, "an input, scratch or output buffer",
                   {h.x, h.w1, h.b1, h.w2, h.b2, h.targets, h.y1, h.y1_dropped, h.logits, h.dlogits, h.dy1, h.dx,
                    h.dw1, h.db1, h.dw2, h.db2, h.stats});
  if (h.dropout) dropout_probability(op, double(h.dropout_p));
}

inline void head_predict(int n, int input, int dense, int vocab, std::initializer_list<const void*> buffers) {
  const char* op = "head_predict";
  require_positive(op, "n", n);
  require_positive(op, "input", input);
  require_positive(op, "dense", dense);
  require_positive(op, "vocab", vocab);
  require_pointers(op, "an input, scratch or output buffer", buffers);
}

[[nodiscard]] inline bool adamax_device_step(std::size_t n, const void* params, const void* grads, const void* m,
                                             const void* u, const AdamaxParams& hp, const void* step) {
  if (!(hp.beta1 >= 0.0 && hp.beta1 < 1.0))
    throw ConfigError("adamax_device_step: beta1 must be in [0, 1), got " + std::to_string(hp.beta1));
  if (n == 0) return false;
  require_pointers("adamax_device_step", "params, grads, m, u or the step count", {params, grads, m, u, step});
  return true;
}

template <typename T>
void sample_tokens(const SampleTokens<T>& r) {
  const char* op = "sample_tokens";
  require_positive(op, "streams", r.streams);
  require_positive(op, "vocab", r.vocab);
  require_pointer(op, "probs", r.probs);
  require_pointer(op, "note", r.note);
  require_pointer(op, "chosen", r.chosen);
  if (r.tokens) require_positive(op, "slots (with tokens)", r.slots);
  if (r.history) require(r.history_notes >= 0, op, "negative history_notes");
  if (!r.greedy) {
    if (!(r.temperature > 0) || !std::isfinite(r.temperature))
      throw ConfigError(std::string(op) + ": temperature must be a positive number, got " +
                        std::to_string(r.temperature));
    if (r.top_k < 0) throw ConfigError(std::string(op) + ": top-k must be >= 0");
    if (!(r.top_p > 0 && r.top_p <= 1)) throw ConfigError(std::string(op) + ": top-p must lie in (0, 1]");
  }
}

}  // namespace nocturne::checks
