// math/sampling.hpp (choose_token's steps for the host and the device) and
// math::random_uniform, checked on the host: the pipeline equals choose_token
// as it was written before the split (restated below as the specification)
// and the library's choose_token, for many random rows and options; the
// device's parallel pieces (ranking by position, first maximum by reduction)
// equal the serial steps.

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "math/philox.hpp"
#include "math/sampling.hpp"
#include "nocturne/error.hpp"
#include "nocturne/generate.hpp"
#include "nocturne/rng.hpp"
#include "core/rng_streams.hpp"

namespace {

using namespace nocturne;

// choose_token as src/generate/sampling.cpp had it before math/sampling.hpp
// (the sampling branch; -1 where it throws for want of a candidate).
std::int32_t specification(const std::vector<float>& probs, const SamplingOptions& options, std::uint64_t seed,
                           std::uint32_t stream, std::uint64_t index) {
  std::int64_t best = -1;
  for (std::size_t i = 0; i < probs.size(); ++i) {
    const float p = probs[i];
    if (std::isfinite(p) && p > 0 && (best < 0 || p > probs[std::size_t(best)])) best = std::int64_t(i);
  }
  if (best < 0) return -1;
  if (options.greedy) return std::int32_t(best);
  const double log_max = std::log(double(probs[std::size_t(best)]));
  std::vector<double> weight(probs.size(), 0.0);
  std::vector<std::int32_t> ranking;
  for (std::size_t i = 0; i < probs.size(); ++i) {
    const float p = probs[i];
    if (!(std::isfinite(p) && p > 0)) continue;
    weight[i] = std::exp((std::log(double(p)) - log_max) / options.temperature);
    if (weight[i] > 0) ranking.push_back(std::int32_t(i));
  }
  std::stable_sort(ranking.begin(), ranking.end(),
                   [&](std::int32_t a, std::int32_t b) { return weight[std::size_t(a)] > weight[std::size_t(b)]; });
  if (options.top_k > 0 && ranking.size() > std::size_t(options.top_k)) ranking.resize(std::size_t(options.top_k));
  double total = 0;
  for (std::int32_t i : ranking) total += weight[std::size_t(i)];
  if (options.top_p < 1) {
    const double goal = options.top_p * total * (1 - 1e-12);
    double mass = 0;
    std::size_t keep = ranking.size();
    for (std::size_t j = 0; j < ranking.size(); ++j) {
      mass += weight[std::size_t(ranking[j])];
      if (mass >= goal) {
        keep = j + 1;
        break;
      }
    }
    ranking.resize(keep);
    total = 0;
    for (std::int32_t i : ranking) total += weight[std::size_t(i)];
  }
  const double u = random_uniform(seed, stream, index) * total;
  double mass = 0;
  for (std::int32_t i : ranking) {
    mass += weight[std::size_t(i)];
    if (u < mass) return i;
  }
  return ranking.back();
}

math::SamplingRule rule_of(const SamplingOptions& o) {
  return {o.greedy, o.temperature, static_cast<int>(o.top_k), o.top_p};  // the tests' k are small
}

// Rows of several kinds: smooth, peaked, with ties, with zeros and with
// non-finite or negative entries, tiny values that underflow at low temperature.
std::vector<float> random_row(int vocab, std::uint64_t seed) {
  std::vector<float> row(static_cast<std::size_t>(vocab));
  const int kind = int(seed % 6);
  for (int i = 0; i < vocab; ++i) {
    const double u = random_uniform(seed, 1, std::uint64_t(i));
    float v = float(u);
    switch (kind) {
      case 0:
        break;
      case 1:
        v = float(std::exp(-30.0 * u));
        break;
      case 2:
        v = float(int(u * 4)) / 4.0f;
        break;  // many exact ties, some zeros
      case 3:
        v = u < 0.5 ? 0.0f : float(u);
        break;
      case 4:
        if (u < 0.05)
          v = std::numeric_limits<float>::quiet_NaN();
        else if (u < 0.1)
          v = std::numeric_limits<float>::infinity();
        else if (u < 0.15)
          v = -float(u);
        break;
      case 5:
        v = float(std::pow(u, 40.0)) * 1e-30f;
        break;
    }
    row[std::size_t(i)] = v;
  }
  return row;
}

TEST_CASE("math::random_uniform equals nocturne::random_uniform bit for bit", "[kernels_host][sampling]") {
  for (std::uint64_t seed :
       {std::uint64_t(0), std::uint64_t(1), std::uint64_t(0x123456789abcdefULL), ~std::uint64_t(0)})
    for (std::uint32_t stream : {0u, 7u, 0x5000u, 0xffffffffu})
      for (std::uint64_t index : {std::uint64_t(0), std::uint64_t(1), std::uint64_t(12345), std::uint64_t(1) << 31,
                                  (std::uint64_t(1) << 32) + 3, std::uint64_t(1) << 62}) {
        const double a = math::random_uniform(seed, stream, index), b = random_uniform(seed, stream, index);
        REQUIRE(std::memcmp(&a, &b, sizeof a) == 0);
      }
  for (std::uint64_t i = 0; i < 20000; ++i)
    REQUIRE(math::random_uniform(99, 0x5003, i) == random_uniform(99, 0x5003, i));
}

TEST_CASE("the sampling pipeline picks choose_token's token for random rows and options", "[kernels_host][sampling]") {
  const double temperatures[] = {0.02, 0.5, 1.0, 1.7, 25.0};
  const int top_ks[] = {0, 1, 3, 200};
  const double top_ps[] = {1.0, 0.95, 0.5, 1e-6};
  int rows = 0, sampled = 0, distinct_choices = 0;
  for (int vocab : {1, 2, 7, 127, 300}) {
    std::vector<double> weight(static_cast<std::size_t>(vocab));
    std::vector<std::int32_t> order(static_cast<std::size_t>(vocab));
    for (std::uint64_t seed = 1; seed <= 24; ++seed) {
      const std::vector<float> row = random_row(vocab, seed * 1000 + std::uint64_t(vocab));
      ++rows;
      SamplingOptions greedy;
      const std::int32_t want_greedy = specification(row, greedy, seed, 0, 0);
      REQUIRE(math::choose_token_row(row.data(), vocab, rule_of(greedy), seed, 0, 0, weight.data(), order.data()) ==
              want_greedy);
      if (want_greedy < 0) {
        CHECK_THROWS_AS(choose_token(row, greedy, seed, 0, 0), ConfigError);
        continue;
      }
      REQUIRE(choose_token(row, greedy, seed, 0, 0) == want_greedy);
      for (double temperature : temperatures)
        for (int top_k : top_ks)
          for (double top_p : top_ps) {
            SamplingOptions o;
            o.greedy = false;
            o.temperature = temperature;
            o.top_k = top_k;
            o.top_p = top_p;
            for (std::uint64_t note = 0; note < 4; ++note) {
              const std::uint32_t stream = rng_stream::sampling + std::uint32_t(seed % 3);
              const std::int32_t want = specification(row, o, seed, stream, note);
              const std::int32_t got = math::choose_token_row(row.data(), vocab, rule_of(o), seed, stream, note,
                                                              weight.data(), order.data());
              INFO("vocab " << vocab << " row seed " << seed << " T " << temperature << " top-k " << top_k << " top-p "
                            << top_p << " note " << note);
              REQUIRE(got == want);
              REQUIRE(choose_token(row, o, seed, stream, note) == want);
              ++sampled;
              if (want != want_greedy) ++distinct_choices;
            }
          }
    }
  }
  // The rows and options do exercise sampling (not only the maximum).
  CHECK(rows == 5 * 24);
  CHECK(sampled > 10000);
  CHECK(distinct_choices > sampled / 10);
}

TEST_CASE("the device's parallel ranking equals the stable sort", "[kernels_host][sampling]") {
  for (int vocab : {1, 5, 127, 513}) {
    for (std::uint64_t seed = 1; seed <= 12; ++seed) {
      const std::vector<float> row = random_row(vocab, seed * 7 + std::uint64_t(vocab));
      const std::int32_t best = math::first_maximum(row.data(), vocab);
      if (best == math::kNoToken) continue;
      std::vector<double> weight(static_cast<std::size_t>(vocab));
      std::vector<std::int32_t> sorted(static_cast<std::size_t>(vocab), -7);
      const int ranked = math::rank_symbols(row.data(), vocab, best, 0.8, weight.data(), sorted.data());
      REQUIRE(ranked >= 1);
      // Each symbol at its position, as the kernel's threads place them.
      std::vector<std::int32_t> placed(std::size_t(ranked), -1);
      for (int i = 0; i < vocab; ++i) {
        if (!(weight[std::size_t(i)] > 0)) continue;
        const int position = math::ranking_position(weight.data(), vocab, std::int32_t(i));
        REQUIRE(position >= 0);
        REQUIRE(position < ranked);
        REQUIRE(placed[std::size_t(position)] == -1);  // a permutation
        placed[std::size_t(position)] = std::int32_t(i);
      }
      for (int j = 0; j < ranked; ++j) REQUIRE(placed[std::size_t(j)] == sorted[std::size_t(j)]);
    }
  }
}

TEST_CASE("the first maximum by a butterfly reduction equals the serial scan", "[kernels_host][sampling]") {
  // The kernel: each of 32 lanes scans a strided slice, then xor-butterfly
  // combines (value, index) pairs with first_maximum_before.
  constexpr int lanes = 32;
  for (int vocab : {1, 31, 32, 33, 127, 1000}) {
    for (std::uint64_t seed = 1; seed <= 30; ++seed) {
      const std::vector<float> row = random_row(vocab, seed * 13 + std::uint64_t(vocab));
      float value[lanes];
      std::int32_t index[lanes];
      for (int lane = 0; lane < lanes; ++lane) {
        value[lane] = 0.0f;
        index[lane] = math::kNoToken;
        for (int i = lane; i < vocab; i += lanes) {
          const float p = row[std::size_t(i)];
          if (math::sampling_candidate(p) &&
              (index[lane] == math::kNoToken || math::first_maximum_before(p, i, value[lane], index[lane]))) {
            value[lane] = p;
            index[lane] = i;
          }
        }
      }
      for (int offset = lanes / 2; offset > 0; offset /= 2) {
        float v2[lanes];
        std::int32_t i2[lanes];
        for (int lane = 0; lane < lanes; ++lane) {
          const int other = lane ^ offset;
          v2[lane] = value[lane];
          i2[lane] = index[lane];
          if (index[other] != math::kNoToken &&
              (index[lane] == math::kNoToken ||
               math::first_maximum_before(value[other], index[other], value[lane], index[lane]))) {
            v2[lane] = value[other];
            i2[lane] = index[other];
          }
        }
        std::copy(v2, v2 + lanes, value);
        std::copy(i2, i2 + lanes, index);
      }
      for (int lane = 0; lane < lanes; ++lane) REQUIRE(index[lane] == math::first_maximum(row.data(), vocab));
    }
  }
}

}  // namespace
