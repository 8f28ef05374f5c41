#pragma once
// The persistent backward kernel's work between its barriers
// (lstm_persistent_backward.cu), as __host__ __device__ functions the host
// simulator (test/kernels_host/persistent_backward_simulator.hpp) runs too.
// The partition and the waits are persistent_backward_plan's
// (persistent_partition.hpp); the staging and the cell are the fused step
// kernels' (lstm_step_phases.hpp), and the sums run in the fused FP32
// backward kernel's order, so each step gives its bits.
//
// A block's loop (strict FP32, CUDA cores), i = 0 .. T - 1 for t = T - 1 - i:
//   load_weights; barrier
//   for i: for each pass of rows:
//     [i > 0: wait(-2); barrier]
//     fetch(0); store(stage 0); wait(-1); barrier
//     for s: fetch(s + 1); multiply(stage s & 1); store(stage (s + 1) & 1); wait(s); barrier
//     cells (from registers: da to dgates_t, the dc carry); barrier
//     partials (the pass's partial blocks, from the block's own da_t)
//   barrier; thread 0: fence, flags[block] = i + 1 (release)
// where wait(j) is thread 0 acquiring the flags of the first
// blocks_needed(slices_ready_after(j)) blocks at i (none at i = 0: the last
// step has no recurrent term). The tensor-core variant
// (PersistentBackwardWmma, lstm_persistent_backward_wmma.cu) runs the same
// loop with the multiply on WMMA fragments (slice s into k-group s % 4's
// accumulators); before the cells each warp adds its groups' fragments in
// order and stores them to the accumulator tile, then a barrier, and the
// cells read their sums from there.

#include <cstddef>
#include <cstdint>

#include "fused_tiling.hpp"
#include "lstm_step_phases.hpp"
#include "persistent_partition.hpp"

