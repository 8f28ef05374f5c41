// choose_token: greedy, temperature, top-k and top-p over one output row.

#include <cmath>
#include <sstream>
#include <vector>

#include "core/narrow_dim.hpp"
#include "math/sampling.hpp"
#include "nocturne/error.hpp"
#include "nocturne/generate.hpp"
#include "nocturne/rng.hpp"
#include "core/rng_streams.hpp"

namespace nocturne::inline v0 {

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

// The steps of math/sampling.hpp, which the GPU's sample_tokens runs too.
std::int32_t choose_token(std::span<const float> probs, const SamplingOptions& options, std::uint64_t seed,
                          std::uint32_t stream, std::uint64_t index) {
  if (probs.empty()) throw ConfigError("choose_token: empty probability row");
  const int vocab = int(probs.size());
  const std::int32_t best = math::first_maximum(probs.data(), vocab);
  if (best == math::kNoToken) throw ConfigError("choose_token: the row has no positive finite probability");
  if (options.greedy) return best;
  options.validate();
  std::vector<double> weight(probs.size());
  std::vector<std::int32_t> order(probs.size());
  const math::SamplingRule rule{false, options.temperature, narrow_dim(options.top_k, "top-k"), options.top_p};
  return math::choose_token_row(probs.data(), vocab, rule, seed, stream, index, weight.data(), order.data());
}

}  // namespace nocturne
