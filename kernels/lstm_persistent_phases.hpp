#pragma once
// The persistent forward kernels' work between their barriers
// (lstm_persistent.cu on CUDA cores, lstm_persistent_wmma.cu on tensor cores),
// as __host__ __device__ functions the host simulator
// (test/kernels_host/persistent_simulator.hpp) runs too, block by block and
// thread by thread. The partition and the wait arithmetic are in
// persistent_partition.hpp; the staging and the cell are the fused step
// kernels' own (lstm_step_phases.hpp), so a step sums in the same order as
// the fused FP32 step kernel and gives its bits.
//
// A block's loop (strict FP32, CUDA cores):
//   load_weights; barrier
//   for t: for each pass of rows:
//     [t > 0: wait for slices_ready_after(-2); barrier]
//     fetch(0); store(stage 0); wait(-1); barrier
//     for s: fetch(s + 1); multiply(stage s & 1); store(stage (s + 1) & 1); wait(s); barrier
//     finish (the cells, from registers)
//   barrier; thread 0: fence, flags[block] = t + 1 (release)
// where wait(j) is thread 0 acquiring the flags of the first
// blocks_needed(slices_ready_after(j)) blocks at t, before the barrier.

#include <cstddef>
#include <cstdint>

#include "fused_tiling.hpp"
#include "lstm_step_phases.hpp"
#include "persistent_partition.hpp"

namespace nocturne::inline v0::kernels {

// A layer's whole forward sequence (T steps from the zero state).
struct PersistentForwardArgs {
  int steps = 0, batch = 0, input = 0, hidden = 0;
  const float* x = nullptr;  // [T, N, F]
  const float* w = nullptr;  // [F, 4H]
  const float* r = nullptr;  // [H, 4H]
  const float* b = nullptr;  // [4H]
  // h_t is written through `h` and h_{t-1} read through `h_read`: the same
  // [T, N, H] buffer on the device; the simulator reads only what was
  // published (its emulation of the memory order).
  float* h = nullptr;
  const float* h_read = nullptr;
  float* c = nullptr;          // [T, N, H]
  float* gates = nullptr;      // [T, N, 4H]
  float* h_dropped = nullptr;  // [T, N, H] or null
  StepDropout dropout;         // step t draws from index offset + t N H
  unsigned* flags = nullptr;   // [blocks], zero at launch: steps each block published
  bool vector_h = false, vector_x = false, vector_gates = false;
  // x is another layer's output in the same launch (the wavefront's layer 2,
  // persistent_wavefront.hpp): read past L1 as h_{t-1} is.
  bool x_in_flight = false;
};

// Step t's arguments as the fused cell (forward_cell) takes them.
NOCTURNE_HD ForwardArgs persistent_step_args(const PersistentForwardArgs& a, int t) {
  const std::size_t nh = std::size_t(a.batch) * std::size_t(a.hidden);
  ForwardArgs s;
  s.batch = a.batch;
  s.input = a.input;
  s.hidden = a.hidden;
  s.x = a.x + std::size_t(t) * std::size_t(a.batch) * std::size_t(a.input);
  s.w = a.w;
  s.r = a.r;
  s.b = a.b;
  s.h_prev = t > 0 ? a.h_read + std::size_t(t - 1) * nh : nullptr;
  s.c_prev = t > 0 ? a.c + std::size_t(t - 1) * nh : nullptr;
  s.h = a.h + std::size_t(t) * nh;
  s.c = a.c + std::size_t(t) * nh;
  s.gates = a.gates + std::size_t(t) * kUnitGates * nh;
  s.h_dropped = a.h_dropped ? a.h_dropped + std::size_t(t) * nh : nullptr;
  s.dropout = a.dropout;
  s.dropout.offset += std::uint64_t(t) * nh;
  s.vector_gates = a.vector_gates;  // every step's gates are aligned where step 0's are
  return s;
}

// K slices of step t: the recurrent ones (none at t = 0), then the input ones.
NOCTURNE_HD int persistent_recurrent_slices(const PersistentPlan& p, int t) { return t > 0 ? p.recurrent_slices : 0; }
NOCTURNE_HD int persistent_slices(const PersistentPlan& p, int t) {
  return persistent_recurrent_slices(p, t) + p.input_slices;
}

// The first shared weight row of slice s at step t (R's rows, then W's).
NOCTURNE_HD int persistent_weight_row(const PersistentPlan& p, int t, int slice) {
  const int recurrent = persistent_recurrent_slices(p, t);
  return slice < recurrent ? slice * kPersistentDepth : p.shared.input_row0 + (slice - recurrent) * kPersistentDepth;
}

// The block's 4U columns of R (then W), zero outside the matrices, converted
// to the staged element; once per launch.
template <int kUnits, int kThreads, typename Element, typename Convert>
NOCTURNE_HD void persistent_load_weights(const PersistentForwardArgs& a, const PersistentPlan& p, int block,
                                         int thread, Element* out, Convert convert) {
  const UnitRange units = block_units(p, block);
  const int cols = kUnitGates * kUnits;
  const std::size_t ld = std::size_t(kUnitGates) * std::size_t(a.hidden);
  for (int item = thread; item < p.shared.weight_rows * cols; item += kThreads) {
    const int row = item / cols, col = item % cols;
    const int unit = units.first + col / kUnitGates;
    const bool input = row >= p.shared.input_row0;
    const int k = input ? row - p.shared.input_row0 : row;
    const bool inside = unit < units.end && k < (input ? a.input : a.hidden);
    const float* m = input ? a.w : a.r;
    out[row * p.shared.weight_pitch + col] = convert(
        inside ? m[std::size_t(k) * ld + std::size_t(unit) * kUnitGates + std::size_t(col % kUnitGates)] : 0.0f);
  }
}

// Slice s of step t for the rows of pass `pass`: h_{t-1} [N, H] (read past
// L1: published by other blocks) for the recurrent slices, x_t [N, F] for the
// input ones; zeros outside the matrix. Sets *vector_a to how it was read.
template <SliceShape kA>
NOCTURNE_HD void persistent_fetch(const PersistentForwardArgs& a, const PersistentPlan& p, int t, int pass,
                                  int slice, int thread, float* regs, bool* vector_a) {
  const std::size_t nh = std::size_t(a.batch) * std::size_t(a.hidden);
  const int recurrent = persistent_recurrent_slices(p, t);
  const int row0 = pass * kPersistentPassRows;
  if (slice < recurrent) {
    *vector_a = a.vector_h;
    fetch_slice<kA, true>(a.h_read + std::size_t(t - 1) * nh, std::size_t(a.hidden), row0, a.batch,
                          slice * kPersistentDepth, a.hidden, a.vector_h, thread, regs);
  } else {
    *vector_a = a.vector_x;
    const float* x = a.x + std::size_t(t) * std::size_t(a.batch) * std::size_t(a.input);
    const int k0 = (slice - recurrent) * kPersistentDepth;
    if (a.x_in_flight)
      fetch_slice<kA, true>(x, std::size_t(a.input), row0, a.batch, k0, a.input, a.vector_x, thread, regs);
    else
      fetch_slice<kA>(x, std::size_t(a.input), row0, a.batch, k0, a.input, a.vector_x, thread, regs);
  }
}

template <int kUnits>
struct PersistentForwardSimt {
  static constexpr bool kTensorCores = false;
  static constexpr int kThreads = kPersistentThreads;
  static_assert(kThreads % kUnits == 0 && (kThreads / kUnits) * kUnits == kPersistentPassRows,
                "the threads' U rows x 1 unit micro-tiles cover a pass");
  static constexpr SliceShape kA{kPersistentPassRows, kPersistentDepth, kThreads};

