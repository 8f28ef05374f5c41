#pragma once
// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3",
// SC 2011): a counter-based generator. Every draw is a pure function of
// (seed, stream, index), so the CPU and the GPU draw the same dropout masks and
// a run is reproducible from its seed whatever the order of evaluation.

#include <cstdint>

#include "math/host_device.hpp"

namespace nocturne::inline v0::math {

struct Philox4 {
  std::uint32_t v[4];
};

NOCTURNE_HD std::uint32_t mulhilo32(std::uint32_t a, std::uint32_t b, std::uint32_t& hi) {
  const std::uint64_t product = std::uint64_t(a) * std::uint64_t(b);
  hi = std::uint32_t(product >> 32);
  return std::uint32_t(product);
}

NOCTURNE_HD Philox4 philox4x32_10(Philox4 counter, std::uint32_t key0, std::uint32_t key1) {
  constexpr std::uint32_t kMul0 = 0xD2511F53u, kMul1 = 0xCD9E8D57u;
  constexpr std::uint32_t kWeyl0 = 0x9E3779B9u, kWeyl1 = 0xBB67AE85u;
  for (int round = 0; round < 10; ++round) {
    std::uint32_t hi0, hi1;
    const std::uint32_t lo0 = mulhilo32(kMul0, counter.v[0], hi0);
    const std::uint32_t lo1 = mulhilo32(kMul1, counter.v[2], hi1);
    counter = Philox4{{hi1 ^ counter.v[1] ^ key0, lo1, hi0 ^ counter.v[3] ^ key1, lo0}};
    key0 += kWeyl0;
    key1 += kWeyl1;
  }
  return counter;
}

// The first 32-bit word of the block at (seed, stream, index).
NOCTURNE_HD std::uint32_t random_u32(std::uint64_t seed, std::uint32_t stream, std::uint64_t index) {
  const Philox4 counter{{std::uint32_t(index), std::uint32_t(index >> 32), stream, 0u}};
  return philox4x32_10(counter, std::uint32_t(seed), std::uint32_t(seed >> 32)).v[0];
}

// Uniform in [0, 1) with 24 random bits: exactly representable in float, so
// float and double comparisons against p agree on both backends.
NOCTURNE_HD float uniform_from_u32(std::uint32_t bits) { return float(bits >> 8) * (1.0f / 16777216.0f); }

// Uniform in [0, 1) with 53 random bits from the words at 2 index and
// 2 index + 1 (nocturne::random_uniform, for the device too: sampling).
NOCTURNE_HD double random_uniform(std::uint64_t seed, std::uint32_t stream, std::uint64_t index) {
  const std::uint64_t hi = random_u32(seed, stream, 2 * index) >> 5;      // 27 bits
  const std::uint64_t lo = random_u32(seed, stream, 2 * index + 1) >> 6;  // 26 bits
  return double((hi << 26) | lo) * 0x1.0p-53;
}

// Inverted dropout keeps an element when its uniform draw is >= p.
NOCTURNE_HD bool dropout_keep(std::uint64_t seed, std::uint32_t stream, std::uint64_t index, float p) {
  return uniform_from_u32(random_u32(seed, stream, index)) >= p;
}

}  // namespace nocturne::math
