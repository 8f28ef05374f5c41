#pragma once
// Partition of the persistent LSTM kernels (lstm_persistent.cu): one launch
// runs all T steps of a layer, each block keeping its slice of the weights in
// shared memory for the whole sequence. Plain constexpr C++ with no CUDA
// header, so test/kernels_host checks it for every shape the model and the
// benchmarks use, and the host simulator (persistent_simulator.hpp) runs the
// very same ownership and wait arithmetic as the kernel.
//
// Ownership: block b owns hidden units [b U, min(H, (b + 1) U)) for all N
// rows and all four gates (interleaved columns 4u .. 4u + 3, gate_layout.hpp);
// it holds those 4U columns of R [H, 4H] (and of W [F, 4H] when F > 1) in
// shared memory. Every step it computes h_{t-1} R (+ x_t W) for its columns
// in passes of kPersistentPassRows rows, K in slices of kPersistentDepth
// values staged through shared memory (register double-buffering, as the
// fused step kernels), then the cells of its units in the epilogue.
//
// Exchange: h_t lives in the sequence output [T, N, H], which is never
// overwritten within a launch (no write-after-read hazard). Block b publishes
// its units of h_t by setting flags[b] = t + 1 (release, GPU scope) after a
// block barrier. A K slice of h_{t-1} holds units produced by a contiguous
// range of blocks (slice_producers); before the barrier that ends K interval
// j, thread 0 waits (acquire) until the producers of the first
// slices_ready_after(j) slices have published step t - 1, so every slice is
// known published one barrier before any thread fetches it, and a block
// starts on the first slices while later producers still finish their step:
// no grid-wide barrier. The grid must be co-resident (one block per SM at
// most here; the launch checks the occupancy and uses a cooperative launch),
// or a waiting block could spin on a block that never runs.
//
// The backward (persistent_backward_plan) keeps the forward's ownership and
// exchange: block b owns units [b U, ...) for all N rows; step t's (t = T - 1
// down to 0) recurrent term is dgates_{t+1} R^T (K = 4H), so the block holds
// its U rows of R (R^T's columns) resident, and every block needs all of
// dgates_{t+1} [N, 4H]: its K slice s (16 interleaved columns = 4 units) is
// published by those units' owners, with the forward's flags and waits.

#include <cstddef>

#include "fused_tiling.hpp"

