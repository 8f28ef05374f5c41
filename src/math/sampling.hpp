#pragma once
// Choosing a token from one row of probabilities (choose_token in
// nocturne/generate.hpp), as steps shared by the host and the device: the
// CPU's choose_token and sample_tokens run choose_token_row below, the GPU's
// sample_tokens (kernels/sampling.cu) runs the same steps with the ranking
// and the first maximum computed in parallel. Both give the same token for the
// same row, options, seed, stream and index.
//
// The algorithm, for a row p[0..V) of non-negative weights:
//   1. candidates are the positive finite p_i; best = the first maximum among
//      them (first_maximum); none: kNoToken. Greedy returns best.
//   2. weight_i = exp((ln p_i - ln p_best) / temperature) in double for the
//      candidates, 0 for the rest (sampling_weight): p_i^(1/T) renormalised
//      to the maximum, so a small T approaches greedy without overflow.
//   3. the symbols with weight_i > 0 are ranked by weight, descending, ties by
//      index (ranks_before): a stable sort of the indices.
//   4. top-k keeps the first k of the ranking (top_k_count).
//   5. top-p keeps the shortest prefix whose mass reaches
//      top_p * total * (1 - 1e-12) (top_p_cut), masses added in ranking order.
//   6. u = random_uniform(seed, stream, index) * kept mass; the first ranked
//      symbol whose cumulative mass exceeds u is chosen, the last kept one
//      if rounding leaves u at the end (pick_ranked).
// Every sum runs in ranking order in double, so the host and the device add
// the same numbers in the same order. The only difference left is exp and log
// in double (glibc's and CUDA's are within 1 ulp, not always the same ulp):
// the ranking is the same unless two weights lie within an ulp of each other
// (distinct float probabilities give weights at least 6e-8 / T apart), and the
// pick differs only when u falls within a few ulp of a cumulative boundary.

#include <algorithm>
#include <cstdint>

#include "math/host_device.hpp"
#include "math/philox.hpp"

