#pragma once
// Internals of the corpus pipeline (corpus.hpp), for its sources and tests.

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace nocturne::inline v0 {

// The deterministic generator behind the splits (splitmix64).
class SplitMix64 {
 public:
  explicit SplitMix64(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next();
  std::uint64_t below(std::uint64_t bound);  // uniform in [0, bound), bound > 0

 private:
  std::uint64_t state_;
};

// The recipe's own loop (DatasetOptions::recipe_partial_filter), which removes
// from the list while iterating over it: after each removal the next element
// is skipped, so only part of the rare symbols go.
std::vector<std::string> filter_rare_recipe_partial(std::span<const std::string> tokens, std::int64_t min_count);

}  // namespace nocturne
