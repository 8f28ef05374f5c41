#pragma once
// Helpers shared by the model, optimiser and trainer tests: small
// configurations, seeded batches, the mean loss of one training step, and the
// error measures the gradient checks report.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "nocturne/model.hpp"
#include "nocturne/rng.hpp"

namespace nocturne::inline v0::test {

// The small model every gradient check uses: V = 7, T = 5, H1 = 8, H2 = 4, D = 6.
inline ModelConfig small_config(InputMode input, double dropout) {
  ModelConfig c;
  c.vocab = 7;
  c.window = 5;
  c.hidden1 = 8;
  c.hidden2 = 4;
  c.dense = 6;
  c.dropout = dropout;
  c.input = input;
  c.embedding_dim = 3;
  return c;
}

// A stream of our own so the test data never shares draws with the library's.
inline constexpr std::uint32_t kTestStream = 0x7e57;

// Seeded tokens, time-major [window, n], and targets [n].
struct TestBatch {
  std::vector<std::int32_t> tokens, targets;
};

inline TestBatch random_batch(const ModelConfig& c, int n, std::uint64_t seed) {
  TestBatch b;
  const std::size_t count = std::size_t(c.window) * std::size_t(n);
  for (std::size_t i = 0; i < count; ++i)
    b.tokens.push_back(std::int32_t(random_below(std::uint64_t(c.vocab), seed, kTestStream, i)));
  for (int j = 0; j < n; ++j)
    b.targets.push_back(std::int32_t(random_below(std::uint64_t(c.vocab), seed, kTestStream + 1, std::uint64_t(j))));
  return b;
}

// Parameters drawn uniformly from [-scale, scale] in every view (biases
// included, so no term of the gradient hides behind a zero); padding stays zero.
template <typename T>
std::vector<T> random_parameters(const ParameterLayout& layout, std::uint64_t seed, double scale) {
  std::vector<T> values(layout.buffer_size(), T(0));
  std::uint64_t index = 0;
  for (const ParameterView& v : layout.views())
    for (std::size_t i = 0; i < v.size(); ++i)
      values[v.offset + i] = T(scale * (2.0 * random_uniform(seed, kTestStream + 2, index++) - 1.0));
  return values;
}

// Mean cross-entropy of one training step (forward with the dropout masks of
// (dropout_seed, step), backward into the gradients).
template <typename T>
double train_step_loss(BasicModel<T>& model, std::uint64_t dropout_seed, std::uint64_t step) {
  model.reset_stats();
  model.train_step(dropout_seed, step);
  return model.read_stats().loss_sum / double(model.batch());
}

// Elements of the flat buffer that belong to no view.
inline std::vector<std::size_t> padding_indices(const ParameterLayout& layout) {
  std::vector<bool> used(layout.buffer_size(), false);
  for (const ParameterView& v : layout.views())
    for (std::size_t i = 0; i < v.size(); ++i) used[v.offset + i] = true;
  std::vector<std::size_t> padding;
  for (std::size_t i = 0; i < used.size(); ++i)
    if (!used[i]) padding.push_back(i);
  return padding;
}

// How far `got` is from `want`, two ways:
//   normwise = ||got - want||_2 / ||want||_2
//   elementwise = max_i |got_i - want_i| / max(|got_i|, |want_i|, floor),
//     floor = floor_fraction * max_j |want_j|, so entries far below the
//     view's scale (whose absolute error is all rounding) cannot dominate.
struct ErrorMeasure {
  double normwise = 0, elementwise = 0, max_abs = 0;
  std::size_t worst = 0;  // index of the worst element
};

inline ErrorMeasure compare(std::span<const double> got, std::span<const double> want, double floor_fraction) {
  ErrorMeasure e;
  double diff2 = 0, want2 = 0, want_max = 0;
  for (std::size_t i = 0; i < want.size(); ++i) want_max = std::max(want_max, std::abs(want[i]));
  const double floor = std::max(floor_fraction * want_max, 1e-300);
  for (std::size_t i = 0; i < want.size(); ++i) {
    const double d = std::abs(got[i] - want[i]);
    diff2 += d * d;
    want2 += want[i] * want[i];
    e.max_abs = std::max(e.max_abs, d);
    const double rel = d / std::max({std::abs(got[i]), std::abs(want[i]), floor});
    if (rel > e.elementwise || std::isnan(rel)) {
      e.elementwise = rel;
      e.worst = i;
    }
  }
  e.normwise = want2 > 0 ? std::sqrt(diff2 / want2) : std::sqrt(diff2);
  return e;
}

template <typename T>
std::vector<double> view_values(const std::vector<T>& flat, const ParameterView& v) {
  return std::vector<double>(flat.begin() + std::ptrdiff_t(v.offset),
                             flat.begin() + std::ptrdiff_t(v.offset + v.size()));
}

}  // namespace nocturne::test
