#pragma once
// The generation kernel's state buffers, dense scratch, logits and
// probabilities in its arguments pointed at a test's own: host vectors for
// the simulator (test_persistent_generation.cpp) and device buffers for the
// kernel (test/gpu/test_gpu_generate_persistent.cpp).

#include "kernels/lstm_persistent_generate_phases.hpp"

namespace nocturne::inline v0::test {

// Buffers: members h1[2], c1[2], h2[2], c2[2], y1, logits and probs, each with data().
template <typename Buffers>
void point_generation_buffers(kernels::GenerateArgs& a, Buffers& b) {
  for (int k = 0; k < 2; ++k) {
    a.h1[k] = b.h1[k].data();
    a.c1[k] = b.c1[k].data();
    a.h2[k] = b.h2[k].data();
    a.c2[k] = b.c2[k].data();
  }
  a.y1 = b.y1.data();
  a.logits = b.logits.data();
  a.probs = b.probs.data();
}

}  // namespace nocturne::test
