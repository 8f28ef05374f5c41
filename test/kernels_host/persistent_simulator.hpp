#pragma once
// A host simulator of the persistent forward kernel (kernels/lstm_persistent.cu):
// every block is a state machine over the kernel's barrier intervals
// (kernels/lstm_persistent_phases.hpp), the blocks interleaved by a schedule,
// the threads of one interval run as step_simulator.hpp runs them.
//
// Memory order, emulated: a block's h_t writes go to a private buffer and
// become visible to the other blocks only when the block publishes step t
// (its release of flags[block]); h_{t-1} is read from the visible buffer,
// which holds NaN until then. So a block that fetches a slice before its
// producers published it reads NaN, and the simulator stops with the block,
// step and slice (the checker); a published element written twice, an
// element never published, and a schedule where no block can move (a
// deadlock) are errors too.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "kernels/lstm_persistent_phases.hpp"
#include "kernels/persistent_partition.hpp"
#include "step_simulator.hpp"

namespace nocturne::inline v0::kernels::simulation {

// How the blocks interleave: one interval each in turn (forwards or
// backwards), each as far as it can before the next (greedy, from the last
// block: the consumers run ahead of the producers), or a seeded random pick.
enum class BlockSchedule { round_robin, round_robin_backwards, greedy_last_first, random };

struct PersistentFaults {
  bool skip_waits = false;  // the kernel without its waits: the checker must catch it
};

struct PersistentStats {
  long long intervals = 0;  // barrier intervals run, all blocks
  long long stalls = 0;     // times a block was picked and had to wait
};

// A block publishes a step: what it wrote (still private) becomes visible to
// the other blocks; an element already visible was written twice.
inline void publish_written(std::vector<std::pair<std::size_t, float>>& written, std::vector<float>& visible,
                            const char* what, int block) {
  for (const auto& [index, value] : written) {
    if (!std::isnan(visible[index]))
      throw std::logic_error(std::string(what) + " element " + std::to_string(index) + " published twice (block " +
                             std::to_string(block) + ")");
    visible[index] = value;
  }
  written.clear();
}

// Interleaves the blocks by the schedule, advance(b) running block b's next
// interval (false where it is done or must wait), until every block is done.
template <typename Blocks, typename Advance>
void run_schedule(const Blocks& blocks, BlockSchedule schedule, std::uint64_t seed, Advance advance) {
  const int count = int(blocks.size());
  auto all_done = [&] {
    for (const auto& blk : blocks)
      if (!blk.done) return false;
    return true;
  };
  std::uint64_t state = seed;
  while (!all_done()) {
    bool moved = false;
    switch (schedule) {
      case BlockSchedule::round_robin:
        for (int b = 0; b < count; ++b) moved = advance(b) || moved;
        break;
      case BlockSchedule::round_robin_backwards:
        for (int b = count - 1; b >= 0; --b) moved = advance(b) || moved;
        break;
      case BlockSchedule::greedy_last_first:
        for (int b = count - 1; b >= 0; --b)
          while (advance(b)) moved = true;
        break;
      case BlockSchedule::random:
        for (int i = 0; i < count; ++i) {
          state = state * 6364136223846793005ULL + 1442695040888963407ULL;
          moved = advance(int((state >> 33) % std::uint64_t(count))) || moved;
        }
        if (!moved)  // a random round may miss the one block that can move
          for (int b = 0; b < count; ++b) moved = advance(b) || moved;
        break;
    }
    if (!moved) throw std::logic_error("deadlock: no block can move");
  }
}

// The run's result: every element published, copied out.
inline void copy_published(const std::vector<float>& visible, const char* what, float* out) {
  for (std::size_t i = 0; i < visible.size(); ++i)
    if (std::isnan(visible[i]))
      throw std::logic_error(std::string(what) + " element " + std::to_string(i) + " never published");
  std::copy(visible.begin(), visible.end(), out);
}

// K: PersistentForwardSimt<U> or PersistentForwardWmma<U, mode> (whose
// fragments are replaced by host_mma over the staged, rounded operands, in
// the order of k; their staging and their epilogue are the kernel's code).
template <typename K>
PersistentStats persistent_forward_run(PersistentForwardArgs a, const PersistentPlan& plan, ThreadOrder order,
                                       BlockSchedule schedule, std::uint64_t seed = 1, PersistentFaults faults = {}) {
  if (!plan.fits()) throw std::logic_error("persistent_forward: plan does not fit");
  const std::size_t nh = std::size_t(a.batch) * std::size_t(a.hidden), all = std::size_t(a.steps) * nh;
  const float nan = std::numeric_limits<float>::quiet_NaN();
  float* out = a.h;
  std::vector<float> visible(all, nan), pending(all, nan);
  std::vector<unsigned> flags(std::size_t(plan.blocks), 0);
  a.h = pending.data();
  a.h_read = visible.data();
  a.flags = flags.data();

  struct Block {
    SharedMemory shared;
    std::vector<typename K::Registers> regs;
    std::vector<std::pair<std::size_t, float>> written;  // h_t elements not yet published
    std::vector<float> acc;                              // tensor cores: the warps' fragments [pass rows][4U]
    int t = 0, pass = 0;
    int interval = -3;  // -3 the weights, -2 step start, -1 prologue, 0 .. n - 1 K, n finish, n + 1 publish
    int need = 0;       // blocks that must have published step t - 1 before the next interval
    bool done = false;
  };
  std::vector<Block> blocks;
  blocks.reserve(std::size_t(plan.blocks));
  for (int b = 0; b < plan.blocks; ++b)
    blocks.push_back(Block{SharedMemory(plan.shared.total), std::vector<typename K::Registers>(K::kThreads), {}, {}});
  const int cols = kUnitGates * plan.units;

  PersistentStats stats;
  auto published = [&](const Block& blk) {
    for (int b = 0; b < blk.need; ++b)
      if (flags[std::size_t(b)] < unsigned(blk.t)) return false;
    return true;
  };
  auto check_fetched = [&](int b, const Block& blk, int slice) {
    for (const auto& r : blk.regs)
      for (float v : r.a)
        if (std::isnan(v))
          throw std::logic_error("block " + std::to_string(b) + " step " + std::to_string(blk.t) + " slice " +
                                 std::to_string(slice) + ": read h before its producer published it");
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
    const int n = persistent_slices(plan, blk.t);
    const int j = blk.interval;
    auto wait_after = [&](int interval) {
      blk.need = blk.t > 0 ? blocks_needed(plan, slices_ready_after(plan, interval)) : 0;
    };
    if (j == -3) {
      interval(K::kThreads, order, blk.shared,
               [&](int th, unsigned char* s) { K::load_weights(a, plan, b, th, s); });
      blk.need = 0;
    } else if (j == -2) {
      wait_after(-2);
    } else if (j == -1) {
      if constexpr (K::kTensorCores) blk.acc.assign(std::size_t(kPersistentPassRows) * std::size_t(cols), 0.0f);
      interval(K::kThreads, order, blk.shared, [&](int th, unsigned char* s) {
        typename K::Registers& r = blk.regs[std::size_t(th)];
        if constexpr (!K::kTensorCores) K::begin(r);
        if (n == 0) return;
        K::fetch(a, plan, blk.t, blk.pass, 0, th, r);
        K::store(plan, th, 0, r, s);
      });
      if (n > 0) check_fetched(b, blk, 0);
      wait_after(-1);
    } else if (j < n) {
      // The fetch of slice j + 1 and the multiply of slice j share the interval
      // (the warps' fragments read stage j & 1 before any thread stores the next).
      if constexpr (K::kTensorCores)
        host_mma(K::a_stage(plan, blk.shared.data(), j & 1), plan.shared.a_pitch,
                 K::weights(blk.shared.data()) + persistent_weight_row(plan, blk.t, j) * plan.shared.weight_pitch,
                 plan.shared.weight_pitch, false, kPersistentPassRows, cols, 0, kPersistentDepth, blk.acc);
      interval(K::kThreads, order, blk.shared, [&](int th, unsigned char* s) {
        typename K::Registers& r = blk.regs[std::size_t(th)];
        if (j + 1 < n) K::fetch(a, plan, blk.t, blk.pass, j + 1, th, r);
        if constexpr (!K::kTensorCores) K::multiply(plan, blk.t, j, th, j & 1, s, r);
        if (j + 1 < n) K::store(plan, th, (j + 1) & 1, r, s);
      });
      if (j + 1 < n) check_fetched(b, blk, j + 1);
      wait_after(j);
    } else if (j == n) {
      const ForwardArgs step = persistent_step_args(a, blk.t);
      if constexpr (K::kTensorCores) {
        // store_matrix_sync of every fragment, then a barrier, then the cells.
        float* tile = K::accumulators(plan, blk.shared.data());
        for (int m = 0; m < kPersistentPassRows; ++m)
          for (int c = 0; c < cols; ++c)
            tile[m * plan.shared.acc_pitch + c] = blk.acc[std::size_t(m) * std::size_t(cols) + std::size_t(c)];
        interval(K::kThreads, order, blk.shared,
                 [&](int th, unsigned char* s) { K::finish(step, plan, b, blk.pass, th, s); });
      } else {
        interval(K::kThreads, order, blk.shared,
                 [&](int th, unsigned char*) { K::finish(step, plan, b, blk.pass, th, blk.regs[std::size_t(th)]); });
      }
      // What the block wrote of h_t stays private until it publishes.
      float* h = pending.data() + std::size_t(blk.t) * nh;
      for (std::size_t i = 0; i < nh; ++i)
        if (!std::isnan(h[i])) {
          blk.written.push_back({std::size_t(blk.t) * nh + i, h[i]});
          h[i] = nan;
        }
      blk.need = 0;
      if (++blk.pass < plan.passes) {
        blk.interval = -2;
        return true;
      }
    } else {
      publish_written(blk.written, visible, "h", b);
      flags[std::size_t(b)] = unsigned(blk.t) + 1;
      blk.pass = 0;
      blk.need = 0;
      if (++blk.t == a.steps) {
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
  copy_published(visible, "h", out);
  return stats;
}

// The kernel for the plan's mode and U.
inline PersistentStats persistent_forward(const PersistentForwardArgs& a, const PersistentPlan& plan,
                                          ThreadOrder order, BlockSchedule schedule, std::uint64_t seed = 1,
                                          PersistentFaults faults = {}) {
  auto run = [&](auto kernel) {
    return persistent_forward_run<decltype(kernel)>(a, plan, order, schedule, seed, faults);
  };
  switch (plan.operands) {
    case GemmOperands::fp32:
      switch (plan.units) {
        case 1: return run(PersistentForwardSimt<1>{});
        case 2: return run(PersistentForwardSimt<2>{});
        case 4: return run(PersistentForwardSimt<4>{});
        case 8: return run(PersistentForwardSimt<8>{});
      }
      break;
    case GemmOperands::tf32:
      if (plan.units == 4) return run(PersistentForwardWmma<4, GemmOperands::tf32>{});
      if (plan.units == 8) return run(PersistentForwardWmma<8, GemmOperands::tf32>{});
      break;
    case GemmOperands::bf16:
      if (plan.units == 4) return run(PersistentForwardWmma<4, GemmOperands::bf16>{});
      if (plan.units == 8) return run(PersistentForwardWmma<8, GemmOperands::bf16>{});
      break;
  }
  throw std::logic_error("persistent_forward: no kernel for U " + std::to_string(plan.units));
}

}  // namespace nocturne::kernels::simulation
