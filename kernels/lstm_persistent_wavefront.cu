// The persistent forward's wavefront, strict FP32 on CUDA cores: one
// cooperative launch of B1 + B2 blocks, the first B1 running layer 1's
// persistent forward and the next B2 layer 2's (persistent_wavefront.hpp), so
// layer 2's step t runs while layer 1 is on its later steps rather than after
// its whole sequence. Each block runs the single-layer kernel's loop
// (persistent_forward_loop.cuh) for its layer; a layer-2 block also waits
// (acquire) for the layer-1 blocks that own the x_t slices it fetches next,
// and reads x past L1, as h_{t-1} is read (it is written in this launch).
// One grid, not two launches on two streams: a spinning layer-2 grid could
// hold the SMs layer 1 needs; the cooperative launch keeps every block
// resident or fails.
//
// History: v1 (this one) - first version, written without a GPU: the plan,
// the waits and both layers' interleaving checked by the host simulator
// (test/kernels_host/test_persistent_wavefront.cpp), to be checked on a GPU
// against the two separate launches and the CPU backend.

#include <string>

#include "nocturne/error.hpp"
#include "persistent_flags.cuh"
#include "persistent_forward_loop.cuh"
#include "persistent_kernels.hpp"

namespace nocturne::inline v0::kernels {
namespace {

template <int kUnits1, int kUnits2>
__global__ void __launch_bounds__(kPersistentThreads, 1)
    lstm_persistent_wavefront_simt(PersistentForwardArgs a1, PersistentForwardArgs a2, WavefrontPlan plan) {
  extern __shared__ __align__(128) unsigned char shared[];
  const int block = int(blockIdx.x);
  if (block < plan.layer1.blocks) {
    LayerWaits waits{a1.flags, &plan.layer1};
    persistent_forward_loop<PersistentForwardSimt<kUnits1>>(a1, plan.layer1, block, shared, waits);
  } else {
    WavefrontLayer2Waits waits{a1.flags, a2.flags, &plan};
    persistent_forward_loop<PersistentForwardSimt<kUnits2>>(a2, plan.layer2, block - plan.layer1.blocks, shared,
                                                            waits);
  }
}

template <int kUnits1>
const void* wavefront_kernel(int units2) {
  switch (units2) {
    case 1: return reinterpret_cast<const void*>(&lstm_persistent_wavefront_simt<kUnits1, 1>);
    case 2: return reinterpret_cast<const void*>(&lstm_persistent_wavefront_simt<kUnits1, 2>);
    case 4: return reinterpret_cast<const void*>(&lstm_persistent_wavefront_simt<kUnits1, 4>);
    case 8: return reinterpret_cast<const void*>(&lstm_persistent_wavefront_simt<kUnits1, 8>);
    default:
      throw ShapeError("lstm_persistent_wavefront: no kernel for layer 2's " + std::to_string(units2) +
                       " units a block");
  }
}
const void* wavefront_kernel(int units1, int units2) {
  switch (units1) {
    case 1: return wavefront_kernel<1>(units2);
    case 2: return wavefront_kernel<2>(units2);
    case 4: return wavefront_kernel<4>(units2);
    case 8: return wavefront_kernel<8>(units2);
    default:
      throw ShapeError("lstm_persistent_wavefront: no kernel for layer 1's " + std::to_string(units1) +
                       " units a block");
  }
}

}  // namespace

void prepare_persistent_wavefront_kernels(const DeviceLimits& device) {
  for (int u1 = 1; u1 <= kPersistentMaxUnits; u1 *= 2)
    for (int u2 = 1; u2 <= kPersistentMaxUnits; u2 *= 2) allow_persistent_shared(wavefront_kernel(u1, u2), device);
}

WavefrontPlan persistent_device_wavefront_plan(int batch, int input, int hidden1, int hidden2) {
  WavefrontPlan plan = wavefront_plan(batch, input, hidden1, hidden2, current_device_limits());
  if (plan.fits()) {
    plan.resident_per_sm = persistent_residency(wavefront_kernel(plan.layer1.units, plan.layer2.units), plan.shared);
    if (plan.resident_per_sm < 1) plan.refusal = PersistentRefusal::not_resident;
  }
  return plan;
}

void lstm_persistent_wavefront_forward(const Launch& launch, const WavefrontPlan& plan,
                                       const PersistentForwardArgs& layer1, const PersistentForwardArgs& layer2) {
  if (!plan.fits())
    throw ShapeError(std::string("lstm_persistent_wavefront_forward: ") + persistent_refusal_text(plan.refusal));
  if (layer2.flags != layer1.flags + wavefront_layer2_flags(plan) || !layer2.x_in_flight)
    throw ShapeError("lstm_persistent_wavefront_forward: layer 2's arguments are not the wavefront's "
                     "(make_wavefront_layer2_args)");
  if (layer1.steps <= 0) return;
  const void* kernel = wavefront_kernel(plan.layer1.units, plan.layer2.units);
  PersistentForwardArgs a1 = layer1, a2 = layer2;
  WavefrontPlan p = plan;
  void* params[] = {&a1, &a2, &p};
  launch_persistent(launch, plan.blocks, plan.shared, layer1.flags, kernel, params,
                    "lstm_persistent_wavefront_forward");
}

}  // namespace nocturne::kernels