namespace nocturne::inline v0::math {

// What choose_token_row returns for a row without a positive finite weight
// (choose_token throws ConfigError there).
inline constexpr std::int32_t kNoToken = -1;

// SamplingOptions without its host-only parts; validated by the caller
// (SamplingOptions::validate) before it is used for sampling.
struct SamplingRule {
  bool greedy = true;
  double temperature = 1.0;  // > 0
  int top_k = 0;             // 0: all
  double top_p = 1.0;        // in (0, 1]
};

// The largest finite float: p <= it is false for infinities and NaN.
inline constexpr float kLargestFloat = 3.40282347e+38f;

// Step 1: a symbol can be chosen when its weight is positive and finite.
NOCTURNE_HD bool sampling_candidate(float p) { return p > 0.0f && p <= kLargestFloat; }

// Which of two candidates (value, index) the first-maximum search keeps:
// the larger value, the smaller index on a tie (a parallel reduction that
// combines with this gives the serial scan's answer).
NOCTURNE_HD bool first_maximum_before(float value_a, std::int32_t a, float value_b, std::int32_t b) {
  return value_a > value_b || (value_a == value_b && a < b);
}

// Step 1: the index of the first maximum among the candidates of p[0..vocab),
// or kNoToken.
NOCTURNE_HD std::int32_t first_maximum(const float* p, int vocab) {
  std::int32_t best = kNoToken;
  for (int i = 0; i < vocab; ++i)
    if (sampling_candidate(p[i]) && (best == kNoToken || p[i] > p[best])) best = std::int32_t(i);
  return best;
}

// Step 2: log_max = log_of(double(p[best])).
NOCTURNE_HD double sampling_weight(float p, double log_max, double temperature) {
  if (!sampling_candidate(p)) return 0.0;
  return exp_of((log_of(double(p)) - log_max) / temperature);
}

// Step 3: whether symbol a comes before symbol b in the ranking.
NOCTURNE_HD bool ranks_before(double weight_a, std::int32_t a, double weight_b, std::int32_t b) {
  return weight_a > weight_b || (weight_a == weight_b && a < b);
}

// Step 3, one symbol at a time (the device's threads): the position of symbol
// i (weight[i] > 0) in the ranking = the symbols with positive weight that
// rank before it.
NOCTURNE_HD int ranking_position(const double* weight, int vocab, std::int32_t i) {
  int position = 0;
  for (int j = 0; j < vocab; ++j)
    if (weight[j] > 0.0 && ranks_before(weight[j], std::int32_t(j), weight[i], i)) ++position;
  return position;
}

// Step 4: how many ranked symbols top-k keeps of `ranked` (>= 1).
NOCTURNE_HD int top_k_count(int ranked, int top_k) { return top_k > 0 && ranked > top_k ? top_k : ranked; }

// The mass of the first `count` ranked symbols, added in ranking order.
NOCTURNE_HD double ranked_mass(const double* weight, const std::int32_t* order, int count) {
  double mass = 0.0;
  for (int j = 0; j < count; ++j) mass += weight[order[j]];
  return mass;
}

// Step 5: how many of the first `count` ranked symbols top-p keeps; `total`
// is their mass (ranked_mass) on entry and the kept mass on exit (the same
// additions in the same order: the sum a fresh ranked_mass would give).
NOCTURNE_HD int top_p_cut(const double* weight, const std::int32_t* order, int count, double top_p, double& total) {
  if (!(top_p < 1.0)) return count;
  const double goal = top_p * total * (1 - 1e-12);
  double mass = 0.0;
  for (int j = 0; j < count; ++j) {
    mass += weight[order[j]];
    if (mass >= goal) {
      total = mass;
      return j + 1;
    }
  }
  total = mass;
  return count;
}

// Step 6: the chosen symbol among the first `count` ranked ones, u in [0, 1).
NOCTURNE_HD std::int32_t pick_ranked(const double* weight, const std::int32_t* order, int count, double total,
                                     double u) {
  const double target = u * total;
  double mass = 0.0;
  for (int j = 0; j < count; ++j) {
    mass += weight[order[j]];
    if (target < mass) return order[j];
  }
  return order[count - 1];
}

// Steps 2 and 3 serially: fills weight[0..vocab) and order[0..ranked) and
// returns `ranked`, the number of symbols with positive weight (>= 1, since
// best's weight is 1). On the host a stable sort; on the device the positions
// one by one (kernels/sampling.cu computes them in parallel).
NOCTURNE_HD int rank_symbols(const float* p, int vocab, std::int32_t best, double temperature, double* weight,
                             std::int32_t* order) {
  const double log_max = log_of(double(p[best]));
  int ranked = 0;
  for (int i = 0; i < vocab; ++i) {
    weight[i] = sampling_weight(p[i], log_max, temperature);
    if (weight[i] > 0.0) order[ranked++] = std::int32_t(i);
  }
#if defined(__CUDA_ARCH__)
  // order[] holds the same symbols by index: place each at its position.
  for (int i = 0; i < vocab; ++i)
    if (weight[i] > 0.0) order[ranking_position(weight, vocab, std::int32_t(i))] = std::int32_t(i);
#else
  std::stable_sort(order, order + ranked, [weight](std::int32_t a, std::int32_t b) { return weight[a] > weight[b]; });
#endif
  return ranked;
}

// The whole choice for one row: choose_token's algorithm. weight [vocab] and
// order [vocab] are scratch. Returns kNoToken for a row without a candidate
// (vocab may be 0); `rule` must be valid when not greedy.
NOCTURNE_HD std::int32_t choose_token_row(const float* p, int vocab, const SamplingRule& rule, std::uint64_t seed,
                                          std::uint32_t stream, std::uint64_t index, double* weight,
                                          std::int32_t* order) {
  const std::int32_t best = first_maximum(p, vocab);
  if (best == kNoToken || rule.greedy) return best;
  const int ranked = rank_symbols(p, vocab, best, rule.temperature, weight, order);
  const int kept = top_k_count(ranked, rule.top_k);
  double total = ranked_mass(weight, order, kept);
  const int cut = top_p_cut(weight, order, kept, rule.top_p, total);
  return pick_ranked(weight, order, cut, total, random_uniform(seed, stream, index));
}

}  // namespace nocturne::math
