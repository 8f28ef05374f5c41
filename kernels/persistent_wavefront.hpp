#pragma once
// The wavefront of the persistent forward (strict FP32, CUDA cores): one
// cooperative launch whose first B1 blocks run layer 1's persistent forward
// and whose next B2 blocks run layer 2's (lstm_persistent_wavefront.cu), so
// layer 2's step t runs while layer 1 works on step t + 1 instead of after
// all of layer 1. Two launches on two streams would not be safe: a spinning
// layer-2 grid could hold the SMs layer 1 needs. So it is one grid of
// B1 + B2 <= SMs blocks, co-resident by the cooperative launch.
//
// Each layer keeps its own plan (persistent_partition.hpp: ownership, passes,
// K slices) and its own flags: layer 1's flags[0 .. B1), layer 2's
// flags[B1 .. B1 + B2). Layer 2's input x_t is layer 1's h_t (or its dropped
// h_t), so its input K slice s holds layer 1's units [16 s, 16 s + 16), the
// ones layer 1's slice_producers(s) own and publish with flag >= t + 1. Layer
// 2's step t runs its K slices in the single-layer order (its own h_{t-1}
// slices first, t > 0, then the x_t slices) with the single-layer rule: the
// first slices_ready_after(j) slices published before the barrier that ends
// K interval j. Unlike a single layer, it waits at step 0 too (interval -2,
// before the prologue fetches x_0's first slice).

#include "persistent_partition.hpp"

namespace nocturne::inline v0::kernels {

struct WavefrontPlan {
  PersistentRefusal refusal = PersistentRefusal::empty_shape;
  PersistentPlan layer1, layer2;  // layer 2's input is layer 1's hidden size
  int blocks = 0;                 // B1 + B2: layer 1's blocks first
  std::size_t shared = 0;         // dynamic shared memory of the launch: the larger layer's
  int resident_per_sm = 0;        // the occupancy API, at launch (0 here)
  NOCTURNE_TILING bool fits() const { return refusal == PersistentRefusal::none; }
};

// A block's multiply-adds per row and step, the measure the plan balances:
// U units x 4 gates x the K rows of its resident weights.
NOCTURNE_TILING long long wavefront_block_work(const PersistentPlan& p) {
  return (long long)(p.units) * (long long)(p.shared.weight_rows);
}

// U1 and U2 (1, 2, 4, 8) with ceil(H1 / U1) + ceil(H2 / U2) <= SMs and each
// layer's shared memory within the opt-in limit; of those, the smallest
// slowest block (the larger of the two layers' work per block: the wavefront
// moves at the pace of its slowest layer), then the smallest sum of the two
// (the other layer as fast as it can be). Refused (too_many_blocks or
// shared_memory, the first reason met) where no pair fits: then the two
// layers run as two launches, one after the other.
NOCTURNE_TILING WavefrontPlan wavefront_plan(int batch, int input, int hidden1, int hidden2, DeviceLimits device) {
  WavefrontPlan w;
  if (batch <= 0 || input <= 0 || hidden1 <= 0 || hidden2 <= 0 || device.sms <= 0) return w;
  if (hidden1 == 1) {
    w.refusal = PersistentRefusal::rank_one_input;
    return w;
  }
  w.refusal = PersistentRefusal::too_many_blocks;
  long long best_slowest = 0, best_sum = 0;
  for (int u1 = 1; u1 <= kPersistentMaxUnits; u1 *= 2)
    for (int u2 = 1; u2 <= kPersistentMaxUnits; u2 *= 2) {
      if (ceil_div(hidden1, u1) + ceil_div(hidden2, u2) > device.sms) continue;
      const PersistentShared s1 = persistent_shared(u1, input, hidden1), s2 = persistent_shared(u2, hidden1, hidden2);
      if (s1.total > device.shared_per_block || s2.total > device.shared_per_block) {
        if (!w.fits()) w.refusal = PersistentRefusal::shared_memory;
        continue;
      }
      // Each layer's plan as it would be alone, at the chosen U.
      PersistentPlan p1 = persistent_plan(batch, input, hidden1, DeviceLimits{ceil_div(hidden1, u1), s1.total,
                                                                              device.portable_cluster,
                                                                              device.nonportable_cluster});
      PersistentPlan p2 = persistent_plan(batch, hidden1, hidden2, DeviceLimits{ceil_div(hidden2, u2), s2.total,
                                                                               device.portable_cluster,
                                                                               device.nonportable_cluster});
      if (!p1.fits() || !p2.fits() || p1.units != u1 || p2.units != u2) continue;
      const long long a = wavefront_block_work(p1), b = wavefront_block_work(p2);
      const long long slowest = a > b ? a : b, sum = a + b;
      if (w.fits() && (slowest > best_slowest || (slowest == best_slowest && sum >= best_sum))) continue;
      w.refusal = PersistentRefusal::none;
      w.layer1 = p1;
      w.layer2 = p2;
      w.blocks = p1.blocks + p2.blocks;
      w.shared = s1.total > s2.total ? s1.total : s2.total;
      best_slowest = slowest;
      best_sum = sum;
    }
  return w;
}

// Which flags a layer-2 block must see before the barrier that ends K
// interval j of step t: the first `own` layer-2 blocks at step t (its
// h_{t-1} slices, t > 0) and the first `layer1` layer-1 blocks at step t + 1
// (its x_t slices). Intervals as persistent_partition.hpp's: -2 the step's
// start, -1 the prologue, then 0 .. n - 1.
struct WavefrontWait {
  int own = 0;
  int layer1 = 0;
};
NOCTURNE_TILING WavefrontWait wavefront_wait(const WavefrontPlan& w, int t, int interval) {
  const PersistentPlan& p = w.layer2;
  const int recurrent = t > 0 ? p.recurrent_slices : 0;
  const int slices = recurrent + p.input_slices;
  int ready = interval + 3;  // slices below this one are fetched after the barrier at the latest
  ready = ready < 0 ? 0 : ready < slices ? ready : slices;
  WavefrontWait need;
  need.own = t > 0 ? blocks_needed(p, ready < recurrent ? ready : recurrent) : 0;
  need.layer1 = ready > recurrent ? blocks_needed(w.layer1, ready - recurrent) : 0;
  return need;
}

// Layer 2's flags within the launch's flags (layer 1's come first).
NOCTURNE_TILING int wavefront_layer2_flags(const WavefrontPlan& w) { return w.layer1.blocks; }

}  // namespace nocturne::kernels
