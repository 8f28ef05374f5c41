#pragma once
// Counter-based random numbers: every draw is a pure function of
// (seed, stream, index), so runs are reproducible from their seed, resuming
// needs no generator state, and the GPU draws exactly what the CPU draws.

#include <cstdint>
#include <span>

#include "nocturne/export.hpp"

namespace nocturne::inline v0 {

// A stream keeps one use of a seed apart from the others; the library's own
// (initialisation, dropout, shuffling, splits, sampling) are below 0x10000.
NOCTURNE_API std::uint32_t random_u32(std::uint64_t seed, std::uint32_t stream, std::uint64_t index);
// Uniform in [0, 1) with 53 random bits (two draws: index * 2 and index * 2 + 1).
NOCTURNE_API double random_uniform(std::uint64_t seed, std::uint32_t stream, std::uint64_t index);
// Standard normal (Box-Muller over the uniforms at 2 * index and 2 * index + 1).
NOCTURNE_API double random_normal(std::uint64_t seed, std::uint32_t stream, std::uint64_t index);
// Uniform integer in [0, bound), bound > 0.
NOCTURNE_API std::uint64_t random_below(std::uint64_t bound, std::uint64_t seed, std::uint32_t stream,
                                        std::uint64_t index);
// Fisher-Yates shuffle drawing (seed, stream, first_index + k) for the k-th swap.
NOCTURNE_API void shuffle(std::span<std::int64_t> values, std::uint64_t seed, std::uint32_t stream,
                          std::uint64_t first_index);

}  // namespace nocturne
