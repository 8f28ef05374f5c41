// The output layer: row-wise softmax and the fused softmax + cross-entropy.
//
// Design: one warp per row; lanes stride over the vocabulary; maximum (with
// its first index), sum of exponentials and the loss come from xor-butterfly
// shuffles, which leave the same value in every lane. The formulas and their
// order of operations follow the CPU backend (src/cpu/cpu_output.cpp):
// subtract the row maximum, exponentiate, scale by grad_scale / sum, subtract
// grad_scale at the target; loss = log(sum) + max - logit[target].
// - softmax: blocks of 8 warps, one row a warp.
// - softmax_cross_entropy: ONE block of 32 warps; warp w takes rows w, w + 32,
//   ... and adds its rows' losses in order, then thread 0 adds the 32 warp
//   totals in order and adds the sum to stats. No atomics, so the statistics
//   are reproducible bit for bit. A batch has a few hundred rows of ~100
//   logits, so one block is plenty. A target outside [0, vocab) (which the
//   model's set_batch rules out) makes the loss NaN rather than reading out of
//   bounds.
//
// History: v1 (this one).

#include <cmath>

#include "kernels.hpp"
#include "math/host_device.hpp"
#include "math/label_smoothing.hpp"

namespace nocturne::inline v0::kernels {
namespace {

constexpr unsigned kWarp = 32;
constexpr unsigned kSoftmaxWarps = 8;
constexpr unsigned kLossWarps = 32;
constexpr unsigned kFull = 0xffffffffu;

struct RowMax {
  float value;
  int index;
};

// Maximum of row [0, vocab) and its first index, in every lane.
__device__ RowMax warp_row_max(const float* row, int vocab, unsigned lane) {
  RowMax best{-INFINITY, vocab};
  for (int j = int(lane); j < vocab; j += int(kWarp))
    if (row[j] > best.value || best.index == vocab) best = RowMax{row[j], j};
  for (unsigned offset = kWarp / 2; offset > 0; offset /= 2) {
    const float v = __shfl_xor_sync(kFull, best.value, int(offset));
    const int i = __shfl_xor_sync(kFull, best.index, int(offset));
    if (v > best.value || (v == best.value && i < best.index)) best = RowMax{v, i};
  }
  return best;
}

__device__ float warp_sum(float value) {
  for (unsigned offset = kWarp / 2; offset > 0; offset /= 2) value += __shfl_xor_sync(kFull, value, int(offset));
  return value;
}

// logits [n, vocab] -> probs [n, vocab]
__global__ void softmax_kernel(int n, int vocab, const float* logits, float* probs) {
  const unsigned lane = threadIdx.x % kWarp;
  const int row = int(blockIdx.x * kSoftmaxWarps + threadIdx.x / kWarp);
  if (row >= n) return;  // whole warps leave together
  const float* in = logits + std::size_t(row) * std::size_t(vocab);
  float* out = probs + std::size_t(row) * std::size_t(vocab);
  const float row_max = warp_row_max(in, vocab, lane).value;
  float sum = 0.0f;
  for (int j = int(lane); j < vocab; j += int(kWarp)) sum += math::exp_of(in[j] - row_max);
  const float inv = 1.0f / warp_sum(sum);
  for (int j = int(lane); j < vocab; j += int(kWarp)) out[j] = math::exp_of(in[j] - row_max) * inv;
}

// logits [n, vocab], targets [n], dlogits [n, vocab] or null, stats [2]; one block.
__global__ void softmax_cross_entropy_kernel(int n, int vocab, const float* logits, const std::int32_t* targets,
                                             float smoothing, float grad_scale, float* dlogits, double* stats) {
  __shared__ double warp_loss[kLossWarps];
  __shared__ double warp_correct[kLossWarps];
  const unsigned lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp;
  double loss = 0.0, correct = 0.0;
  for (int row = int(warp); row < n; row += int(kLossWarps)) {
    const float* in = logits + std::size_t(row) * std::size_t(vocab);
    const std::int32_t target = targets[row];
    const bool valid = target >= 0 && target < vocab;
    const RowMax best = warp_row_max(in, vocab, lane);
    float sum = 0.0f;
    for (int j = int(lane); j < vocab; j += int(kWarp)) sum += math::exp_of(in[j] - best.value);
    sum = warp_sum(sum);
    if (dlogits) {
      float* grad = dlogits + std::size_t(row) * std::size_t(vocab);
      const float scale = grad_scale / sum;
      for (int j = int(lane); j < vocab; j += int(kWarp)) {
        float g = math::exp_of(in[j] - best.value) * scale;
        g -= math::smoothed_target(j == target, vocab, smoothing, grad_scale);
        grad[j] = g;
      }
    }
    // The mean logit, for the smoothed loss (smoothing is the same in every lane).
    float logit_sum = 0.0f;
    if (smoothing != 0.0f) {
      for (int j = int(lane); j < vocab; j += int(kWarp)) logit_sum += in[j];
      logit_sum = warp_sum(logit_sum);
    }
    if (lane == 0) {
      loss += valid ? math::smoothed_loss(math::log_of(sum) + best.value, in[target], logit_sum, vocab, smoothing)
                    : double(NAN);
      if (best.index == target) correct += 1.0;
    }
  }
  if (lane == 0) {
    warp_loss[warp] = loss;
    warp_correct[warp] = correct;
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    double total_loss = 0.0, total_correct = 0.0;
    for (unsigned w = 0; w < kLossWarps; ++w) {
      total_loss += warp_loss[w];
      total_correct += warp_correct[w];
    }
    stats[0] += total_loss;
    stats[1] += total_correct;
  }
}

}  // namespace

void softmax(const Launch& launch, int n, int vocab, const float* logits, float* probs) {
  if (n <= 0 || vocab <= 0) return;
  const unsigned blocks = (unsigned(n) + kSoftmaxWarps - 1) / kSoftmaxWarps;
  softmax_kernel<<<blocks, kSoftmaxWarps * kWarp, 0, launch.stream>>>(n, vocab, logits, probs);
  NOCTURNE_CHECK_LAUNCH("softmax", launch);
}

void softmax_cross_entropy(const Launch& launch, int n, int vocab, const float* logits,
                           const std::int32_t* targets, float smoothing, float grad_scale, float* dlogits,
                           double* stats) {
  if (n <= 0 || vocab <= 0) return;
  softmax_cross_entropy_kernel<<<1, kLossWarps * kWarp, 0, launch.stream>>>(n, vocab, logits, targets,
                                                                            smoothing, grad_scale, dlogits, stats);
  NOCTURNE_CHECK_LAUNCH("softmax_cross_entropy", launch);
}

}  // namespace nocturne::kernels