  struct Registers {
    float acc[kUnits][kUnitGates];
    float a[kA.per_thread()];
    bool vector_a = false;
  };

  static NOCTURNE_HD float* weights(unsigned char* shared) { return reinterpret_cast<float*>(shared); }
  static NOCTURNE_HD float* a_stage(const PersistentPlan& p, unsigned char* shared, int stage) {
    return reinterpret_cast<float*>(shared + p.shared.weights + std::size_t(stage) * p.shared.a_stage);
  }

  static NOCTURNE_HD void load_weights(const PersistentForwardArgs& a, const PersistentPlan& p, int block, int thread,
                                       unsigned char* shared) {
    persistent_load_weights<kUnits, kThreads>(a, p, block, thread, weights(shared), Staging<GemmOperands::fp32>{});
  }

  static NOCTURNE_HD void begin(Registers& r) {
    NOCTURNE_UNROLL
    for (int i = 0; i < kUnits; ++i) {
      NOCTURNE_UNROLL
      for (int g = 0; g < kUnitGates; ++g) r.acc[i][g] = 0.0f;
    }
  }

  static NOCTURNE_HD void fetch(const PersistentForwardArgs& a, const PersistentPlan& p, int t, int pass, int slice,
                                int thread, Registers& r) {
    persistent_fetch<kA>(a, p, t, pass, slice, thread, r.a, &r.vector_a);
  }

  // Transposed ([k][row]), so a thread reads its U rows as one run.
  static NOCTURNE_HD void store(const PersistentPlan& p, int thread, int stage, const Registers& r,
                                unsigned char* shared) {
    store_slice<kA, true>(a_stage(p, shared, stage), p.shared.a_pitch, r.vector_a, thread, r.a,
                          Staging<GemmOperands::fp32>{});
  }

  // acc += A[the thread's rows, slice] * weights[slice's rows, the thread's unit's 4 columns].
  static NOCTURNE_HD void multiply(const PersistentPlan& p, int t, int slice, int thread, int stage,
                                   unsigned char* shared, Registers& r) {
    const int w_row0 = persistent_weight_row(p, t, slice);
    const PersistentRole role = persistent_role(kUnits, thread);
    const float* av_base = a_stage(p, shared, stage) + role.row;
    const float* bv_base = weights(shared) + w_row0 * p.shared.weight_pitch + role.unit * kUnitGates;
    NOCTURNE_UNROLL
    for (int k = 0; k < kPersistentDepth; ++k) {
      float av[kUnits], bv[kUnitGates];
      load_run<kUnits>(av_base + k * p.shared.a_pitch, av);
      load4(bv_base + k * p.shared.weight_pitch, bv);
      NOCTURNE_UNROLL
      for (int i = 0; i < kUnits; ++i) {
        NOCTURNE_UNROLL
        for (int g = 0; g < kUnitGates; ++g) r.acc[i][g] = math::fma_of(av[i], bv[g], r.acc[i][g]);
      }
    }
  }

