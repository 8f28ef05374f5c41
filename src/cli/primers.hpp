#pragma once
// Primers for generation (generate, play --model): where the first window
// of every output comes from.

#include <cstdint>
#include <string>
#include <vector>

#include "cli/outputs.hpp"

namespace nocturne::cli {

struct PrimerRequest {
  std::string primer = "heldout";  // heldout, a .mid file, or tokens:"C4 E4 0.4.7"
  std::string data;                // the held-out pool's folder (default: the run's)
  int count = 1;                   // outputs
  std::uint64_t seed = 1;          // which held-out windows
};

struct Primers {
  std::vector<std::vector<std::int32_t>> indices;  // one per output
  std::string source;                              // for people and the JSON
};

// Throws ConfigError / FileError naming the primer at fault.
Primers make_primers(const PrimerRequest& request, const LoadedModel& loaded);

}  // namespace nocturne::cli
