#pragma once
// The block loop of the persistent forward on CUDA cores, shared by the
// single-layer kernel (lstm_persistent.cu) and the wavefront's two layers
// (lstm_persistent_wavefront.cu): the phases of lstm_persistent_phases.hpp
// between barriers, the waits a policy (Waits) so that a layer-2 block of the
// wavefront also waits for layer 1's flags.

#include "lstm_persistent_phases.hpp"
#include "persistent_flags.cuh"
#include "persistent_wavefront.hpp"

namespace nocturne::inline v0::kernels {

// A single layer's waits (persistent_partition.hpp): its own producers of
// step t - 1; nothing at step 0.
struct LayerWaits {
  static constexpr bool kAtFirstStep = false;
  unsigned* flags;
  const PersistentPlan* plan;
  int ready = 0;
  __device__ void begin_step() { ready = 0; }
  __device__ void operator()(int t, int interval) { wait_for_slices(flags, t, *plan, interval, ready); }
};

// The wavefront's layer 2 (persistent_wavefront.hpp): its own producers of
// step t - 1 and layer 1's of step t, from step 0 on (x_0 is layer 1's).
struct WavefrontLayer2Waits {
  static constexpr bool kAtFirstStep = true;
  unsigned* layer1_flags;
  unsigned* own_flags;
  const WavefrontPlan* plan;
  int ready_own = 0, ready_layer1 = 0;
  __device__ void begin_step() { ready_own = ready_layer1 = 0; }
  __device__ void operator()(int t, int interval) {
    const WavefrontWait need = wavefront_wait(*plan, t, interval);
    wait_for_producers(own_flags, unsigned(t), need.own, ready_own);
    wait_for_producers(layer1_flags, unsigned(t) + 1, need.layer1, ready_layer1);
  }
};

// All T steps of block `block` of a layer (K: PersistentForwardSimt<U>).
template <typename K, typename Waits>
__device__ void persistent_forward_loop(const PersistentForwardArgs& a, const PersistentPlan& plan, int block,
                                        unsigned char* shared, Waits& wait) {
  const int thread = int(threadIdx.x);
  K::load_weights(a, plan, block, thread, shared);
  __syncthreads();
  typename K::Registers r;
  for (int t = 0; t < a.steps; ++t) {
    const int n = persistent_slices(plan, t);
    const ForwardArgs step = persistent_step_args(a, t);
    wait.begin_step();
    for (int pass = 0; pass < plan.passes; ++pass) {
      K::begin(r);
      if (t > 0 || Waits::kAtFirstStep) {
        wait(t, -2);
        __syncthreads();
      }
      if (n > 0) {
        K::fetch(a, plan, t, pass, 0, thread, r);
        K::store(plan, thread, 0, r, shared);
      }
      wait(t, -1);
      __syncthreads();
      for (int s = 0; s < n; ++s) {
        if (s + 1 < n) K::fetch(a, plan, t, pass, s + 1, thread, r);
        K::multiply(plan, t, s, thread, s & 1, shared, r);
        if (s + 1 < n) K::store(plan, thread, (s + 1) & 1, r, shared);
        wait(t, s);
        __syncthreads();
      }
      K::finish(step, plan, block, pass, thread, r);
    }
    // Every thread's h_t is written: publish the block's units of step t.
    __syncthreads();
    publish_step(a.flags, block, unsigned(t) + 1);
  }
}

}  // namespace nocturne::kernels