namespace nocturne::inline v0::kernels {

// What the partition needs to know of the device. The launch fills it from
// cudaGetDeviceProperties; kH100 is the H100 SXM the goals are set for.
struct DeviceLimits {
  int sms = 0;                        // multiprocessors
  std::size_t shared_per_block = 0;   // bytes a block may opt in to
  int portable_cluster = 8;           // largest cluster size every launch accepts
  int nonportable_cluster = 16;       // with cudaFuncAttributeNonPortableClusterSizeAllowed
};
inline constexpr DeviceLimits kH100{132, kSm90SharedBytes, 8, 16};

inline constexpr int kPersistentThreads = 256;
inline constexpr int kPersistentPassRows = 256;  // batch rows per pass
inline constexpr int kPersistentDepth = 16;      // K values per staged slice
inline constexpr int kPersistentPad = 4;         // floats of padding per shared row (16-byte aligned rows)
// Units per block, smallest first: the most blocks (the least work per step
// and block) that still fit the device. Each thread computes U rows x 1 unit
// (4U accumulators): rows (thread / U) U .. + U - 1, unit thread % U.
inline constexpr int kPersistentMaxUnits = 8;  // U = 1, 2, 4, 8

// The shared-memory layout of a block, bytes.
struct PersistentShared {
  // R's rows, then W's from input_row0 (F > 1), each part rounded up to whole
  // K slices with zero rows, so a slice's tail multiplies zeros by zeros.
  int input_row0 = 0;
  int weight_rows = 0;
  int weight_pitch = 0;  // floats per weight row: 4U + pad
  int a_pitch = 0;       // floats per staged K row ([k][row], transposed): pass rows + pad
  std::size_t weights = 0;  // bytes of the resident weights (offset 0)
  std::size_t a_stage = 0;  // bytes of one staged slice (two stages after the weights)
  // Tensor cores only: the accumulator tile [pass rows][acc_pitch floats]
  // the fragments are stored to for the cells, after the stages.
  int acc_pitch = 0;
  std::size_t acc_offset = 0;
  std::size_t total = 0;
};

NOCTURNE_TILING PersistentShared persistent_shared(int units, int input, int hidden) {
  PersistentShared s;
  s.input_row0 = int(round_up(std::size_t(hidden), kPersistentDepth));
  s.weight_rows = s.input_row0 + (input > 1 ? int(round_up(std::size_t(input), kPersistentDepth)) : 0);
  s.weight_pitch = kUnitGates * units + kPersistentPad;
  s.a_pitch = kPersistentPassRows + kPersistentPad;
  s.weights = round_up(std::size_t(s.weight_rows) * std::size_t(s.weight_pitch) * 4, 128);
  s.a_stage = round_up(std::size_t(kPersistentDepth) * std::size_t(s.a_pitch) * 4, 128);
  s.total = s.weights + 2 * s.a_stage;
  return s;
}

// Why a shape does not run persistently (the caller falls back to the fused path).
enum class PersistentRefusal {
  none,
  empty_shape,
  too_many_blocks,
  shared_memory,
  not_resident,  // found at launch: the occupancy API or the device refuses a co-resident grid
  rank_one_input,  // the wavefront (persistent_wavefront.hpp): layer 2's input is one unit, read in the epilogue
};

struct PersistentPlan {
  PersistentRefusal refusal = PersistentRefusal::empty_shape;
  GemmOperands operands = GemmOperands::fp32;  // CUDA cores (fp32) or tensor cores (tf32, bf16)
  int batch = 0, input = 0, hidden = 0;
  int units = 0;    // U: hidden units per block
  int blocks = 0;   // ceil(H / U), one per SM at most
  int passes = 0;   // ceil(N / pass rows)
  int recurrent_slices = 0;  // ceil(H / depth): K slices of h_{t-1} R (none at t = 0); backward: see below
  int slice_units = kPersistentDepth;  // hidden units a recurrent K slice holds (backward: depth / 4)
  int input_slices = 0;      // ceil(F / depth) when F > 1; F == 1 is the epilogue's rank-one term
  int cluster = 1;    // blocks per thread-block cluster (a divisor of blocks, <= the portable size)
  int clusters = 0;
  PersistentShared shared;
  int resident_per_sm = 0;  // blocks an SM can hold (the occupancy API, at launch; 0 here)
  NOCTURNE_TILING bool fits() const { return refusal == PersistentRefusal::none; }
};

// The largest cluster size up to `most` that divides `blocks` (1 always does).
NOCTURNE_TILING int persistent_cluster(int blocks, int most) {
  for (int c = most; c > 1; --c)
    if (blocks % c == 0 && (c & (c - 1)) == 0) return c;
  return 1;
}

// ---- the tensor-core variants (TF32, BF16) -------------------------------------------------
// The same ownership, slices of h and waits as the FP32 kernel; the block's
// GEMM runs on WMMA fragments of 16 x 16 outputs, so its 4U columns must be
// whole fragments: U 4 or 8. Each of the 8 warps owns 32 rows (2 fragment
// rows) x the 4U columns of a pass of 256 rows. The resident weights and the
// staged h are in the operand type, rounded as the fused tensor-core kernels
// round them (TF32 in a float, BF16 in 16 bits: half the shared memory); the
// fragments are stored to an accumulator tile for the cells.
inline constexpr int kPersistentWmmaMinUnits = 4;
inline constexpr int kPersistentWarpRows = 32;
static_assert(kPersistentThreads / kWarp * kPersistentWarpRows == kPersistentPassRows,
              "the warps' rows cover a pass");
static_assert(kPersistentDepth % 16 == 0, "a staged slice is whole fragment depths (TF32 8, BF16 16)");

// Weights [k][4U + pad] and staged h [row][depth + pad] in operand elements
// (WMMA's ldm a multiple of 16 bytes, every fragment 32-byte aligned), then
// the accumulator tile in floats.
NOCTURNE_TILING PersistentShared persistent_tensor_shared(int units, int input, int hidden, GemmOperands operands) {
  PersistentShared s;
  const std::size_t element = std::size_t(staged_bytes(operands));
  const int pad = wmma_pad(operands);
  s.input_row0 = int(round_up(std::size_t(hidden), kPersistentDepth));
  s.weight_rows = s.input_row0 + (input > 1 ? int(round_up(std::size_t(input), kPersistentDepth)) : 0);
  s.weight_pitch = kUnitGates * units + pad;
  s.a_pitch = kPersistentDepth + pad;
  s.weights = round_up(std::size_t(s.weight_rows) * std::size_t(s.weight_pitch) * element, 128);
  s.a_stage = round_up(std::size_t(kPersistentPassRows) * std::size_t(s.a_pitch) * element, 128);
  s.acc_pitch = kUnitGates * units + kPersistentPad;
  s.acc_offset = s.weights + 2 * s.a_stage;
  s.total = s.acc_offset + round_up(std::size_t(kPersistentPassRows) * std::size_t(s.acc_pitch) * 4, 128);
  return s;
}

// The plan of a layer in an operand mode: fp32 the CUDA-core kernel (U from
// 1), tf32 and bf16 the tensor-core kernels (U from 4).
NOCTURNE_TILING PersistentPlan persistent_plan(int batch, int input, int hidden, DeviceLimits device,
                                               GemmOperands operands) {
  PersistentPlan p;
  p.operands = operands;
  p.batch = batch;
  p.input = input;
  p.hidden = hidden;
  if (batch <= 0 || input <= 0 || hidden <= 0 || device.sms <= 0) return p;
  p.refusal = PersistentRefusal::too_many_blocks;
  const bool tensor = operands != GemmOperands::fp32;
  for (int units = tensor ? kPersistentWmmaMinUnits : 1; units <= kPersistentMaxUnits; units *= 2) {
    if (ceil_div(hidden, units) > device.sms) continue;
    const PersistentShared s =
        tensor ? persistent_tensor_shared(units, input, hidden, operands) : persistent_shared(units, input, hidden);
    p.units = units;
    p.shared = s;
    if (s.total > device.shared_per_block) {
      p.refusal = PersistentRefusal::shared_memory;  // larger U only needs more
      return p;
    }
    p.refusal = PersistentRefusal::none;
    p.blocks = ceil_div(hidden, units);
    p.passes = ceil_div(batch, kPersistentPassRows);
    p.recurrent_slices = ceil_div(hidden, kPersistentDepth);
    p.input_slices = input > 1 ? ceil_div(input, kPersistentDepth) : 0;
    p.cluster = persistent_cluster(p.blocks, device.portable_cluster);
    p.clusters = p.blocks / p.cluster;
    return p;
  }
  return p;
}

// Strict FP32 (the CUDA-core kernel).
NOCTURNE_TILING PersistentPlan persistent_plan(int batch, int input, int hidden, DeviceLimits device) {
  return persistent_plan(batch, input, hidden, device, GemmOperands::fp32);
}

NOCTURNE_TILING const char* persistent_refusal_text(PersistentRefusal r) {
  switch (r) {
    case PersistentRefusal::none:
      return "fits";
    case PersistentRefusal::empty_shape:
      return "empty shape";
    case PersistentRefusal::too_many_blocks:
      return "more hidden units than the largest block slice times the multiprocessors";
    case PersistentRefusal::shared_memory:
      return "the block's weight slice does not fit its shared memory";
    case PersistentRefusal::not_resident:
      return "the device cannot keep every block resident (occupancy or cooperative launch)";
    case PersistentRefusal::rank_one_input:
      return "layer 1 has one unit: layer 2's rank-one input term is outside the K slices the wavefront waits for";
  }
  return "?";
}

// ---- ownership and the exchange ----------------------------------------------------------
struct UnitRange {
  int first = 0;
  int end = 0;  // one past the last
};
// The hidden units block b owns.
NOCTURNE_TILING UnitRange block_units(const PersistentPlan& p, int block) {
  const int first = block * p.units;
  const int end = first + p.units < p.hidden ? first + p.units : p.hidden;
  return {first, end};
}
NOCTURNE_TILING int unit_owner(const PersistentPlan& p, int unit) { return unit / p.units; }

// The blocks whose units K slice s of h_{t-1} holds: [first, end).
struct BlockRange {
  int first = 0;
  int end = 0;
};
// Empty past the last unit (the backward's zero slices).
NOCTURNE_TILING BlockRange slice_producers(const PersistentPlan& p, int slice) {
  const int k0 = slice * p.slice_units;
  if (k0 >= p.hidden) return {p.blocks, p.blocks};
  const int k1 = k0 + p.slice_units < p.hidden ? k0 + p.slice_units : p.hidden;
  return {unit_owner(p, k0), unit_owner(p, k1 - 1) + 1};
}
// Recurrent slices that hold units (the others are zeros).
NOCTURNE_TILING int produced_slices(const PersistentPlan& p) { return ceil_div(p.hidden, p.slice_units); }

// K intervals of one pass: j = -2 before the prologue (step start), -1 the
// prologue (fetch and store slice 0), then 0 .. n - 1 (fetch slice j + 1,
// multiply slice j, store slice j + 1). Interval j fetches recurrent slice
// j + 1, so before the barrier that ends interval j the slices below j + 3
// must be published: one barrier ahead of every fetch.
NOCTURNE_TILING int slices_ready_after(const PersistentPlan& p, int interval) {
  const int n = interval + 3;
  return n < 0 ? 0 : n < p.recurrent_slices ? n : p.recurrent_slices;
}
// How many leading blocks must have published step t - 1 so that the first
// `slices` recurrent slices may be read (0: none).
NOCTURNE_TILING int blocks_needed(const PersistentPlan& p, int slices) {
  const int produced = slices < produced_slices(p) ? slices : produced_slices(p);
  return produced <= 0 ? 0 : slice_producers(p, produced - 1).end;
}

// ---- the backward ------------------------------------------------------------------------
// Its sums run in the fused FP32 backward step kernel's order, for the same
// bits: that kernel splits each slice of 64 K values among 4 k-groups of 16
// (kBackwardTiles[0]) and adds the groups' sums in order after the loop;
// here a thread keeps 4 sums per output, K slice s of 16 going to sum s % 4,
// and the slices run to a whole number of 64 (zeros past 4H, as there).
inline constexpr int kPersistentBackwardGroups = 4;
static_assert(kBackwardTiles[0].depth == kPersistentDepth && kBackwardTiles[0].k_groups == kPersistentBackwardGroups,
              "the persistent backward sums as the fused FP32 backward kernel");

// R^T's slice: K rows (4H rounded up to whole groups of slices) of U floats
// ([k][unit], zeros past 4H), then the two staged K slices of dgates_{t+1}.
NOCTURNE_TILING PersistentShared persistent_backward_shared(int units, int hidden) {
  PersistentShared s;
  s.weight_rows = int(round_up(std::size_t(kUnitGates) * std::size_t(hidden),
                               std::size_t(kPersistentDepth) * kPersistentBackwardGroups));
  s.input_row0 = s.weight_rows;  // no input part
  s.weight_pitch = units;
  s.a_pitch = kPersistentPassRows + kPersistentPad;
  s.weights = round_up(std::size_t(s.weight_rows) * std::size_t(s.weight_pitch) * 4, 128);
  s.a_stage = round_up(std::size_t(kPersistentDepth) * std::size_t(s.a_pitch) * 4, 128);
  s.total = s.weights + 2 * s.a_stage;
  return s;
}

// The backward's plan: the forward's U, blocks, passes and clusters;
// recurrent_slices the K slices of dgates_{t+1} (none at t = T - 1), each of
// slice_units = 4 units; input 1 and no input slices (dx is a GEMM outside).
NOCTURNE_TILING PersistentPlan persistent_backward_plan(int batch, int hidden, DeviceLimits device) {
  PersistentPlan p;
  p.batch = batch;
  p.input = 1;
  p.hidden = hidden;
  if (batch <= 0 || hidden <= 0 || device.sms <= 0) return p;
  p.refusal = PersistentRefusal::too_many_blocks;
  for (int units = 1; units <= kPersistentMaxUnits; units *= 2) {
    if (ceil_div(hidden, units) > device.sms) continue;
    const PersistentShared s = persistent_backward_shared(units, hidden);
    p.units = units;
    p.shared = s;
    if (s.total > device.shared_per_block) {
      p.refusal = PersistentRefusal::shared_memory;
      return p;
    }
    p.refusal = PersistentRefusal::none;
    p.blocks = ceil_div(hidden, units);
    p.passes = ceil_div(batch, kPersistentPassRows);
    p.slice_units = kPersistentDepth / kUnitGates;
    p.recurrent_slices = s.weight_rows / kPersistentDepth;
    p.input_slices = 0;
    p.cluster = persistent_cluster(p.blocks, device.portable_cluster);
    p.clusters = p.blocks / p.cluster;
    return p;
  }
  return p;
}

// Thread roles of the CUDA-core (FP32) kernel: rows and unit within the pass.
struct PersistentRole {
  int row = 0;   // first of the thread's U rows within the pass
  int unit = 0;  // unit within the block's slice
};
NOCTURNE_TILING PersistentRole persistent_role(int units, int thread) {
  return {(thread / units) * units, thread % units};
}

// ---- the tensor-core backward (TF32, BF16) -----------------------------------------------
// The FP32 backward's ownership, K slices of 16 columns of dgates_{t+1},
// flags and waits; the block's output is N x U (one column a unit), so a
// 16-column WMMA fragment wants U 16: no zero columns in the tensor work or
// in R^T's resident slice, and a quarter of U 4's grid, so a quarter of the
// L2 reads of dgates_{t+1} a step (every block reads all of it). Each of the
// 8 warps owns 32 rows of a pass (2 fragment rows) x the 16 units, with one
// accumulator per k-group of the fused tensor-core backward kernel (K slice
// s to group s % 4), the groups added in order before the cells: its sums,
// the same operations on the same accumulators.
inline constexpr int kPersistentBackwardWmmaUnits = 16;
static_assert(kPersistentBackwardWmmaUnits == kFragment, "one fragment column of units");
static_assert(kBackwardTiles[1].depth == kPersistentDepth && kBackwardTiles[1].k_groups == kPersistentBackwardGroups,
              "the tensor-core persistent backward sums as the fused tensor-core backward kernel");

// R^T's slice column-major as WMMA loads B: unit u's row of R, [u][k] (R's
// own layout), K = 4H rounded up to whole groups of slices (zeros past 4H)
// plus the pad, in the operand type; then two staged slices of dgates_{t+1}
// row-major [row][16 + pad] in the operand type, then the accumulator tile
// [pass rows][16 + 4] floats the warps' summed fragments go to for the cells.
NOCTURNE_TILING PersistentShared persistent_backward_tensor_shared(int hidden, GemmOperands operands) {
  PersistentShared s;
  const std::size_t element = std::size_t(staged_bytes(operands));
  const int pad = wmma_pad(operands);
  s.weight_rows = int(round_up(std::size_t(kUnitGates) * std::size_t(hidden),
                               std::size_t(kPersistentDepth) * kPersistentBackwardGroups));
  s.input_row0 = s.weight_rows;
  s.weight_pitch = s.weight_rows + pad;  // elements a unit (column-major B)
  s.a_pitch = kPersistentDepth + pad;
  s.weights = round_up(std::size_t(kPersistentBackwardWmmaUnits) * std::size_t(s.weight_pitch) * element, 128);
  s.a_stage = round_up(std::size_t(kPersistentPassRows) * std::size_t(s.a_pitch) * element, 128);
  s.acc_pitch = kPersistentBackwardWmmaUnits + kPersistentPad;
  s.acc_offset = s.weights + 2 * s.a_stage;
  s.total = s.acc_offset + round_up(std::size_t(kPersistentPassRows) * std::size_t(s.acc_pitch) * 4, 128);
  return s;
}

// The backward's plan in an operand mode: fp32 the CUDA-core kernel's plan
// above; tf32 and bf16 U 16 (ceil(H / 16) blocks), refused where that is
// more blocks than SMs or R^T's slice does not fit (TF32 above H 656).
NOCTURNE_TILING PersistentPlan persistent_backward_plan(int batch, int hidden, DeviceLimits device,
                                                        GemmOperands operands) {
  if (operands == GemmOperands::fp32) return persistent_backward_plan(batch, hidden, device);
  PersistentPlan p;
  p.operands = operands;
  p.batch = batch;
  p.input = 1;
  p.hidden = hidden;
  if (batch <= 0 || hidden <= 0 || device.sms <= 0) return p;
  p.units = kPersistentBackwardWmmaUnits;
  if (ceil_div(hidden, p.units) > device.sms) {
    p.refusal = PersistentRefusal::too_many_blocks;
    return p;
  }
  p.shared = persistent_backward_tensor_shared(hidden, operands);
  if (p.shared.total > device.shared_per_block) {
    p.refusal = PersistentRefusal::shared_memory;
    return p;
  }
  p.refusal = PersistentRefusal::none;
  p.blocks = ceil_div(hidden, p.units);
  p.passes = ceil_div(batch, kPersistentPassRows);
  p.slice_units = kPersistentDepth / kUnitGates;
  p.recurrent_slices = p.shared.weight_rows / kPersistentDepth;
  p.input_slices = 0;
  p.cluster = persistent_cluster(p.blocks, device.portable_cluster);
  p.clusters = p.blocks / p.cluster;
  return p;
}

// The tensor-core backward's cells: cell q of a thread is (row, unit) of the
// pass, a warp's 32 threads two rows of 16 units (64 columns of da, contiguous).
NOCTURNE_TILING int persistent_backward_cells_per_thread() {
  return kPersistentPassRows * kPersistentBackwardWmmaUnits / kPersistentThreads;
}
NOCTURNE_TILING PersistentRole persistent_backward_cell(int thread, int q) {
  const int cell = thread + q * kPersistentThreads;
  return {cell / kPersistentBackwardWmmaUnits, cell % kPersistentBackwardWmmaUnits};
}

}  // namespace nocturne::kernels
