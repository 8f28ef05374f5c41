#pragma once
// The generation kernel's arguments (GenerateArgs) for the backend op's
// request (GenerateNotes, nocturne/fused_ops.hpp), host code only: the CUDA
// backend fills its launch with it and test/kernels_host's simulated backend
// its simulator run, so both read the request the same way.

#include "lstm_persistent_generate_phases.hpp"
#include "nocturne/fused_ops.hpp"
#include "persistent_generation_plan.hpp"

namespace nocturne::inline v0::kernels {

inline GenerateArgs generate_args(const GenerateNotes<float>& q, const GenerationPlan& plan) {
  GenerateArgs a;
  a.plan = plan;
  a.w1 = q.w1;
  a.r1 = q.r1;
  a.b1 = q.b1;
  a.w2 = q.w2;
  a.r2 = q.r2;
  a.b2 = q.b2;
  a.dw1 = q.dense1_w;
  a.db1 = q.dense1_b;
  a.dw2 = q.dense2_w;
  a.db2 = q.dense2_b;
  for (int k = 0; k < 2; ++k) {
    a.h1[k] = q.h1[k];
    a.c1[k] = q.c1[k];
    a.h2[k] = q.h2[k];
    a.c2[k] = q.c2[k];
  }
  a.y1 = q.y1;
  a.logits = q.logits;
  a.probs = q.probs;
  a.current = q.current;
  a.rule = math::SamplingRule{q.greedy, q.temperature, q.top_k, q.top_p};
  a.seed = q.seed;
  a.first_stream = q.first_stream;
  a.first_note = q.first_note;
  a.notes = q.notes;
  a.push_last = q.push_last;
  a.history = q.history;
  a.history_notes = q.history_notes;
  return a;
}

}  // namespace nocturne::kernels
