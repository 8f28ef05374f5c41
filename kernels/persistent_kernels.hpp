#pragma once
// Launch wrappers of the persistent LSTM kernels (lstm_persistent.cu,
// lstm_persistent_wmma.cu, lstm_persistent_backward.cu,
// lstm_persistent_backward_wmma.cu). Same
// rules as kernels.hpp: plain C++, device pointers, launched on
// launch.stream, checked, never waiting, never allocating. The partition is
// persistent_partition.hpp; the block loops' phases lstm_persistent_phases.hpp
// and lstm_persistent_backward_phases.hpp.

#include "cuda/cuda_check.hpp"
#include "lstm_persistent_backward_phases.hpp"
#include "lstm_persistent_phases.hpp"
#include "persistent_partition.hpp"
#include "persistent_wavefront.hpp"

namespace nocturne::inline v0::kernels {

using cuda::Launch;

// The current device's limits (multiprocessors, opt-in shared memory per block).
DeviceLimits current_device_limits();

// Lets the kernels take the device's opt-in shared memory: once per device,
// before any plan or launch (and outside any stream capture).
void prepare_persistent_kernels();

// The plan for a layer on the current device (prepare_persistent_kernels first): persistent_plan, then the
// occupancy API (one block per SM at least) and cooperative launch support;
// refusal not_resident where either fails. Callers fall back to the fused
// step kernels on any refusal.
// `operands`: fp32 the CUDA-core kernel, tf32 / bf16 the tensor-core ones.
PersistentPlan persistent_device_plan(int batch, int input, int hidden, GemmOperands operands = GemmOperands::fp32);

// All T forward steps of one layer from the zero state in the plan's mode
// (strict FP32 on CUDA cores, TF32 / BF16 on tensor cores), one cooperative
// launch: args.flags [plan.blocks] is zeroed on the stream first. The plan
// must fit (persistent_device_plan).
void lstm_persistent_forward(const Launch& launch, const PersistentPlan& plan, const PersistentForwardArgs& args);

// The tensor-core forward kernel for a mode (tf32, bf16) and U (4, 8), as a
// launchable function pointer (lstm_persistent_wmma.cu).
const void* persistent_forward_wmma_kernel(GemmOperands operands, int units);

// What the forward and backward launches share (lstm_persistent.cu): the
// opt-in shared memory for a kernel; the plan's refusal not_resident where
// the device has no cooperative launch or the kernel is not resident at the
// plan's shared memory; the flags zeroed and the cooperative launch of the
// plan's grid (`kernel_name` for the launch check).
void allow_persistent_shared(const void* kernel, const DeviceLimits& device);
// persistent_residency: blocks of `kernel` an SM holds at `shared` bytes (0
// where the device has no cooperative launch).
int persistent_residency(const void* kernel, std::size_t shared);
void check_persistent_residency(PersistentPlan& plan, const void* kernel);
void launch_persistent(const Launch& launch, const PersistentPlan& plan, unsigned* flags, const void* kernel,
                       void** params, const char* kernel_name);
void launch_persistent(const Launch& launch, int blocks, std::size_t shared, unsigned* flags, const void* kernel,
                       void** params, const char* kernel_name);

// The backward kernels' part of prepare_persistent_kernels (which calls it).
void prepare_persistent_backward_kernels(const DeviceLimits& device);

// persistent_device_plan for a layer's backward (persistent_backward_plan):
// fp32 the CUDA-core kernel, tf32 / bf16 the tensor-core ones (U 16).
PersistentPlan persistent_device_backward_plan(int batch, int hidden, GemmOperands operands = GemmOperands::fp32);

// All T backward steps of one layer, t = T - 1 down to 0, in the plan's mode
// (strict FP32 on CUDA cores, TF32 / BF16 on tensor cores), one cooperative
// launch: args.flags [plan.blocks] is zeroed on the stream first. The plan
// must fit (persistent_device_backward_plan).
void lstm_persistent_backward(const Launch& launch, const PersistentPlan& plan, const PersistentBackwardArgs& args);

// The tensor-core backward kernel for a mode (tf32, bf16), as a launchable
// function pointer (lstm_persistent_backward_wmma.cu).
const void* persistent_backward_wmma_kernel(GemmOperands operands);

// ---- the wavefront (persistent_wavefront.hpp, lstm_persistent_wavefront.cu) --------------
// Both layers' forward sequences in one cooperative launch, strict FP32.

// The wavefront kernels' part of prepare_persistent_kernels (which calls it).
void prepare_persistent_wavefront_kernels(const DeviceLimits& device);

// wavefront_plan on the current device, then the occupancy of the kernel for
// its U1 and U2 at its shared memory and cooperative launch support; refusal
// not_resident where either fails. Callers run the two layers' launches
// (lstm_persistent_forward) on any refusal.
WavefrontPlan persistent_device_wavefront_plan(int batch, int input, int hidden1, int hidden2);

// Layer 2's arguments in the wavefront: its x is layer 1's output (in flight
// within the launch: read past L1), its flags after layer 1's.
inline PersistentForwardArgs make_wavefront_layer2_args(const WavefrontPlan& plan, const PersistentForwardArgs& layer1,
                                                        PersistentForwardArgs layer2) {
  layer2.x_in_flight = true;
  layer2.flags = layer1.flags + wavefront_layer2_flags(plan);
  return layer2;
}

// Both layers' T forward steps from the zero state, one cooperative launch of
// plan.blocks blocks: layer1.flags [plan.blocks] (layer 2's after layer 1's)
// is zeroed on the stream first. The plan must fit.
void lstm_persistent_wavefront_forward(const Launch& launch, const WavefrontPlan& plan,
                                       const PersistentForwardArgs& layer1, const PersistentForwardArgs& layer2);

}  // namespace nocturne::kernels