namespace nocturne::inline v0::kernels {

// A layer's whole backward sequence (LstmSequenceBackward<float>).
struct PersistentBackwardArgs {
  int steps = 0, batch = 0, hidden = 0;
  int partial_blocks = 0;  // P: lstm_partial_blocks(N)
  const float* r = nullptr;        // [H, 4H]
  const float* dh = nullptr;       // [T, N, H] or null
  const float* dh_last = nullptr;  // [N, H] the last step's where dh is null, or null
  bool masked = false;             // dh goes through `dropout` (index offset + t N H)
  StepDropout dropout;
  const float* gates = nullptr;  // [T, N, 4H]
  const float* c = nullptr;      // [T, N, H]
  float* dc = nullptr;           // [N, H] the carry (each element only its owner's)
  // da_t is written through `dgates` and dgates_{t+1} read through
  // `dgates_read`: the same [T, N, 4H] buffer on the device; the simulator
  // reads only what was published (its emulation of the memory order).
  float* dgates = nullptr;
  const float* dgates_read = nullptr;
  float* db_partial = nullptr;  // [T, P, 4H]
  const float* x = nullptr;     // [T, N] or null
  float* dw_partial = nullptr;  // [T, P, 4H] where x
  unsigned* flags = nullptr;    // [blocks], zero at launch: steps each block published
  bool vector_dgates = false, vector_gates = false;
};

// Step t's arguments as the fused step's cell (backward_cell) takes them.
NOCTURNE_HD BackwardArgs persistent_backward_step_args(const PersistentBackwardArgs& a, int t) {
  const std::size_t nh = std::size_t(a.batch) * std::size_t(a.hidden);
  const std::size_t partials = std::size_t(a.partial_blocks) * kUnitGates * std::size_t(a.hidden);
  const std::size_t at = std::size_t(t);
  BackwardArgs s;
  s.batch = a.batch;
  s.hidden = a.hidden;
  s.r = a.r;
  s.dgates_next = t + 1 < a.steps ? a.dgates_read + (at + 1) * kUnitGates * nh : nullptr;
  s.dh = a.dh ? a.dh + at * nh : t + 1 == a.steps ? a.dh_last : nullptr;
  s.masked = a.masked && s.dh;
  s.dropout = a.dropout;
  s.dropout.offset += std::uint64_t(at * nh);
  s.gates = a.gates + at * kUnitGates * nh;
  s.c = a.c + at * nh;
  s.c_prev = t > 0 ? a.c + (at - 1) * nh : nullptr;
  s.dc = a.dc;
  s.dgates = a.dgates + at * kUnitGates * nh;
  s.db_partial = a.db_partial + at * partials;
  s.x = a.x ? a.x + at * std::size_t(a.batch) : nullptr;
  s.dw_partial = a.x ? a.dw_partial + at * partials : nullptr;
  s.vector_dgates_next = a.vector_dgates;  // every step's slice is aligned where step 0's is
  s.vector_gates = a.vector_gates;
  s.vector_dgates = a.vector_dgates;
  return s;
}

// Iteration i runs step T - 1 - i; its K slices of dgates_{t+1} (none at T - 1).
NOCTURNE_HD int persistent_backward_step(const PersistentBackwardArgs& a, int iteration) {
  return a.steps - 1 - iteration;
}
NOCTURNE_HD int persistent_backward_slices(const PersistentPlan& p, int iteration) {
  return iteration > 0 ? p.recurrent_slices : 0;
}

// The partial sums of the pass's partial blocks for the block's 4U columns,
// rows in increasing order from the block's own da_t (written by its threads
// before the last barrier): db_partial, and dw_partial with x. Every variant's.
NOCTURNE_HD void persistent_backward_partials(const BackwardArgs& step, const PersistentPlan& p, int block, int pass,
                                              int thread) {
  const UnitRange units = block_units(p, block);
  const int cols = kUnitGates * (units.end - units.first);
  const int row0 = pass * kPersistentPassRows;
  const int row_end = row0 + kPersistentPassRows < step.batch ? row0 + kPersistentPassRows : step.batch;
  const int first_block = row0 / kPartialRows, blocks = ceil_div(row_end - row0, kPartialRows);
  const std::size_t width = std::size_t(kUnitGates) * std::size_t(step.hidden);
  for (int item = thread; item < 2 * blocks * cols; item += kPersistentThreads) {
    const bool input = item >= blocks * cols;
    const int rest = input ? item - blocks * cols : item;
    const int partial = first_block + rest / cols;
    const std::size_t col = std::size_t(units.first) * kUnitGates + std::size_t(rest % cols);
    if (input && !step.x) continue;
    const int m0 = partial * kPartialRows;
    const int m1 = m0 + kPartialRows < step.batch ? m0 + kPartialRows : step.batch;
    float sum = 0.0f;
    for (int m = m0; m < m1; ++m) {
      const float da = load_past_l1(step.dgates + std::size_t(m) * width + col);
      if (input)
        math::add_input_partial(sum, step.x[m], da);
      else
        math::add_bias_partial(sum, da);
    }
    (input ? step.dw_partial : step.db_partial)[std::size_t(partial) * width + col] = sum;
  }
}

template <int kUnits>
struct PersistentBackwardSimt {
  static constexpr bool kTensorCores = false;
  static constexpr int kBlockUnits = kUnits;
  static constexpr int kThreads = kPersistentThreads;
  static constexpr int kGroups = kPersistentBackwardGroups;
  static_assert(kThreads % kUnits == 0 && (kThreads / kUnits) * kUnits == kPersistentPassRows,
                "the threads' U rows x 1 unit micro-tiles cover a pass");
  static_assert(kPersistentPassRows % kPartialRows == 0, "a pass holds whole partial blocks");
  static constexpr SliceShape kA{kPersistentPassRows, kPersistentDepth, kThreads};

