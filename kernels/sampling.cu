// Token sampling on the device (SampleTokens in nocturne/fused_ops.hpp): the
// GPU chooses the same token as choose_token on the host for the same
// probabilities, options, seed, stream and note, so generation on the GPU
// brings back one token per stream and note instead of a row of
// probabilities, and the next note's inputs never leave the device.
//
// Design: one block of 128 threads per stream runs the steps of
// src/math/sampling.hpp, the host's own functions: the first maximum by a
// strided scan and an xor-butterfly in each warp, then the warps' results in
// warp order (math::first_maximum_before makes any such reduction give the
// serial scan's answer); the weights (double) in parallel into shared memory;
// each symbol's ranking position counted in parallel (math::ranking_position:
// the stable sort's order, a permutation); then thread 0 adds the masses in
// ranking order (top-k, top-p, the pick along the ranking), which is exactly
// the host's sequence of double additions. The uniform is
// math::random_uniform(seed, first_stream + s, *note). A second one-thread
// kernel then advances the note counter (after every block has read it).
// A row without a positive finite probability gives math::kNoToken in chosen
// and history and token 0 in tokens.
//
// History: v1 (this one).

#include <string>

#include "fused_kernels.hpp"
#include "fused_tiling.hpp"
#include "math/sampling.hpp"
#include "nocturne/error.hpp"

namespace nocturne::inline v0::kernels {
namespace {

constexpr unsigned kFull = 0xffffffffu;
constexpr int kSampleWarps = kSampleThreads / kWarp;

struct Choice {
  float value;
  std::int32_t index;  // math::kNoToken: none
};

// The better of two candidates for the first maximum.
__device__ __forceinline__ Choice better(Choice a, Choice b) {
  if (b.index == math::kNoToken) return a;
  if (a.index == math::kNoToken) return b;
  return math::first_maximum_before(b.value, b.index, a.value, a.index) ? b : a;
}

struct SampleArgs {
  int streams, vocab;
  const float* probs;
  math::SamplingRule rule;
  std::uint64_t seed;
  std::uint32_t first_stream;
  const std::uint64_t* note;
  std::int32_t* chosen;
  std::int32_t* tokens;
  int slots;
  std::int32_t* history;
  std::int64_t history_notes;
};

// grid: one block per stream; dynamic shared memory: sample_shared_bytes(vocab).
__global__ void __launch_bounds__(kSampleThreads) sample_tokens_kernel(SampleArgs a) {
  extern __shared__ __align__(16) unsigned char shared[];
  const int vocab = a.vocab;
  double* weight = reinterpret_cast<double*>(shared);
  std::int32_t* order = reinterpret_cast<std::int32_t*>(shared + round_up(std::size_t(vocab) * 8, 16));
  Choice* warp_best =
      reinterpret_cast<Choice*>(shared + round_up(std::size_t(vocab) * 8, 16) + round_up(std::size_t(vocab) * 4, 16));
  __shared__ std::int32_t best_index;

  const int s = int(blockIdx.x);
  const int thread = int(threadIdx.x), lane = thread % kWarp, warp = thread / kWarp;
  const float* p = a.probs + std::size_t(s) * std::size_t(vocab);
  const std::uint64_t note = *a.note;

  // Step 1: the first maximum among the candidates.
  Choice mine{0.0f, math::kNoToken};
  for (int i = thread; i < vocab; i += kSampleThreads)
    if (math::sampling_candidate(p[i])) mine = better(mine, Choice{p[i], std::int32_t(i)});
  for (int offset = kWarp / 2; offset > 0; offset /= 2) {
    const Choice other{__shfl_xor_sync(kFull, mine.value, offset), __shfl_xor_sync(kFull, mine.index, offset)};
    mine = better(mine, other);
  }
  if (lane == 0) warp_best[warp] = mine;
  __syncthreads();
  if (thread == 0) {
    Choice best = warp_best[0];
    for (int w = 1; w < kSampleWarps; ++w) best = better(best, warp_best[w]);
    best_index = best.index;
  }
  __syncthreads();
  const std::int32_t best = best_index;

  std::int32_t result = best;
  if (best != math::kNoToken && !a.rule.greedy) {
    // Steps 2 and 3: weights, then each symbol's place in the ranking.
    const double log_max = math::log_of(double(p[best]));
    for (int i = thread; i < vocab; i += kSampleThreads)
      weight[i] = math::sampling_weight(p[i], log_max, a.rule.temperature);
    __syncthreads();
    for (int i = thread; i < vocab; i += kSampleThreads)
      if (weight[i] > 0.0) order[math::ranking_position(weight, vocab, std::int32_t(i))] = std::int32_t(i);
    __syncthreads();
    // Steps 4 to 6 in ranking order, as the host adds them.
    if (thread == 0) {
      int ranked = 0;
      for (int i = 0; i < vocab; ++i) ranked += weight[i] > 0.0 ? 1 : 0;
      const int kept = math::top_k_count(ranked, a.rule.top_k);
      double total = math::ranked_mass(weight, order, kept);
      const int cut = math::top_p_cut(weight, order, kept, a.rule.top_p, total);
      result = math::pick_ranked(weight, order, cut, total,
                                 math::random_uniform(a.seed, a.first_stream + std::uint32_t(s), note));
    }
  }
  if (thread == 0) {
    a.chosen[s] = result;
    if (a.tokens)
      for (int k = 0; k < a.slots; ++k)
        a.tokens[std::size_t(k) * std::size_t(a.streams) + std::size_t(s)] = result >= 0 ? result : 0;
    if (a.history && note < std::uint64_t(a.history_notes))
      a.history[note * std::uint64_t(a.streams) + std::uint64_t(s)] = result;
  }
}

__global__ void advance_note_kernel(std::uint64_t* note) { *note += 1; }

}  // namespace

void sample_tokens(const Launch& launch, const SampleTokens<float>& request) {
  if (request.streams <= 0) return;
  if (request.vocab <= 0 || request.vocab > sample_max_vocab())
    throw ShapeError("sample_tokens: vocabulary of " + std::to_string(request.vocab) +
                     " symbols (the device takes 1 to " + std::to_string(sample_max_vocab()) + ")");
  SampleArgs a;
  a.streams = request.streams;
  a.vocab = request.vocab;
  a.probs = request.probs;
  a.rule = math::SamplingRule{request.greedy, request.temperature, request.top_k, request.top_p};
  a.seed = request.seed;
  a.first_stream = request.first_stream;
  a.note = request.note;
  a.chosen = request.chosen;
  a.tokens = request.tokens;
  a.slots = request.slots;
  a.history = request.history;
  a.history_notes = request.history_notes;
  const std::size_t shared = sample_shared_bytes(request.vocab);
  sample_tokens_kernel<<<unsigned(request.streams), kSampleThreads, shared, launch.stream>>>(a);
  NOCTURNE_CHECK_LAUNCH("sample_tokens", launch);
  advance_note_kernel<<<1, 1, 0, launch.stream>>>(request.note);
  NOCTURNE_CHECK_LAUNCH("sample_tokens (note counter)", launch);
}

}  // namespace nocturne::kernels
