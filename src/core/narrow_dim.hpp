#pragma once
// Where a high-level size (std::int64_t, the public API's type for sizes and
// counts) becomes an op-level kernel dimension (int, backend.hpp). Checked, so
// a size the kernels cannot index is a ConfigError naming its field, never a
// wrapped value; the one narrowing of a size, called once where the model
// (or a loop over it) meets the ops.

#include <climits>
#include <cstdint>
#include <string>

#include "nocturne/error.hpp"

namespace nocturne::inline v0 {

inline int narrow_dim(std::int64_t value, const char* field) {
  if (value < 0 || value > INT_MAX)
    throw ConfigError(std::string(field) + " must lie in [0, " + std::to_string(INT_MAX) +
                      "] (a kernel dimension), got " + std::to_string(value));
  return static_cast<int>(value);
}

}  // namespace nocturne