  struct Registers {
    // acc[i][0] takes the current slice; the four rotate after each slice so
    // that slice s lands in k-group s % 4's sum (whole groups: back in place).
    float acc[kUnits][kGroups];
    float a[kA.per_thread()];
    bool vector_a = false;
  };

  static NOCTURNE_HD float* weights(unsigned char* shared) { return reinterpret_cast<float*>(shared); }
  static NOCTURNE_HD float* a_stage(const PersistentPlan& p, unsigned char* shared, int stage) {
    return reinterpret_cast<float*>(shared + p.shared.weights + std::size_t(stage) * p.shared.a_stage);
  }

  // R^T's slice [k][unit]: the block's U rows of R, zero past 4H and past
  // the last unit; once per launch, read along R's rows.
  static NOCTURNE_HD void load_weights(const PersistentBackwardArgs& a, const PersistentPlan& p, int block,
                                       int thread, unsigned char* shared) {
    const UnitRange units = block_units(p, block);
    const int rows = p.shared.weight_rows, cols = kUnitGates * a.hidden;
    float* out = weights(shared);
    for (int item = thread; item < rows * kUnits; item += kThreads) {
      const int col = item / rows, k = item % rows;
      const int unit = units.first + col;
      out[k * p.shared.weight_pitch + col] =
          unit < units.end && k < cols ? a.r[std::size_t(unit) * std::size_t(cols) + std::size_t(k)] : 0.0f;
    }
  }

  static NOCTURNE_HD void begin(Registers& r) {
    NOCTURNE_UNROLL
    for (int i = 0; i < kUnits; ++i) {
      NOCTURNE_UNROLL
      for (int g = 0; g < kGroups; ++g) r.acc[i][g] = 0.0f;
    }
  }

  // Slice s of dgates_{t+1} [N, 4H], rows of pass `pass`; zeros outside;
  // past L1 (published by other blocks during the launch).
  static NOCTURNE_HD void fetch(const BackwardArgs& step, int pass, int slice, int thread, Registers& r) {
    r.vector_a = step.vector_dgates_next;
    const int cols = kUnitGates * step.hidden;
    fetch_slice<kA, true>(step.dgates_next, std::size_t(cols), pass * kPersistentPassRows, step.batch,
                          slice * kPersistentDepth, cols, step.vector_dgates_next, thread, r.a);
  }

  // Transposed ([k][row]), so a thread reads its U rows as one run.
  static NOCTURNE_HD void store(const PersistentPlan& p, int thread, int stage, const Registers& r,
                                unsigned char* shared) {
    store_slice<kA, true>(a_stage(p, shared, stage), p.shared.a_pitch, r.vector_a, thread, r.a,
                          Staging<GemmOperands::fp32>{});
  }

  // acc[.][0] += dgates_{t+1}[the thread's rows, slice] * R^T[slice, the
  // thread's unit], FMA after FMA as one k-group of the fused kernel; then
  // the rotation to the next slice's group.
  static NOCTURNE_HD void multiply(const PersistentPlan& p, int slice, int thread, int stage, unsigned char* shared,
                                   Registers& r) {
    const PersistentRole role = persistent_role(kUnits, thread);
    const float* av_base = a_stage(p, shared, stage) + role.row;
    const float* bv_base = weights(shared) + slice * kPersistentDepth * p.shared.weight_pitch + role.unit;
    NOCTURNE_UNROLL
    for (int k = 0; k < kPersistentDepth; ++k) {
      float av[kUnits];
      load_run<kUnits>(av_base + k * p.shared.a_pitch, av);
      const float bv = bv_base[k * p.shared.weight_pitch];
      NOCTURNE_UNROLL
      for (int i = 0; i < kUnits; ++i) r.acc[i][0] = math::fma_of(av[i], bv, r.acc[i][0]);
    }
    NOCTURNE_UNROLL
    for (int i = 0; i < kUnits; ++i) {
      const float first = r.acc[i][0];
      NOCTURNE_UNROLL
      for (int g = 0; g + 1 < kGroups; ++g) r.acc[i][g] = r.acc[i][g + 1];
      r.acc[i][kGroups - 1] = first;
    }
  }

