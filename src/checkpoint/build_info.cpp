#include "checkpoint/build_info.hpp"

#include "nocturne/cuda.hpp"

namespace nocturne::inline v0::detail {

// A feature's definition as the build gave it: 1 = built in, 0 = left out,
// absent = the build did not say.
#define NOCTURNE_FEATURE_STATE(macro) ((macro) ? "yes" : "no")

std::vector<BuildFeature> build_features() {
  const CudaStatus cuda = cuda_status();
  std::vector<BuildFeature> features;
  features.push_back({"CUDA", cuda.built ? "yes" : "no"});
  features.push_back({"cuDNN", cuda.cudnn_built ? "yes" : "no"});
#ifdef NOCTURNE_WITH_FLUIDSYNTH
  features.push_back({"FluidSynth", NOCTURNE_FEATURE_STATE(NOCTURNE_WITH_FLUIDSYNTH)});
#else
  features.push_back({"FluidSynth", "unknown"});
#endif
#ifdef NOCTURNE_WITH_RTMIDI
  features.push_back({"RtMidi", NOCTURNE_FEATURE_STATE(NOCTURNE_WITH_RTMIDI)});
#else
  features.push_back({"RtMidi", "unknown"});
#endif
  return features;
}

#undef NOCTURNE_FEATURE_STATE

}  // namespace nocturne::detail
