#pragma once
// The library's random streams (rng.hpp): they keep the uses of one seed apart.

#include <cstdint>

namespace nocturne::inline v0::rng_stream {

inline constexpr std::uint32_t initialization = 0x1000;  // + parameter index
inline constexpr std::uint32_t dropout = 0x2000;         // + dropout site
inline constexpr std::uint32_t shuffle = 0x3000;
inline constexpr std::uint32_t split = 0x4000;
inline constexpr std::uint32_t sampling = 0x5000;        // + output index
inline constexpr std::uint32_t transpose = 0x6000;       // the key of each training piece per epoch

}  // namespace nocturne::rng_stream
