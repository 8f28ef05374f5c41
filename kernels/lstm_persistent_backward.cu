// Persistent LSTM backward: one cooperative launch runs all T backward steps
// of a layer (t = T - 1 down to 0), each block keeping its U rows of R (R^T's
// columns) in shared memory for the whole sequence, so a step reads only
// dgates_{t+1} (from L2) and the step's saved values, never R again.
//
// Partition and exchange (persistent_partition.hpp, persistent_backward_plan):
// block b owns U hidden units for all N rows; step t's recurrent term
// dgates_{t+1} R^T needs every block's da of step t + 1, published by
// flags[b] = i + 1 after iteration i (fence, then a release store); before
// each K slice thread 0 acquires the flags of its producers one barrier ahead
// of the fetch, as in the forward: no grid-wide barrier. The grid must be
// co-resident: cooperative launch, occupancy checked by
// persistent_device_backward_plan.
//
// Strict FP32 on CUDA cores: each thread U rows x 1 unit, 4 sums each (the
// fused FP32 backward kernel's k-groups: K slice s goes to sum s % 4, added
// in order at the end), so a step gives that kernel's bits; the cell is its
// backward_cell (lstm_step_phases.hpp), the dc carry stays in place (each
// element only its owner's), and the block's partial sums are added from its
// own da_t rows in increasing order. Every read of da (the fetches of
// dgates_{t+1}, the partial sums) goes past L1 (ld.global.cg): a 32-byte
// sector may hold columns of two blocks, and a plain load would leave the
// unpublished ones in L1 for the next step to read stale.
//
// History: v1 (this one) - first version, written without a GPU: the phases
// and the waits checked by the host simulator (test/kernels_host), to be
// checked on a GPU against the CPU backend.

#include <string>

#include "nocturne/error.hpp"
#include "persistent_flags.cuh"
#include "persistent_kernels.hpp"

namespace nocturne::inline v0::kernels {
namespace {

template <int kUnits>
__global__ void __launch_bounds__(kPersistentThreads, 1)
    lstm_persistent_backward_simt(PersistentBackwardArgs a, PersistentPlan plan) {
  using K = PersistentBackwardSimt<kUnits>;
  extern __shared__ __align__(128) unsigned char shared[];
  const int block = int(blockIdx.x), thread = int(threadIdx.x);
  K::load_weights(a, plan, block, thread, shared);
  __syncthreads();
  typename K::Registers r;
  for (int i = 0; i < a.steps; ++i) {
    const int n = persistent_backward_slices(plan, i);
    const BackwardArgs step = persistent_backward_step_args(a, persistent_backward_step(a, i));
    int ready = 0;
    for (int pass = 0; pass < plan.passes; ++pass) {
      K::begin(r);
      if (i > 0) {
        wait_for_slices(a.flags, i, plan, -2, ready);
        __syncthreads();
      }
      if (n > 0) {
        K::fetch(step, pass, 0, thread, r);
        K::store(plan, thread, 0, r, shared);
      }
      wait_for_slices(a.flags, i, plan, -1, ready);
      __syncthreads();
      for (int s = 0; s < n; ++s) {
        if (s + 1 < n) K::fetch(step, pass, s + 1, thread, r);
        K::multiply(plan, s, thread, s & 1, shared, r);
        if (s + 1 < n) K::store(plan, thread, (s + 1) & 1, r, shared);
        wait_for_slices(a.flags, i, plan, s, ready);
        __syncthreads();
      }
      K::cells(step, plan, block, pass, thread, r);
      __syncthreads();  // the pass's da_t rows of the block, for its partial sums
      K::partials(step, plan, block, pass, thread);
    }
    // Every thread's da_t is written: publish the block's columns of step t.
    __syncthreads();
    publish_step(a.flags, block, unsigned(i) + 1);
  }
}

template <int kUnits>
const void* backward_kernel() {
  return reinterpret_cast<const void*>(&lstm_persistent_backward_simt<kUnits>);
}
const void* backward_kernel(int units) {
  switch (units) {
    case 1:
      return backward_kernel<1>();
    case 2:
      return backward_kernel<2>();
    case 4:
      return backward_kernel<4>();
    case 8:
      return backward_kernel<8>();
    default:
      throw ShapeError("lstm_persistent_backward: no kernel for " + std::to_string(units) + " units a block");
  }
}

// CUDA cores for strict FP32, tensor cores for TF32 and BF16 (lstm_persistent_backward_wmma.cu).
const void* backward_kernel(GemmOperands operands, int units) {
  return operands == GemmOperands::fp32 ? backward_kernel(units) : persistent_backward_wmma_kernel(operands);
}

}  // namespace

void prepare_persistent_backward_kernels(const DeviceLimits& device) {
  for (int units = 1; units <= kPersistentMaxUnits; units *= 2) allow_persistent_shared(backward_kernel(units), device);
  for (GemmOperands operands : {GemmOperands::tf32, GemmOperands::bf16})
    allow_persistent_shared(persistent_backward_wmma_kernel(operands), device);
}

PersistentPlan persistent_device_backward_plan(int batch, int hidden, GemmOperands operands) {
  PersistentPlan plan = persistent_backward_plan(batch, hidden, current_device_limits(), operands);
  if (plan.fits()) check_persistent_residency(plan, backward_kernel(plan.operands, plan.units));
  return plan;
}

void lstm_persistent_backward(const Launch& launch, const PersistentPlan& plan, const PersistentBackwardArgs& args) {
  if (!plan.fits())
    throw ShapeError(std::string("lstm_persistent_backward: ") + persistent_refusal_text(plan.refusal));
  if (args.steps <= 0) return;
  const void* kernel = backward_kernel(plan.operands, plan.units);
  PersistentBackwardArgs a = args;
  PersistentPlan p = plan;
  void* params[] = {&a, &p};
  launch_persistent(launch, plan, args.flags, kernel, params, "lstm_persistent_backward");
}

}  // namespace nocturne::kernels
