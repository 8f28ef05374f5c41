#pragma once
// Label smoothing's pieces of a softmax cross-entropy row, for the kernels
// (softmax.cu, head.cu); the CPU backend writes the same formulas out in
// cpu_output.cpp. Targets are (1 - eps) onehot + eps / V:
//   dlogits[j] = softmax[j] * grad_scale - smoothed_target(j)
//   loss = logsumexp - (1 - eps) logit[target] - eps mean(logits)
// eps = 0 gives the plain cross-entropy's expressions exactly.

#include "math/host_device.hpp"

namespace nocturne::inline v0::math {

// What the gradient of logit j subtracts.
template <typename T>
NOCTURNE_HD T smoothed_target(bool is_target, int vocab, T smoothing, T grad_scale) {
  if (smoothing == T(0)) return is_target ? grad_scale : T(0);
  const T spread = grad_scale * smoothing / T(vocab);
  return is_target ? spread + grad_scale * (T(1) - smoothing) : spread;
}

// A row's loss from its logsumexp and the sum of its logits (unused when eps = 0).
template <typename T>
NOCTURNE_HD double smoothed_loss(T logsumexp, T target_logit, T logit_sum, int vocab, T smoothing) {
  if (smoothing == T(0)) return double(logsumexp - target_logit);
  return double(logsumexp - (T(1) - smoothing) * target_logit - smoothing * (logit_sum / T(vocab)));
}

}  // namespace nocturne::math
