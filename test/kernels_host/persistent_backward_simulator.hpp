#pragma once
// A host simulator of the persistent backward kernel
// (kernels/lstm_persistent_backward.cu), the twin of persistent_simulator.hpp:
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

template <int kUnits>
PersistentStats persistent_backward(PersistentBackwardArgs a, const PersistentPlan& plan, ThreadOrder order,
                                    BlockSchedule schedule, std::uint64_t seed = 1, PersistentFaults faults = {}) {
  using K = PersistentBackwardSimt<kUnits>;
  if (!plan.fits() || plan.units != kUnits || plan.slice_units != kPersistentDepth / kUnitGates)
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
    int i = 0, pass = 0;  // iteration (step T - 1 - i) and pass
    // -3 the weights, -2 step start, -1 prologue, 0 .. n - 1 K, n cells, n + 1 partials, n + 2 publish
    int interval = -3;
    int need = 0;  // blocks that must have published iteration i - 1 before the next interval
    bool done = false;
  };
  std::vector<Block> blocks;
  blocks.reserve(std::size_t(plan.blocks));
  for (int b = 0; b < plan.blocks; ++b)
    blocks.push_back(Block{SharedMemory(plan.shared.total), std::vector<typename K::Registers>(K::kThreads), {}});

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
      interval(K::kThreads, order, blk.shared, [&](int th, unsigned char* s) {
        typename K::Registers& r = blk.regs[std::size_t(th)];
        K::begin(r);
        if (n == 0) return;
        K::fetch(step, blk.pass, 0, th, r);
        K::store(plan, th, 0, r, s);
      });
      if (n > 0) check_fetched(b, blk, 0);
      wait_after(-1);
    } else if (j < n) {
      interval(K::kThreads, order, blk.shared, [&](int th, unsigned char* s) {
        typename K::Registers& r = blk.regs[std::size_t(th)];
        if (j + 1 < n) K::fetch(step, blk.pass, j + 1, th, r);
        K::multiply(plan, j, th, j & 1, s, r);
        if (j + 1 < n) K::store(plan, th, (j + 1) & 1, r, s);
      });
      if (j + 1 < n) check_fetched(b, blk, j + 1);
      wait_after(j);
    } else if (j == n) {
      interval(K::kThreads, order, blk.shared, [&](int th, unsigned char*) {
        K::cells(step, plan, b, blk.pass, th, blk.regs[std::size_t(th)]);
      });
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

// The kernel for the plan's U.
inline PersistentStats persistent_backward(const PersistentBackwardArgs& a, const PersistentPlan& plan,
                                           ThreadOrder order, BlockSchedule schedule, std::uint64_t seed = 1,
                                           PersistentFaults faults = {}) {
  switch (plan.units) {
    case 1:
      return persistent_backward<1>(a, plan, order, schedule, seed, faults);
    case 2:
      return persistent_backward<2>(a, plan, order, schedule, seed, faults);
    case 4:
      return persistent_backward<4>(a, plan, order, schedule, seed, faults);
    case 8:
      return persistent_backward<8>(a, plan, order, schedule, seed, faults);
    default:
      throw std::logic_error("persistent_backward: no kernel for U " + std::to_string(plan.units));
  }
}

}  // namespace nocturne::kernels::simulation