  // The cells of the thread's rows and unit: gates, c, h (and h_dropped).
  static NOCTURNE_HD void finish(const ForwardArgs& step, const PersistentPlan& p, int block, int pass, int thread,
                                 const Registers& r) {
    const PersistentRole role = persistent_role(kUnits, thread);
    const int unit = block_units(p, block).first + role.unit;
    if (unit >= block_units(p, block).end) return;
    NOCTURNE_UNROLL
    for (int i = 0; i < kUnits; ++i) {
      const int row = pass * kPersistentPassRows + role.row + i;
      if (row < step.batch) forward_cell(step, row, unit, r.acc[i]);
    }
  }
};

// The tensor-core variant (TF32, BF16): the same loop, waits and exchange;
// the weights and the staged h are held in the operand type (rounded as the
// fused tensor-core kernels round them, math/precision.hpp), A staged
// row-major [row][k] as WMMA loads it. Warp w's fragments cover rows
// [32 w, 32 w + 32) of the pass and the block's 4U columns (on the device, in
// lstm_persistent_wmma.cu; the host simulator multiplies the staged operands
// in FP32 instead); after the K loop they are stored to the accumulator tile
// and each thread runs the cells of one row.
template <int kUnits, GemmOperands kOperands>
struct PersistentForwardWmma {
  static_assert(kOperands != GemmOperands::fp32, "tensor cores take TF32 or BF16");
  static_assert(kUnits >= kPersistentWmmaMinUnits && kUnitGates * kUnits % kFragment == 0,
                "the block's columns are whole fragments");
  static constexpr bool kTensorCores = true;
  static constexpr int kThreads = kPersistentThreads;
  static constexpr int kFragRows = kPersistentWarpRows / kFragment;
  static constexpr int kFragCols = kUnitGates * kUnits / kFragment;
  static_assert(kThreads == kPersistentPassRows, "a thread runs the cells of one row");
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

  static NOCTURNE_HD void load_weights(const PersistentForwardArgs& a, const PersistentPlan& p, int block, int thread,
                                       unsigned char* shared) {
    persistent_load_weights<kUnits, kThreads>(a, p, block, thread, weights(shared), Staging<kOperands>{});
  }
  static NOCTURNE_HD void fetch(const PersistentForwardArgs& a, const PersistentPlan& p, int t, int pass, int slice,
                                int thread, Registers& r) {
    persistent_fetch<kA>(a, p, t, pass, slice, thread, r.a, &r.vector_a);
  }
  static NOCTURNE_HD void store(const PersistentPlan& p, int thread, int stage, const Registers& r,
                                unsigned char* shared) {
    store_slice<kA, false>(a_stage(p, shared, stage), p.shared.a_pitch, r.vector_a, thread, r.a,
                           Staging<kOperands>{});
  }

  // The cells of row `thread` of the pass, all the block's units, from the accumulator tile.
  static NOCTURNE_HD void finish(const ForwardArgs& step, const PersistentPlan& p, int block, int pass, int thread,
                                 unsigned char* shared) {
    const UnitRange units = block_units(p, block);
    const int row = pass * kPersistentPassRows + thread;
    if (row >= step.batch) return;
    const float* acc = accumulators(p, shared) + thread * p.shared.acc_pitch;
    NOCTURNE_UNROLL
    for (int u = 0; u < kUnits; ++u) {
      if (units.first + u >= units.end) break;
      float sum[kUnitGates];
      load4(acc + u * kUnitGates, sum);
      forward_cell(step, row, units.first + u, sum);
    }
  }
};

// From a layer's buffers (device pointers on the GPU), at launch.
inline PersistentForwardArgs make_persistent_forward_args(int steps, int batch, int input, int hidden,
                                                          const float* x, const float* w, const float* r,
                                                          const float* b, float* h, float* c, float* gates,
                                                          float* h_dropped, const DropoutKey* key, float dropout_p,
                                                          unsigned* flags) {
  PersistentForwardArgs a;
  a.steps = steps;
  a.batch = batch;
  a.input = input;
  a.hidden = hidden;
  a.x = x;
  a.w = w;
  a.r = r;
  a.b = b;
  a.h = h;
  a.h_read = h;
  a.c = c;
  a.gates = gates;
  a.h_dropped = h_dropped;
  if (h_dropped) a.dropout = step_dropout(key, dropout_p, 0);
  a.flags = flags;
  a.vector_h = vector_loads(reinterpret_cast<std::uintptr_t>(h), hidden);
  a.vector_x = input > 1 && vector_loads(reinterpret_cast<std::uintptr_t>(x), input);
  a.vector_gates = aligned16(gates);
  return a;
}

}  // namespace nocturne::kernels
