#include "nocturne/rng.hpp"

#include <cmath>
#include <numbers>
#include <utility>

#include "math/philox.hpp"

namespace nocturne::inline v0 {

__extension__ typedef unsigned __int128 uint128;

std::uint32_t random_u32(std::uint64_t seed, std::uint32_t stream, std::uint64_t index) {
  return math::random_u32(seed, stream, index);
}

double random_uniform(std::uint64_t seed, std::uint32_t stream, std::uint64_t index) {
  return math::random_uniform(seed, stream, index);  // the device's sampling draws it too
}

double random_normal(std::uint64_t seed, std::uint32_t stream, std::uint64_t index) {
  // 1 - u lies in (0, 1], so the logarithm is finite.
  const double u1 = 1.0 - random_uniform(seed, stream, 2 * index);
  const double u2 = random_uniform(seed, stream, 2 * index + 1);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
}

std::uint64_t random_below(std::uint64_t bound, std::uint64_t seed, std::uint32_t stream, std::uint64_t index) {
  // 64 random bits scaled by multiply-high: bias below 2^-32 for any bound we use.
  const std::uint64_t bits = (std::uint64_t(math::random_u32(seed, stream, 2 * index)) << 32) |
                             math::random_u32(seed, stream, 2 * index + 1);
  return std::uint64_t((static_cast<uint128>(bits) * bound) >> 64);
}

void shuffle(std::span<std::int64_t> values, std::uint64_t seed, std::uint32_t stream, std::uint64_t first_index) {
  for (std::size_t i = values.size(); i > 1; --i) {
    const std::size_t j = random_below(i, seed, stream, first_index + (values.size() - i));
    std::swap(values[i - 1], values[j]);
  }
}

}  // namespace nocturne
