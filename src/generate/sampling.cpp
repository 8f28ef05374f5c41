// choose_token: greedy, temperature, top-k and top-p over one output row.

#include <algorithm>
#include <cmath>
#include <numeric>
#include <sstream>

#include "nocturne/error.hpp"
#include "nocturne/generate.hpp"
#include "nocturne/rng.hpp"

namespace nocturne {

void SamplingOptions::validate() const {
  if (greedy) return;
  if (!(temperature > 0) || !std::isfinite(temperature))
    throw ConfigError("temperature must be a positive number, got " + std::to_string(temperature));
  if (top_k < 0) throw ConfigError("top-k must be 0 (off) or positive, got " + std::to_string(top_k));
  if (!(top_p > 0 && top_p <= 1)) throw ConfigError("top-p must lie in (0, 1], got " + std::to_string(top_p));
}

std::string SamplingOptions::describe() const {
  if (greedy) return "greedy";
  std::ostringstream s;
  s << "sampling (temperature " << temperature;
  if (top_k > 0) s << ", top-k " << top_k;
  if (top_p < 1) s << ", top-p " << top_p;
  s << ")";
  return s.str();
}

std::uint32_t sampling_stream(std::uint64_t output) {
  return rng_stream::sampling + static_cast<std::uint32_t>(output);
}

std::int32_t choose_token(std::span<const float> probs, const SamplingOptions& options, std::uint64_t seed,
                          std::uint32_t stream, std::uint64_t index) {
  if (probs.empty()) throw ConfigError("choose_token: empty probability row");
  // The first maximum among the positive finite weights.
  std::int64_t best = -1;
  for (std::size_t i = 0; i < probs.size(); ++i) {
    const float p = probs[i];
    if (std::isfinite(p) && p > 0 && (best < 0 || p > probs[std::size_t(best)])) best = std::int64_t(i);
  }
  if (best < 0) throw ConfigError("choose_token: the row has no positive finite probability");
  if (options.greedy) return std::int32_t(best);
  options.validate();

  const double log_max = std::log(double(probs[std::size_t(best)]));
  std::vector<double> weight(probs.size(), 0.0);
  std::vector<std::int32_t> ranking;
  ranking.reserve(probs.size());
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

}  // namespace nocturne
