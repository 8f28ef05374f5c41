// Persistent LSTM forward: one cooperative launch runs all T steps of a
// layer, each block keeping its slice of the weights (4U columns of R, and of
// W when F > 1) in shared memory for the whole sequence, so a step reads
// only h_{t-1} (from L2) and x_t, never the weights again.
//
// Partition and exchange (persistent_partition.hpp): block b owns U hidden
// units, all N rows and all four gates; it publishes its units of h_t by
// flags[b] = t + 1 (fence, then a release store) and, before each K slice of
// h_{t-1}, thread 0 acquires the flags of that slice's producers one barrier
// ahead of the fetch. No grid-wide barrier: a block starts step t on the
// first slices while the last producers still finish step t - 1. The grid
// must be co-resident (a block spinning on a flag of a block that never runs
// would hang): the launch is cooperative (cudaLaunchAttributeCooperative), which fails rather than run a grid
// that does not fit, and persistent_device_plan checks the occupancy first.
//
// Strict FP32 on CUDA cores (this file; TF32 and BF16 on tensor cores in
// lstm_persistent_wmma.cu, launched by the same wrapper): each thread U rows x 1 unit (4U accumulators),
// the sums in the fused FP32 step kernel's order (the same bits), the cell
// in the epilogue from registers (forward_cell, lstm_step_phases.hpp).
// h_{t-1} is read past L1 (ld.global.cg, fetch_slice's kPastL1): each step's
// h is a fresh part of the [T, N, H] output, but a 32-byte sector may hold
// units of two slices (H odd, or an offset buffer), and a plain load of the
// published one would leave the other's unpublished values in L1.
//
// History: v1 (this one) - first version, written without a GPU: the phases
// and the waits checked by the host simulator (test/kernels_host), to be
// checked on a GPU against the CPU backend.

#include <string>

#include "nocturne/error.hpp"
#include "persistent_flags.cuh"
#include "persistent_forward_loop.cuh"
#include "persistent_kernels.hpp"

namespace nocturne::inline v0::kernels {
namespace {

template <int kUnits>
__global__ void __launch_bounds__(kPersistentThreads, 1)
    lstm_persistent_forward_simt(PersistentForwardArgs a, PersistentPlan plan) {
  extern __shared__ __align__(128) unsigned char shared[];
  LayerWaits waits{a.flags, &plan};
  persistent_forward_loop<PersistentForwardSimt<kUnits>>(a, plan, int(blockIdx.x), shared, waits);
}

template <int kUnits>
const void* forward_kernel() {
  return reinterpret_cast<const void*>(&lstm_persistent_forward_simt<kUnits>);
}
const void* forward_kernel(int units) {
  switch (units) {
    case 1:
      return forward_kernel<1>();
    case 2:
      return forward_kernel<2>();
    case 4:
      return forward_kernel<4>();
    case 8:
      return forward_kernel<8>();
    default:
      throw ShapeError("lstm_persistent_forward: no kernel for " + std::to_string(units) + " units a block");
  }
}
// CUDA cores for strict FP32, tensor cores for TF32 and BF16 (lstm_persistent_wmma.cu).
const void* forward_kernel(GemmOperands operands, int units) {
  return operands == GemmOperands::fp32 ? forward_kernel(units) : persistent_forward_wmma_kernel(operands, units);
}

}  // namespace

DeviceLimits current_device_limits() {
  int device = 0, sms = 0, optin = 0;
  NOCTURNE_CUDA_CHECK(cudaGetDevice(&device));
  NOCTURNE_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
  NOCTURNE_CUDA_CHECK(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
  DeviceLimits d;
  d.sms = sms;
  d.shared_per_block = std::size_t(optin);
  return d;
}

void allow_persistent_shared(const void* kernel, const DeviceLimits& device) {
  NOCTURNE_CUDA_CHECK(
      cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(device.shared_per_block)));
}

int persistent_residency(const void* kernel, std::size_t shared) {
  int device = 0, cooperative = 0;
  NOCTURNE_CUDA_CHECK(cudaGetDevice(&device));
  NOCTURNE_CUDA_CHECK(cudaDeviceGetAttribute(&cooperative, cudaDevAttrCooperativeLaunch, device));
  int per_sm = 0;
  NOCTURNE_CUDA_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, kPersistentThreads, shared));
  return cooperative ? per_sm : 0;
}

void check_persistent_residency(PersistentPlan& plan, const void* kernel) {
  plan.resident_per_sm = persistent_residency(kernel, plan.shared.total);
  if (plan.resident_per_sm < 1) plan.refusal = PersistentRefusal::not_resident;
}

void launch_persistent(const Launch& launch, const PersistentPlan& plan, unsigned* flags, const void* kernel,
                       void** params, const char* kernel_name) {
  launch_persistent(launch, plan.blocks, plan.shared.total, flags, kernel, params, kernel_name);
}

void launch_persistent(const Launch& launch, int blocks, std::size_t shared, unsigned* flags, const void* kernel,
                       void** params, const char* kernel_name) {
  NOCTURNE_CUDA_CHECK(cudaMemsetAsync(flags, 0, std::size_t(blocks) * sizeof(unsigned), launch.stream));
  // Cooperative through the launch attribute (which stream capture records
  // as a cooperative kernel node): the grid runs all at once or not at all.
  cudaLaunchAttribute cooperative[1];
  cooperative[0].id = cudaLaunchAttributeCooperative;
  cooperative[0].val.cooperative = 1;
  cudaLaunchConfig_t config = {};
  config.gridDim = dim3(unsigned(blocks));
  config.blockDim = dim3(kPersistentThreads);
  config.dynamicSmemBytes = shared;
  config.stream = launch.stream;
  config.attrs = cooperative;
  config.numAttrs = 1;
  NOCTURNE_CUDA_CHECK(cudaLaunchKernelExC(&config, kernel, params));
  NOCTURNE_CHECK_LAUNCH(kernel_name, launch);
}

void prepare_persistent_kernels() {
  const DeviceLimits d = current_device_limits();
  for (int units = 1; units <= kPersistentMaxUnits; units *= 2) allow_persistent_shared(forward_kernel(units), d);
  for (GemmOperands operands : {GemmOperands::tf32, GemmOperands::bf16})
    for (int units = kPersistentWmmaMinUnits; units <= kPersistentMaxUnits; units *= 2)
      allow_persistent_shared(forward_kernel(operands, units), d);
  prepare_persistent_backward_kernels(d);
  prepare_persistent_wavefront_kernels(d);
}

PersistentPlan persistent_device_plan(int batch, int input, int hidden, GemmOperands operands) {
  PersistentPlan plan = persistent_plan(batch, input, hidden, current_device_limits(), operands);
  if (plan.fits()) check_persistent_residency(plan, forward_kernel(plan.operands, plan.units));
  return plan;
}

void lstm_persistent_forward(const Launch& launch, const PersistentPlan& plan, const PersistentForwardArgs& args) {
  if (!plan.fits())
    throw ShapeError(std::string("lstm_persistent_forward: ") + persistent_refusal_text(plan.refusal));
  if (args.steps <= 0) return;
  const void* kernel = forward_kernel(plan.operands, plan.units);
  PersistentForwardArgs a = args;
  PersistentPlan p = plan;
  void* params[] = {&a, &p};
  launch_persistent(launch, plan, args.flags, kernel, params, "lstm_persistent_forward");
}

}  // namespace nocturne::kernels