  // The cells of the thread's rows and unit: the groups' sums added in
  // order (as the fused kernel adds its k-groups'), then backward_cell.
  static NOCTURNE_HD void cells(const BackwardArgs& step, const PersistentPlan& p, int block, int pass, int thread,
                                const Registers& r) {
    const PersistentRole role = persistent_role(kUnits, thread);
    const int unit = block_units(p, block).first + role.unit;
    if (unit >= block_units(p, block).end) return;
    NOCTURNE_UNROLL
    for (int i = 0; i < kUnits; ++i) {
      const int row = pass * kPersistentPassRows + role.row + i;
      if (row >= step.batch) continue;
      float recurrent = r.acc[i][0];
      NOCTURNE_UNROLL
      for (int g = 1; g < kGroups; ++g) recurrent += r.acc[i][g];
      float da[4];
      backward_cell(step, row, unit, recurrent, da);
    }
  }

  static NOCTURNE_HD void partials(const BackwardArgs& step, const PersistentPlan& p, int block, int pass,
                                   int thread) {
    persistent_backward_partials(step, p, block, pass, thread);
  }
};

// The tensor-core variant (TF32, BF16): the same loop, waits and exchange,
// U 16 (persistent_backward_plan with operands). R^T's slice is resident
// column-major ([unit][k], R's own rows) in the operand type, rounded once at
// load as the fused tensor-core backward kernel rounds R every step; the
// staged dgates_{t+1} is rounded while staged, row-major [row][16 + pad].
// Warp w's fragments cover rows [32 w, 32 w + 32) of the pass x the 16 units,
// one accumulator per k-group (K slice s to group s % 4, on the device in
// lstm_persistent_backward_wmma.cu; the host simulator multiplies the staged
// operands in FP32 instead); after the K loop each warp adds its groups'
// fragments in group order (the fused kernel's order), stores the sums to
// the accumulator tile, and the threads run the cells from there.
template <GemmOperands kOperands>
struct PersistentBackwardWmma {
  static_assert(kOperands != GemmOperands::fp32, "tensor cores take TF32 or BF16");
  static constexpr bool kTensorCores = true;
  static constexpr int kUnits = kPersistentBackwardWmmaUnits;
  static constexpr int kBlockUnits = kUnits;
  static constexpr int kThreads = kPersistentThreads;
  static constexpr int kGroups = kPersistentBackwardGroups;
  static constexpr int kFragRows = kPersistentWarpRows / kFragment;
  static_assert(kThreads / kWarp * kPersistentWarpRows == kPersistentPassRows, "the warps' rows cover a pass");
  static constexpr SliceShape kA{kPersistentPassRows, kPersistentDepth, kThreads};
  using Element = typename Staging<kOperands>::Element;

  struct Registers {
    float a[kA.per_thread()];
    bool vector_a = false;
  };

  static NOCTURNE_HD Element* weights(unsigned char* shared) { return reinterpret_cast<Element*>(shared); }
  static NOCTURNE_HD Element* a_stage(const PersistentPlan& p, unsigned char* shared, int stage) {
    return reinterpret_cast<Element*>(shared + p.shared.weights + std::size_t(stage) * p.shared.a_stage);
  }
  static NOCTURNE_HD float* accumulators(const PersistentPlan& p, unsigned char* shared) {
    return reinterpret_cast<float*>(shared + p.shared.acc_offset);
  }
  // Warp w's first row within the pass.
  static NOCTURNE_HD int warp_row(int warp) { return warp * kPersistentWarpRows; }

