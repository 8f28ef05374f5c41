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
#include "kernels/persistent_wavefront.hpp"
#include "step_simulator.hpp"

namespace nocturne::inline v0::kernels::simulation {

// How the blocks interleave: one interval each in turn (forwards or
// backwards), each as far as it can before the next (greedy, from the last
// block: the consumers run ahead of the producers), or a seeded random pick.
enum class BlockSchedule { round_robin, round_robin_backwards, greedy_last_first, random };

struct PersistentFaults {
  bool skip_waits = false;    // the kernel without its waits: the checker must catch it
  bool skip_x_waits = false;  // the wavefront's layer 2 without its waits on layer 1
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

// Interleaves `count` blocks by the schedule, advance(b) running block b's
// next interval (false where it is done or must wait), until done(b) for all.
template <typename Done, typename Advance>
void run_schedule(int count, Done done, BlockSchedule schedule, std::uint64_t seed, Advance advance) {
  auto all_done = [&] {
    for (int b = 0; b < count; ++b)
      if (!done(b)) return false;
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
template <typename Blocks, typename Advance>
void run_schedule(const Blocks& blocks, BlockSchedule schedule, std::uint64_t seed, Advance advance) {
  run_schedule(
      int(blocks.size()), [&](int b) { return blocks[std::size_t(b)].done; }, schedule, seed, advance);
}

// The run's result: every element published, copied out.
inline void copy_published(const std::vector<float>& visible, const char* what, float* out) {
  for (std::size_t i = 0; i < visible.size(); ++i)
    if (std::isnan(visible[i]))
      throw std::logic_error(std::string(what) + " element " + std::to_string(i) + " never published");
  std::copy(visible.begin(), visible.end(), out);
}

// The blocks of one layer's persistent forward: each a state machine over
// the kernel's barrier intervals. Its h_t (and h_dropped_t) writes stay
// private until the block publishes step t; flags are the layer's own. In
// the wavefront (persistent_wavefront.hpp) layer 2's x is layer 1's visible
// output and its waits include layer 1's flags (x_flags).
// K: PersistentForwardSimt<U> or PersistentForwardWmma<U, mode> (whose
// fragments are replaced by host_mma over the staged, rounded operands, in
// the order of k; their staging and their epilogue are the kernel's code).
template <typename K>
class ForwardLayerSimulation {
 public:
  ForwardLayerSimulation(const PersistentForwardArgs& args, const PersistentPlan& plan, ThreadOrder order,
                         PersistentFaults faults, unsigned* flags, PersistentStats& stats)
      : a_(args), plan_(plan), order_(order), faults_(faults), stats_(stats), out_h_(args.h),
        out_dropped_(args.h_dropped) {
    if (!plan.fits()) throw std::logic_error("persistent_forward: plan does not fit");
    nh_ = std::size_t(a_.batch) * std::size_t(a_.hidden);
    const std::size_t all = std::size_t(a_.steps) * nh_;
    visible_.assign(all, kNan);
    pending_.assign(all, kNan);
    a_.h = pending_.data();
    a_.h_read = visible_.data();
    if (out_dropped_) {
      visible_dropped_.assign(all, kNan);
      pending_dropped_.assign(all, kNan);
      a_.h_dropped = pending_dropped_.data();
    }
    a_.flags = flags;
    blocks_.reserve(std::size_t(plan.blocks));
    for (int b = 0; b < plan.blocks; ++b)
      blocks_.push_back(Block{SharedMemory(plan.shared.total), std::vector<typename K::Registers>(K::kThreads)});
  }
  ForwardLayerSimulation(const ForwardLayerSimulation&) = delete;
  ForwardLayerSimulation& operator=(const ForwardLayerSimulation&) = delete;

  // The wavefront's layer 2: its waits are `wavefront`'s (layer 1's flags
  // first in x_flags), every step's included.
  void wait_as_layer2(const WavefrontPlan* wavefront, const unsigned* x_flags) {
    wavefront_ = wavefront;
    x_flags_ = x_flags;
  }
  // What the other blocks see: h and h_dropped as published so far (NaN elsewhere).
  const float* visible_h() const { return visible_.data(); }
  const float* visible_dropped() const { return out_dropped_ ? visible_dropped_.data() : nullptr; }

  int blocks() const { return plan_.blocks; }
  bool done(int b) const { return blocks_[std::size_t(b)].done; }
  int steps_published(int b) const { return blocks_[std::size_t(b)].t; }

  // Runs block b's next interval; false where it is done or must still wait.
  bool advance(int b) {
    Block& blk = blocks_[std::size_t(b)];
    if (blk.done) return false;
    if (!faults_.skip_waits && !published(blk)) {
      ++stats_.stalls;
      return false;
    }
    ++stats_.intervals;
    const PersistentPlan& plan = plan_;
    const PersistentForwardArgs& a = a_;
    const int cols = kUnitGates * plan.units;
    const int n = persistent_slices(plan, blk.t);
    const int j = blk.interval;
    auto wait_after = [&](int interval) {
      if (wavefront_) {
        const WavefrontWait need = wavefront_wait(*wavefront_, blk.t, interval);
        blk.need = need.own;
        blk.need_x = faults_.skip_x_waits ? 0 : need.layer1;
      } else {
        blk.need = blk.t > 0 ? blocks_needed(plan, slices_ready_after(plan, interval)) : 0;
      }
    };
    if (j == -3) {
      interval(K::kThreads, order_, blk.shared,
               [&](int th, unsigned char* s) { K::load_weights(a, plan, b, th, s); });
      blk.need = 0;
    } else if (j == -2) {
      wait_after(-2);
    } else if (j == -1) {
      if constexpr (K::kTensorCores) blk.acc.assign(std::size_t(kPersistentPassRows) * std::size_t(cols), 0.0f);
      interval(K::kThreads, order_, blk.shared, [&](int th, unsigned char* s) {
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
      interval(K::kThreads, order_, blk.shared, [&](int th, unsigned char* s) {
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
        interval(K::kThreads, order_, blk.shared,
                 [&](int th, unsigned char* s) { K::finish(step, plan, b, blk.pass, th, s); });
      } else {
        interval(K::kThreads, order_, blk.shared,
                 [&](int th, unsigned char*) { K::finish(step, plan, b, blk.pass, th, blk.regs[std::size_t(th)]); });
      }
      // What the block wrote of h_t (and h_dropped_t) stays private until it publishes.
      keep_private(pending_, blk.t, blk.written);
      if (out_dropped_) keep_private(pending_dropped_, blk.t, blk.written_dropped);
      blk.need = 0;
      blk.need_x = 0;
      if (++blk.pass < plan.passes) {
        blk.interval = -2;
        return true;
      }
    } else {
      publish_written(blk.written, visible_, "h", b);
      if (out_dropped_) publish_written(blk.written_dropped, visible_dropped_, "h_dropped", b);
      a_.flags[std::size_t(b)] = unsigned(blk.t) + 1;
      blk.pass = 0;
      blk.need = 0;
      blk.need_x = 0;
      if (++blk.t == a.steps) {
        blk.done = true;
        return true;
      }
      blk.interval = -2;
      return true;
    }
    ++blk.interval;
    return true;
  }

  // Every element published: copied to the caller's h (and h_dropped).
  void copy_out() const {
    copy_published(visible_, "h", out_h_);
    if (out_dropped_) copy_published(visible_dropped_, "h_dropped", out_dropped_);
  }

 private:
  static constexpr float kNan = std::numeric_limits<float>::quiet_NaN();
  struct Block {
    SharedMemory shared;
    std::vector<typename K::Registers> regs;
    std::vector<std::pair<std::size_t, float>> written = {};          // h_t elements not yet published
    std::vector<std::pair<std::size_t, float>> written_dropped = {};  // h_dropped_t's
    std::vector<float> acc = {};  // tensor cores: the warps' fragments [pass rows][4U]
    int t = 0, pass = 0;
    int interval = -3;  // -3 the weights, -2 step start, -1 prologue, 0 .. n - 1 K, n finish, n + 1 publish
    int need = 0;       // blocks of this layer that must have published step t - 1 before the next interval
    int need_x = 0;     // the wavefront's layer 2: layer-1 blocks that must have published step t
    bool done = false;
  };

  bool published(const Block& blk) const {
    for (int b = 0; b < blk.need; ++b)
      if (a_.flags[std::size_t(b)] < unsigned(blk.t)) return false;
    for (int b = 0; b < blk.need_x; ++b)
      if (x_flags_[std::size_t(b)] < unsigned(blk.t) + 1) return false;
    return true;
  }
  void check_fetched(int b, const Block& blk, int slice) const {
    for (const auto& r : blk.regs)
      for (float v : r.a)
        if (std::isnan(v))
          throw std::logic_error("block " + std::to_string(b) + " step " + std::to_string(blk.t) + " slice " +
                                 std::to_string(slice) + ": read h before its producer published it");
  }
  void keep_private(std::vector<float>& pending, int t, std::vector<std::pair<std::size_t, float>>& written) {
    float* h = pending.data() + std::size_t(t) * nh_;
    for (std::size_t i = 0; i < nh_; ++i)
      if (!std::isnan(h[i])) {
        written.push_back({std::size_t(t) * nh_ + i, h[i]});
        h[i] = kNan;
      }
  }

  PersistentForwardArgs a_;
  const PersistentPlan& plan_;
  ThreadOrder order_;
  PersistentFaults faults_;
  PersistentStats& stats_;
  float* out_h_;
  float* out_dropped_;
  std::size_t nh_ = 0;
  std::vector<float> visible_, pending_, visible_dropped_, pending_dropped_;
  std::vector<Block> blocks_;
  const WavefrontPlan* wavefront_ = nullptr;
  const unsigned* x_flags_ = nullptr;
};

template <typename K>
PersistentStats persistent_forward_run(PersistentForwardArgs a, const PersistentPlan& plan, ThreadOrder order,
                                       BlockSchedule schedule, std::uint64_t seed = 1, PersistentFaults faults = {}) {
  PersistentStats stats;
  std::vector<unsigned> flags(std::size_t(plan.blocks), 0);
  ForwardLayerSimulation<K> layer(a, plan, order, faults, flags.data(), stats);
  run_schedule(
      layer.blocks(), [&](int b) { return layer.done(b); }, schedule, seed, [&](int b) { return layer.advance(b); });
  layer.copy_out();
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

// ---- the wavefront (persistent_wavefront.hpp) ---------------------------------------------
// Both layers' blocks in one schedule over one grid: block b < B1 is layer
// 1's block b, the others layer 2's block b - B1. Layer 2's x is what layer
// 1 has published of h (or h_dropped, where layer 1 drops): NaN until then,
// so a layer-2 fetch ahead of layer 1's release is caught as a read of
// unpublished h. a2.x is replaced by that buffer.
struct WavefrontStats {
  PersistentStats blocks;
  // Layer 1's fewest published steps (over its blocks) when the first layer-2
  // block published step 0: below T where layer 2 ran beside layer 1.
  int layer1_steps_at_layer2_start = -1;
};

template <typename K1, typename K2>
WavefrontStats persistent_wavefront_run(const PersistentForwardArgs& a1, PersistentForwardArgs a2,
                                        const WavefrontPlan& w, ThreadOrder order, BlockSchedule schedule,
                                        std::uint64_t seed, PersistentFaults faults) {
  if (!w.fits()) throw std::logic_error("persistent_wavefront: plan does not fit");
  WavefrontStats stats;
  std::vector<unsigned> flags(std::size_t(w.blocks), 0);
  ForwardLayerSimulation<K1> layer1(a1, w.layer1, order, faults, flags.data(), stats.blocks);
  const float* x = a1.h_dropped ? layer1.visible_dropped() : layer1.visible_h();
  a2.x = x;
  a2.x_in_flight = true;
  a2.vector_x = vector_loads(reinterpret_cast<std::uintptr_t>(x), a2.input);
  ForwardLayerSimulation<K2> layer2(a2, w.layer2, order, faults,
                                    flags.data() + wavefront_layer2_flags(w), stats.blocks);
  layer2.wait_as_layer2(&w, flags.data());
  const int b1 = w.layer1.blocks;
  auto advance = [&](int b) {
    if (b < b1) return layer1.advance(b);
    const bool moved = layer2.advance(b - b1);
    if (moved && stats.layer1_steps_at_layer2_start < 0 && layer2.steps_published(b - b1) > 0) {
      int fewest = a1.steps;
      for (int q = 0; q < b1; ++q) fewest = std::min(fewest, layer1.steps_published(q));
      stats.layer1_steps_at_layer2_start = fewest;
    }
    return moved;
  };
  run_schedule(
      w.blocks, [&](int b) { return b < b1 ? layer1.done(b) : layer2.done(b - b1); }, schedule, seed, advance);
  layer1.copy_out();
  layer2.copy_out();
  return stats;
}

// Calls f with the strict-FP32 kernel of U units.
template <typename F>
auto with_simt_kernel(int units, F f) {
  switch (units) {
    case 1: return f(PersistentForwardSimt<1>{});
    case 2: return f(PersistentForwardSimt<2>{});
    case 4: return f(PersistentForwardSimt<4>{});
    case 8: return f(PersistentForwardSimt<8>{});
  }
  throw std::logic_error("persistent_wavefront: no kernel for U " + std::to_string(units));
}

// The wavefront's launch, strict FP32: a1 layer 1's sequence, a2 layer 2's
// (its x replaced by layer 1's published output).
inline WavefrontStats persistent_wavefront_forward(const PersistentForwardArgs& a1, const PersistentForwardArgs& a2,
                                                   const WavefrontPlan& w, ThreadOrder order,
                                                   BlockSchedule schedule, std::uint64_t seed = 1,
                                                   PersistentFaults faults = {}) {
  return with_simt_kernel(w.layer1.units, [&](auto k1) {
    return with_simt_kernel(w.layer2.units, [&](auto k2) {
      return persistent_wavefront_run<decltype(k1), decltype(k2)>(a1, a2, w, order, schedule, seed, faults);
    });
  });
}

}  // namespace nocturne::kernels::simulation
