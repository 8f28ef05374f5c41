#pragma once
// The argument checks of the backend ops, shared by every backend so that the
// same bad call fails the same way (ShapeError or ConfigError naming the op
// and the argument) on the CPU and on the GPU. Each returns false where the
// op has nothing to do (an empty input), true where it should run.
// Data-dependent checks (token ranges) stay with the backends that can read
// the data on the host.

#include <climits>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>

#include "nocturne/backend.hpp"
#include "nocturne/error.hpp"

namespace nocturne::inline v0::checks {

inline void require(bool ok, const char* op, const std::string& what) {
  if (!ok) throw ShapeError(std::string(op) + ": " + what);
}
inline void require_positive(const char* op, const char* name, long long value) {
  if (value <= 0) throw ShapeError(std::string(op) + ": " + name + " must be positive, got " + std::to_string(value));
}
inline void require_pointer(const char* op, const char* name, const void* p) {
  if (!p) throw ShapeError(std::string(op) + ": " + name + " is null");
}
inline void require_pointers(const char* op, const char* what, std::initializer_list<const void*> pointers) {
  for (const void* p : pointers) require_pointer(op, what, p);
}

// An LSTM shape whose GEMMs fit 32-bit BLAS sizes.
inline void lstm_shape(const char* op, const LstmShape& s) {
  require_positive(op, "steps", s.steps);
  require_positive(op, "batch", s.batch);
  require_positive(op, "input", s.input);
  require_positive(op, "hidden", s.hidden);
  const long long rows = static_cast<long long>(s.steps) * s.batch;
  const long long widest = 4LL * s.hidden > s.input ? 4LL * s.hidden : s.input;
  require(rows <= INT_MAX && 4LL * s.hidden <= INT_MAX && rows * widest < (1LL << 40), op,
          "shape too large for 32-bit BLAS sizes");
}

inline void lstm_forward(const LstmShape& s, std::initializer_list<const void*> buffers) {
  lstm_shape("lstm_forward", s);
  require_pointers("lstm_forward", "an input or output buffer", buffers);
}
// dx may be null; every other buffer is required.
inline void lstm_backward(const LstmShape& s, std::initializer_list<const void*> buffers) {
  lstm_shape("lstm_backward", s);
  require_pointers("lstm_backward", "an input, output or workspace buffer", buffers);
}
inline void lstm_step(int batch, int input, int hidden, std::initializer_list<const void*> buffers) {
  lstm_shape("lstm_step", LstmShape{1, batch, input, hidden});
  require_pointers("lstm_step", "an input or output buffer", buffers);
}

inline void dense_sizes(const char* op, int n, int k, int m) {
  require_positive(op, "n", n);
  require_positive(op, "k", k);
  require_positive(op, "m", m);
}
inline void dense_forward(int n, int k, int m, const void* x, const void* w, const void* b, const void* y) {
  const char* op = "dense_forward";
  dense_sizes(op, n, k, m);
  require_pointer(op, "x", x);
  require_pointer(op, "w", w);
  require_pointer(op, "b", b);
  require_pointer(op, "y", y);
}
// dx may be null.
inline void dense_backward(int n, int k, int m, const void* x, const void* w, const void* dy, const void* dw,
                           const void* db) {
  const char* op = "dense_backward";
  dense_sizes(op, n, k, m);
  require_pointer(op, "x", x);
  require_pointer(op, "w", w);
  require_pointer(op, "dy", dy);
  require_pointer(op, "dw", dw);
  require_pointer(op, "db", db);
}

[[nodiscard]] inline bool scalar_input(std::size_t n, int vocab, const void* tokens, const void* out) {
  require_positive("scalar_input", "vocab", vocab);
  if (n == 0) return false;
  require_pointer("scalar_input", "tokens", tokens);
  require_pointer("scalar_input", "out", out);
  return true;
}
[[nodiscard]] inline bool embedding_forward(std::size_t n, int dim, const void* tokens, const void* table,
                                            const void* out) {
  const char* op = "embedding_forward";
  require_positive(op, "dim", dim);
  if (n == 0) return false;
  require_pointer(op, "tokens", tokens);
  require_pointer(op, "table", table);
  require_pointer(op, "out", out);
  return true;
}
// d_table is overwritten even for n == 0, so it is always required.
inline void embedding_backward(std::size_t n, int vocab, int dim, const void* tokens, const void* d_out,
                               const void* d_table) {
  const char* op = "embedding_backward";
  require_positive(op, "vocab", vocab);
  require_positive(op, "dim", dim);
  require_pointer(op, "d_table", d_table);
  if (n == 0) return;
  require_pointer(op, "tokens", tokens);
  require_pointer(op, "d_out", d_out);
}

[[nodiscard]] inline bool dropout(const char* op, double p, std::size_t n, const void* in, const void* out) {
  if (!(p >= 0.0 && p < 1.0))
    throw ConfigError(std::string(op) + ": drop probability must be in [0, 1), got " + std::to_string(p));
  if (n == 0) return false;
  require_pointer(op, "input", in);
  require_pointer(op, "output", out);
  return true;
}

inline void softmax(int n, int vocab, const void* logits, const void* probs) {
  require_positive("softmax", "n", n);
  require_positive("softmax", "vocab", vocab);
  require_pointer("softmax", "logits", logits);
  require_pointer("softmax", "probs", probs);
}
// dlogits may be null.
inline void softmax_cross_entropy(int n, int vocab, const void* logits, const void* targets, const void* stats) {
  const char* op = "softmax_cross_entropy";
  require_positive(op, "n", n);
  require_positive(op, "vocab", vocab);
  require_pointer(op, "logits", logits);
  require_pointer(op, "targets", targets);
  require_pointer(op, "stats", stats);
}

[[nodiscard]] inline bool adamax(std::size_t n, const void* params, const void* grads, const void* m, const void* u,
                                 const AdamaxParams& hp, std::int64_t step) {
  if (step < 1) throw ConfigError("adamax: step counts from 1, got " + std::to_string(step));
  if (!(hp.beta1 >= 0.0 && hp.beta1 < 1.0))
    throw ConfigError("adamax: beta1 must be in [0, 1), got " + std::to_string(hp.beta1));
  if (n == 0) return false;
  require_pointer("adamax", "params", params);
  require_pointer("adamax", "grads", grads);
  require_pointer("adamax", "m", m);
  require_pointer("adamax", "u", u);
  return true;
}

}  // namespace nocturne::checks
