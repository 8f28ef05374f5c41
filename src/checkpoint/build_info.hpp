#pragma once
// What the library was built with, as its own compile definitions say (the
// CLI cannot see the library's private definitions, so it asks here).

#include <string>
#include <vector>

namespace nocturne::inline v0::detail {

struct BuildFeature {
  std::string name;
  std::string state;  // "yes", "no", or "unknown" when the build did not say
};

// CUDA, cuDNN, FluidSynth and RtMidi, in that order.
std::vector<BuildFeature> build_features();

}  // namespace nocturne::detail