  // R^T's slice [unit][k]: the block's 16 rows of R, rounded, zero past 4H
  // and past the last unit; once per launch, read along R's rows.
  static NOCTURNE_HD void load_weights(const PersistentBackwardArgs& a, const PersistentPlan& p, int block,
                                       int thread, unsigned char* shared) {
    const UnitRange units = block_units(p, block);
    const int rows = p.shared.weight_rows, cols = kUnitGates * a.hidden;
    Element* out = weights(shared);
    const Staging<kOperands> round;
    for (int item = thread; item < rows * kUnits; item += kThreads) {
      const int col = item / rows, k = item % rows;
      const int unit = units.first + col;
      const float v =
          unit < units.end && k < cols ? a.r[std::size_t(unit) * std::size_t(cols) + std::size_t(k)] : 0.0f;
      out[col * p.shared.weight_pitch + k] = round(v);
    }
  }

  // Slice s of dgates_{t+1} [N, 4H], rows of pass `pass`; zeros outside; past L1.
  static NOCTURNE_HD void fetch(const BackwardArgs& step, int pass, int slice, int thread, Registers& r) {
    r.vector_a = step.vector_dgates_next;
    const int cols = kUnitGates * step.hidden;
    fetch_slice<kA, true>(step.dgates_next, std::size_t(cols), pass * kPersistentPassRows, step.batch,
                          slice * kPersistentDepth, cols, step.vector_dgates_next, thread, r.a);
  }

  // Row-major [row][k], rounded to the operand type, as WMMA loads A.
  static NOCTURNE_HD void store(const PersistentPlan& p, int thread, int stage, const Registers& r,
                                unsigned char* shared) {
    store_slice<kA, false>(a_stage(p, shared, stage), p.shared.a_pitch, r.vector_a, thread, r.a,
                           Staging<kOperands>{});
  }

  // The cells of the thread's (row, unit) pairs of the pass, the recurrent
  // sums from the accumulator tile (the groups already added in order).
  static NOCTURNE_HD void cells(const BackwardArgs& step, const PersistentPlan& p, int block, int pass, int thread,
                                unsigned char* shared) {
    const UnitRange units = block_units(p, block);
    const float* acc = accumulators(p, shared);
    // Not unrolled: the 16 cells unrolled took 20 more registers (247, sm_90).
    for (int q = 0; q < persistent_backward_cells_per_thread(); ++q) {
      const PersistentRole at = persistent_backward_cell(thread, q);
      const int row = pass * kPersistentPassRows + at.row, unit = units.first + at.unit;
      if (row >= step.batch || unit >= units.end) continue;
      float da[4];
      backward_cell(step, row, unit, acc[at.row * p.shared.acc_pitch + at.unit], da);
    }
  }

  static NOCTURNE_HD void partials(const BackwardArgs& step, const PersistentPlan& p, int block, int pass,
                                   int thread) {
    persistent_backward_partials(step, p, block, pass, thread);
  }
};

// From the op's arguments (device pointers on the GPU), at launch.
inline PersistentBackwardArgs make_persistent_backward_args(const LstmSequenceBackward<float>& q, int partial_blocks,
                                                            unsigned* flags) {
  PersistentBackwardArgs a;
  a.steps = q.steps;
  a.batch = q.batch;
  a.hidden = q.hidden;
  a.partial_blocks = partial_blocks;
  a.r = q.r;
  a.dh = q.dh;
  a.dh_last = q.dh ? nullptr : q.dh_last;
  a.masked = q.dropout && (q.dh || q.dh_last);
  if (a.masked) a.dropout = step_dropout(q.dropout, q.dropout_p, 0);
  a.gates = q.gates;
  a.c = q.c;
  a.dc = q.dc;
  a.dgates = q.dgates;
  a.dgates_read = q.dgates;
  a.db_partial = q.db_partial;
  a.x = q.x;
  a.dw_partial = q.x ? q.dw_partial : nullptr;
  a.flags = flags;
  a.vector_dgates = aligned16(q.dgates);
  a.vector_gates = aligned16(q.gates);
  return a;
}

}  // namespace nocturne::kernels
