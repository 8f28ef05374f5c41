#pragma once
// The persistent kernels' exchange between blocks (persistent_partition.hpp):
// a block publishes a step by a release store of its flag after a fence, and
// thread 0 of a consumer acquires the flags of the producers it needs before
// the barrier that hands the data to its other threads.

#include <cuda/atomic>

#include "persistent_partition.hpp"

namespace nocturne::inline v0::kernels {

// Thread 0: until the first `need` blocks have published step `step` (flags
// >= step); `ready` counts the leading blocks already seen published.
__device__ inline void wait_for_producers(unsigned* flags, unsigned step, int need, int& ready) {
  if (threadIdx.x != 0) return;
  while (ready < need) {
    ::cuda::atomic_ref<unsigned, ::cuda::thread_scope_device> flag(flags[ready]);
    if (flag.load(::cuda::memory_order_acquire) >= step)
      ++ready;
    else
      __nanosleep(32);
  }
}

// Thread 0, from the second step (or backward iteration) on: until the
// producers of the slices fetched after K interval `interval` (-2 the step's
// start, -1 the prologue) have published step - 1.
__device__ inline void wait_for_slices(unsigned* flags, int step, const PersistentPlan& plan, int interval,
                                       int& ready) {
  if (step > 0)
    wait_for_producers(flags, unsigned(step), blocks_needed(plan, slices_ready_after(plan, interval)), ready);
}

// After a block barrier (every thread's writes of the step done): thread 0
// sets flags[block] = step with release order at GPU scope.
__device__ inline void publish_step(unsigned* flags, int block, unsigned step) {
  if (threadIdx.x != 0) return;
  __threadfence();
  ::cuda::atomic_ref<unsigned, ::cuda::thread_scope_device> flag(flags[block]);
  flag.store(step, ::cuda::memory_order_release);
}

}  // namespace nocturne::kernels
