#pragma once
// Launch wrapper of the persistent generation kernel
// (lstm_persistent_generate.cu). Same rules as kernels.hpp: plain C++,
// device pointers, launched on launch.stream, checked, never waiting, never
// allocating. The partition is persistent_generation_plan.hpp, the block
// loop's phases lstm_persistent_generate_phases.hpp.

#include "cuda/cuda_check.hpp"
#include "lstm_persistent_generate_phases.hpp"
#include "persistent_generation_plan.hpp"

namespace nocturne::inline v0::kernels {

using cuda::Launch;

// The plan for a launch on the current device: generation_plan, then the
// kernel's opt-in shared memory, the occupancy API (one block per SM at
// least) and cooperative launch support; refusal not_resident where either
// fails. Callers fall back to the fused path's device loop on any refusal.
GenerationPlan generation_device_plan(const GenerationShape& shape);

// args.notes notes of every stream in one cooperative launch of the plan's
// grid (args.plan must fit: generation_device_plan).
void lstm_persistent_generate(const Launch& launch, const GenerateArgs& args);

}  // namespace nocturne::kernels
