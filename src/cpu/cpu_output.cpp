// Softmax and the fused softmax + cross-entropy of the output layer.
// Both subtract the row maximum first, so large logits cannot overflow.

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>

#include "cpu/cpu_backend.hpp"
#include "cpu/cpu_kernels.hpp"
#include "math/host_device.hpp"

namespace nocturne::inline v0::cpu {
namespace {

// Index of the first maximum of row[0..v).
template <typename T>
std::size_t first_argmax(const T* row, std::size_t v) {
  std::size_t best = 0;
  for (std::size_t j = 1; j < v; ++j)
    if (row[j] > row[best]) best = j;
  return best;
}

// out[j] = exp(row[j] - row_max); returns their sum.
template <typename T>
T shifted_exps(const T* row, std::size_t v, T row_max, T* out) {
  T sum = T(0);
  for (std::size_t j = 0; j < v; ++j) {
    out[j] = math::exp_of(row[j] - row_max);
    sum += out[j];
  }
  return sum;
}

}  // namespace

template <typename T>
void CpuBackend<T>::softmax(int n, int vocab, const T* logits, T* probs) {
  checks::softmax(n, vocab, logits, probs);
  const std::size_t v = std::size_t(vocab);
  for (std::size_t r = 0; r < std::size_t(n); ++r) {
    const T* row = logits + r * v;
    T* out = probs + r * v;
    const T sum = shifted_exps(row, v, row[first_argmax(row, v)], out);
    const T inv = T(1) / sum;
    for (std::size_t j = 0; j < v; ++j) out[j] *= inv;
  }
}

template <typename T>
void CpuBackend<T>::softmax_cross_entropy(int n, int vocab, const T* logits, const std::int32_t* targets,
                                          T grad_scale, T* dlogits, double* stats) {
  softmax_cross_entropy_smoothed(n, vocab, logits, targets, T(0), grad_scale, dlogits, stats);
}

// Label smoothing eps spreads eps of the target's weight evenly over the
// vocabulary: the gradient subtracts eps / V everywhere and 1 - eps at the
// target; the loss is logsumexp - (1 - eps) logit[target] - eps mean(logits).
// eps = 0 runs the plain formulas (the same bits as before smoothing existed).
template <typename T>
void CpuBackend<T>::softmax_cross_entropy_smoothed(int n, int vocab, const T* logits, const std::int32_t* targets,
                                                   T smoothing, T grad_scale, T* dlogits, double* stats) {
  const char* op = "softmax_cross_entropy";
  checks::softmax_cross_entropy(n, vocab, logits, targets, stats);
  require(smoothing >= T(0) && smoothing < T(1), op, "label smoothing must lie in [0, 1)");
  auto span = phases_.span(kPartHead);
  const std::size_t v = std::size_t(vocab);
  double loss = 0.0;
  double correct = 0.0;
  for (std::size_t r = 0; r < std::size_t(n); ++r) {
    const std::int32_t target = targets[r];
    require(target >= 0 && target < vocab, op,
            "target " + std::to_string(target) + " of row " + std::to_string(r) + " is outside [0, " +
                std::to_string(vocab) + ")");
    const T* row = logits + r * v;
    const std::size_t best = first_argmax(row, v);
    const T row_max = row[best];
    T sum = T(0);
    if (dlogits) {
      T* grad = dlogits + r * v;
      sum = shifted_exps(row, v, row_max, grad);
      const T scale = grad_scale / sum;
      for (std::size_t j = 0; j < v; ++j) grad[j] *= scale;
      if (smoothing == T(0)) {
        grad[target] -= grad_scale;
      } else {
        const T spread = grad_scale * smoothing / T(vocab);
        for (std::size_t j = 0; j < v; ++j) grad[j] -= spread;
        grad[target] -= grad_scale * (T(1) - smoothing);
      }
    } else {
      for (std::size_t j = 0; j < v; ++j) sum += math::exp_of(row[j] - row_max);
    }
    // -log softmax[target] = logsumexp - logit[target], with the max taken out.
    if (smoothing == T(0)) {
      loss += double(math::log_of(sum) + row_max - row[target]);
    } else {
      T logit_sum = T(0);
      for (std::size_t j = 0; j < v; ++j) logit_sum += row[j];
      loss += double(math::log_of(sum) + row_max - (T(1) - smoothing) * row[target] -
                     smoothing * (logit_sum / T(vocab)));
    }
    if (best == std::size_t(target)) correct += 1.0;
  }
  stats[0] += loss;
  stats[1] += correct;
}

#define NOCTURNE_CPU_OUTPUT_INSTANTIATE(T)                                                                 \
  template void CpuBackend<T>::softmax(int, int, const T*, T*);                                          \
  template void CpuBackend<T>::softmax_cross_entropy(int, int, const T*, const std::int32_t*, T, T*, double*);     \
  template void CpuBackend<T>::softmax_cross_entropy_smoothed(int, int, const T*, const std::int32_t*, T, T, T*,  \
                                                              double*);
NOCTURNE_CPU_OUTPUT_INSTANTIATE(float)
NOCTURNE_CPU_OUTPUT_INSTANTIATE(double)
#undef NOCTURNE_CPU_OUTPUT_INSTANTIATE

}  // namespace nocturne::cpu
