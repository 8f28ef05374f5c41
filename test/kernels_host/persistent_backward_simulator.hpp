#pragma once
// A host simulator of the persistent backward kernel
// (kernels/lstm_persistent_backward.cu, and its tensor-core variant
// lstm_persistent_backward_wmma.cu), the twin of persistent_simulator.hpp:
// every block a state machine over the kernel's barrier intervals
// (kernels/lstm_persistent_backward_phases.hpp), the blocks interleaved by a
// schedule, the threads of one interval run as step_simulator.hpp runs them.
//
// Memory order, emulated: a block's da_t writes go to a private buffer (its
// own threads read them back for the partial sums) and become visible to the
// other blocks only when the block publishes step t; dgates_{t+1} is read
// from the visible buffer, which holds NaN until then. A fetch that sees NaN
// stops the run naming block, step and slice; an element published twice or
// never, and a schedule where no block can move, are errors too.

#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/lstm_persistent_backward_phases.hpp"
#include "kernels/persistent_partition.hpp"
#include "persistent_simulator.hpp"  // BlockSchedule, PersistentFaults, PersistentStats
#include "step_simulator.hpp"

namespace nocturne::inline v0::kernels::simulation {

// K: PersistentBackwardSimt<U> or PersistentBackwardWmma<mode> (whose
// fragments are replaced by host_mma over the staged, rounded operands, in
// the order of k, one sum per k-group as the warps keep them, the groups
// added in order; the staging, the cells and the partial sums are the
// kernel's code).
template <typename K>
PersistentStats persistent_backward_run(PersistentBackwardArgs a, const PersistentPlan& plan, ThreadOrder order,
                                        BlockSchedule schedule, std::uint64_t seed = 1, PersistentFaults faults = {}) {
  if (!plan.fits() || plan.units != K::kBlockUnits || plan.slice_units != kPersistentDepth / kUnitGates)
    throw std::logic_error("persistent_backward: not a backward plan that fits");
  const std::size_t width = std::size_t(kUnitGates) * std::size_t(a.hidden);
  const std::size_t per_step = std::size_t(a.batch) * width, all = std::size_t(a.steps) * per_step;
  const float nan = std::numeric_limits<float>::quiet_NaN();
  float* out = a.dgates;
  std::vector<float> visible(all, nan), pending(all, nan);
  std::vector<unsigned> flags(std::size_t(plan.blocks), 0);
  a.dgates = pending.data();
  a.dgates_read = visible.data();
  a.flags = flags.data();

  struct Block {
    SharedMemory shared;
    std::vector<typename K::Registers> regs;
    std::vector<std::pair<std::size_t, float>> written;  // da_t elements not yet published
    std::vector<std::vector<float>> acc;  // tensor cores: each k-group's fragments [pass rows][16]
    int i = 0, pass = 0;  // iteration (step T - 1 - i) and pass
    // -3 the weights, -2 step start, -1 prologue, 0 .. n - 1 K, n cells, n + 1 partials, n + 2 publish
    int interval = -3;
    int need = 0;  // blocks that must have published iteration i - 1 before the next interval
    bool done = false;
  };
  std::vector<Block> blocks;
  blocks.reserve(std::size_t(plan.blocks));
  for (int b = 0; b < plan.blocks; ++b)
    blocks.push_back(
        Block{SharedMemory(plan.shared.total), std::vector<typename K::Registers>(K::kThreads), {}, {}});
  constexpr int kGroups = kPersistentBackwardGroups;
  const std::size_t tile = std::size_t(kPersistentPassRows) * std::size_t(K::kBlockUnits);

  PersistentStats stats;
  auto published = [&](const Block& blk) {
    for (int b = 0; b < blk.need; ++b)
      if (flags[std::size_t(b)] < unsigned(blk.i)) return false;
    return true;
  };
  auto check_fetched = [&](int b, const Block& blk, int slice) {
    for (const auto& r : blk.regs)
      for (float v : r.a)
        if (std::isnan(v))
          throw std::logic_error("block " + std::to_string(b) + " step " +
                                 std::to_string(persistent_backward_step(a, blk.i)) + " slice " +
                                 std::to_string(slice) + ": read dgates_{t+1} before its producer published it");
  };
  // Runs block b's next interval; false where it must still wait.
  auto advance = [&](int b) -> bool {
    Block& blk = blocks[std::size_t(b)];
    if (blk.done) return false;
    if (!faults.skip_waits && !published(blk)) {
      ++stats.stalls;
      return false;
    }
    ++stats.intervals;
    const int n = persistent_backward_slices(plan, blk.i);
    const int t = persistent_backward_step(a, blk.i);
    const BackwardArgs step = persistent_backward_step_args(a, t);
    const int j = blk.interval;
    auto wait_after = [&](int interval) {
      blk.need = blk.i > 0 ? blocks_needed(plan, slices_ready_after(plan, interval)) : 0;
    };
    if (j == -3) {
      interval(K::kThreads, order, blk.shared,
               [&](int th, unsigned char* s) { K::load_weights(a, plan, b, th, s); });
      blk.need = 0;
    } else if (j == -2) {
      wait_after(-2);
    } else if (j == -1) {
      if constexpr (K::kTensorCores) blk.acc.assign(kGroups, std::vector<float>(tile, 0.0f));
      interval(K::kThreads, order, blk.shared, [&](int th, unsigned char* s) {
        typename K::Registers& r = blk.regs[std::size_t(th)];
        if constexpr (!K::kTensorCores) K::begin(r);
        if (n == 0) return;
        K::fetch(step, blk.pass, 0, th, r);
        K::store(plan, th, 0, r, s);
      });
      if (n > 0) check_fetched(b, blk, 0);
      wait_after(-1);
    } else if (j < n) {
      // The fetch of slice j + 1 and the multiply of slice j share the interval
      // (the warps' fragments read stage j & 1 before any thread stores the next).
      if constexpr (K::kTensorCores)
        host_mma(K::a_stage(plan, blk.shared.data(), j & 1), plan.shared.a_pitch,
                 K::weights(blk.shared.data()) + j * kPersistentDepth, plan.shared.weight_pitch, true,
                 kPersistentPassRows, K::kBlockUnits, 0, kPersistentDepth, blk.acc[std::size_t(j % kGroups)]);
      interval(K::kThreads, order, blk.shared, [&](int th, unsigned char* s) {
        typename K::Registers& r = blk.regs[std::size_t(th)];
        if (j + 1 < n) K::fetch(step, blk.pass, j + 1, th, r);
        if constexpr (!K::kTensorCores) K::multiply(plan, j, th, j & 1, s, r);
        if (j + 1 < n) K::store(plan, th, (j + 1) & 1, r, s);
      });
      if (j + 1 < n) check_fetched(b, blk, j + 1);
      wait_after(j);
    } else if (j == n) {
      if constexpr (K::kTensorCores) {
        // Each warp adds its groups' fragments in group order and stores the
        // sums (store_matrix_sync), then a barrier, then the cells.
        float* sums = K::accumulators(plan, blk.shared.data());
        for (int m = 0; m < kPersistentPassRows; ++m)
          for (int u = 0; u < K::kBlockUnits; ++u) {
            const std::size_t at = std::size_t(m) * std::size_t(K::kBlockUnits) + std::size_t(u);
            float sum = blk.acc[0][at];
            for (int g = 1; g < kGroups; ++g) sum += blk.acc[std::size_t(g)][at];
            sums[m * plan.shared.acc_pitch + u] = sum;
          }
        interval(K::kThreads, order, blk.shared,
                 [&](int th, unsigned char* s) { K::cells(step, plan, b, blk.pass, th, s); });
      } else {
        interval(K::kThreads, order, blk.shared, [&](int th, unsigned char*) {
          K::cells(step, plan, b, blk.pass, th, blk.regs[std::size_t(th)]);
        });
      }
      blk.need = 0;
    } else if (j == n + 1) {
      interval(K::kThreads, order, blk.shared,
               [&](int th, unsigned char*) { K::partials(step, plan, b, blk.pass, th); });
      // What the block wrote of da_t (its columns, the pass's rows) stays private until it publishes.
      const UnitRange units = block_units(plan, b);
      const int row0 = blk.pass * kPersistentPassRows;
      const int row_end = std::min(a.batch, row0 + kPersistentPassRows);
      for (int row = row0; row < row_end; ++row)
        for (int col = units.first * kUnitGates; col < units.end * kUnitGates; ++col) {
          const std::size_t index = std::size_t(t) * per_step + std::size_t(row) * width + std::size_t(col);
          if (std::isnan(pending[index])) continue;
          blk.written.push_back({index, pending[index]});
          pending[index] = nan;
        }
      if (++blk.pass < plan.passes) {
        blk.interval = -2;
        return true;
      }
    } else {
      publish_written(blk.written, visible, "dgates", b);
      flags[std::size_t(b)] = unsigned(blk.i) + 1;
      blk.pass = 0;
      blk.need = 0;
      if (++blk.i == a.steps) {
        blk.done = true;
        return true;
      }
      blk.interval = -2;
      return true;
    }
    ++blk.interval;
    return true;
  };

  run_schedule(blocks, schedule, seed, advance);
  copy_published(visible, "dgates", out);
  return stats;
}

// The kernel for the plan's mode and U.
inline PersistentStats persistent_backward(const PersistentBackwardArgs& a, const PersistentPlan& plan,
                                           ThreadOrder order, BlockSchedule schedule, std::uint64_t seed = 1,
                                           PersistentFaults faults = {}) {
  auto run = [&](auto kernel) {
    return persistent_backward_run<decltype(kernel)>(a, plan, order, schedule, seed, faults);
  };
  switch (plan.operands) {
    case GemmOperands::fp32:
      switch (plan.units) {
        case 1: return run(PersistentBackwardSimt<1>{});
        case 2: return run(PersistentBackwardSimt<2>{});
        case 4: return run(PersistentBackwardSimt<4>{});
        case 8: return run(PersistentBackwardSimt<8>{});
      }
      break;
    case GemmOperands::tf32:
      return run(PersistentBackwardWmma<GemmOperands::tf32>{});
    case GemmOperands::bf16:
      return run(PersistentBackwardWmma<GemmOperands::bf16>{});
  }
  throw std::logic_error("persistent_backward: no kernel for U " + std::to_string(plan.units));
}

}  // namespace nocturne::kernels::simulation
