// Phase names of step-program ops (src/cuda/phase_name.hpp).

#include <catch2/catch.hpp>

#include "cuda/phase_name.hpp"

using nocturne::cuda::phase_of;

TEST_CASE("an op's phase is its name without the step suffix") {
  CHECK(phase_of("lstm1 forward t=12") == "lstm1 forward");
  CHECK(phase_of("lstm2 dx t=0") == "lstm2 dx");
  CHECK(phase_of("head") == "head");
  CHECK(phase_of("adamax") == "adamax");
  CHECK(phase_of("odd t=") == "odd t=");         // no step number
  CHECK(phase_of("odd t=3x") == "odd t=3x");     // not a step number
  CHECK(phase_of("lstm1 t=3 extra") == "lstm1 t=3 extra");
}
