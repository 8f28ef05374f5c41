#pragma once
// Partition of the persistent generation kernel (lstm_persistent_generate.cu):
// one cooperative launch generates many notes of the window predictor
// (nocturne/window_predictor.hpp), each block keeping its slices of every
// weight matrix in shared memory for the whole launch. Plain constexpr C++
// with no CUDA header, so test/kernels_host checks it for the recipe, the
// small preset and odd shapes, and the host simulator
// (persistent_generation_simulator.hpp) runs the same ownership.
//
// A note, for S streams of W window slots (rows = W S, slot-major: row =
// slot S + stream), the state in two buffers of (W + 1) S rows whose slot 0
// stays zero (the window that begins), as the fused path's device loop keeps
// it:
//   choose  every block: softmax of the logits and the token of each stream
//           (src/math/sampling.hpp), the same in every block, so no barrier
//           hands the token over; block 0 writes it to the history
//   layer 1 block b: units [b U1, (b + 1) U1) of every row, R1's 4 U1
//           interleaved columns resident; x = token / V (the rank-one term)
//   --- grid barrier ---
//   layer 2 block b: units [b U2, ...), R2's and W2's columns resident
//   --- grid barrier ---
//   dense 1 block b: columns [b D1, ...) of y1 for the S completed windows
//           (slot W), W_d1's columns resident
//   --- grid barrier ---
//   dense 2 block b: columns [b D2, ...) of the logits, W_d2's columns resident
//   --- grid barrier ---
// Four grid barriers a note. The LSTM sums run the fused FP32 step kernel's
// order (h_prev R, then x W, FMA after FMA in increasing k), the dense sums
// head_predict's (increasing k, bias last), so every block's outputs are
// those kernels' bits.
//
// Every K (H1 for layer 1, H2 + H1 for layer 2, H2 and D for the dense
// layers) is staged through shared memory in chunks of 256, 128 or 64
// values for all rows (the largest that fits: each chunk costs a trip
// through L2 and two block barriers), [row][chunk + 1] (the odd pitch
// spreads a warp's rows over the banks). A thread owns up to kGenerationMaxItems items (row, unit)
// or (row, column) of a phase: item i of the block is thread i % threads'.

#include <cstddef>

#include "fused_tiling.hpp"
#include "persistent_partition.hpp"

namespace nocturne::inline v0::kernels {

inline constexpr int kGenerationThreads = 256;
inline constexpr int kGenerationMaxChunk = 256;  // K values staged per chunk, at most (then 128, 64)
inline constexpr int kGenerationMinChunk = 64;
inline constexpr int kGenerationStageBatch = 16;  // staged values a thread loads before it stores them
inline constexpr int kGenerationMaxItems = 4;   // items a thread owns in one phase (its accumulators)
inline constexpr int kGenerationMaxUnits = 16;  // layer 1's units per block, at most
inline constexpr int kGenerationPartials = kGenerationThreads;  // reduction slots (one per thread)
inline constexpr int kGenerationGroups = 16;                    // reduction: 16 groups of 16 partials
inline constexpr std::size_t kGenerationSlotBytes = 16;         // a reduction slot: a double and an index

// The model and the work of one launch, all that the partition depends on.
struct GenerationShape {
  int streams = 0;  // S
  int window = 0;   // W
  int hidden1 = 0, hidden2 = 0, dense = 0, vocab = 0;
  NOCTURNE_TILING int rows() const { return window * streams; }
};

enum class GenerationRefusal {
  none,
  empty_shape,
  too_many_units,  // layer 1 needs more than kGenerationMaxUnits units per block
  too_many_rows,   // a thread would own more than kGenerationMaxItems items
  shared_memory,
  not_resident,  // found at launch: the device refuses a co-resident grid
};

// Offsets (bytes) of the block's shared-memory regions, each 16-byte aligned.
struct GenerationShared {
  int k1 = 0, k2 = 0;             // the LSTM layers' K: H1; H2 + H1 (R2's rows, then W2's)
  int pitch1 = 0, pitch2 = 0;     // floats per resident row: 4 U1, 4 U2
  int chunk = 0;                  // K values staged at once
  int stage_pitch = 0;            // floats per staged row: chunk + 1
  int stage_rows = 0;             // rows staged at once: max(W S, S)
  std::size_t r1 = 0;             // [H1][4 U1] R1's columns
  std::size_t w1 = 0, b1 = 0;     // [4 U1] W1's (F = 1) and b1's
  std::size_t rw2 = 0;            // [H2 + H1][4 U2] R2's, then W2's columns
  std::size_t b2 = 0;             // [4 U2]
  std::size_t d1 = 0, d1_bias = 0;  // [H2][D1], [D1]
  std::size_t d2 = 0, d2_bias = 0;  // [D][D2], [D2]
  std::size_t stage = 0;          // [stage rows][stage pitch]
  std::size_t probs = 0;          // [S][V]: the logits, then the probabilities
  std::size_t weight = 0;         // [V] doubles: sampling weights
  std::size_t order = 0;          // [V] int32: the ranking
  std::size_t partial = 0;        // [kGenerationPartials] reduction slots
  std::size_t group = 0;          // [kGenerationGroups] reduction slots
  std::size_t tokens = 0;         // [S] int32: the note's tokens
  std::size_t total = 0;
};

struct GenerationPlan {
  GenerationRefusal refusal = GenerationRefusal::empty_shape;
  GenerationShape shape;
  int blocks = 0;   // G <= SMs
  int units1 = 0;   // U1: layer 1's units per block (ceil(H1 / G))
  int units2 = 0;   // U2
  int dense1 = 0;   // D1: y1's columns per block
  int dense2 = 0;   // D2: the logits' columns per block
  int items1 = 0, items2 = 0, items3 = 0, items4 = 0;  // items a thread owns per phase
  GenerationShared shared;
  int resident_per_sm = 0;  // the occupancy API, at launch (0 here)
  NOCTURNE_TILING bool fits() const { return refusal == GenerationRefusal::none; }
};

// Block b's share [first, end) of `count` things dealt `per_block` at a time.
struct OwnedRange {
  int first = 0, end = 0;
  NOCTURNE_TILING int size() const { return end - first; }
};
NOCTURNE_TILING OwnedRange generation_owned(int block, int per_block, int count) {
  const int first = block * per_block < count ? block * per_block : count;
  const int end = first + per_block < count ? first + per_block : count;
  return {first, end};
}

NOCTURNE_TILING GenerationShared generation_shared(const GenerationShape& s, int u1, int u2, int d1, int d2,
                                                   int chunk) {
  GenerationShared m;
  m.chunk = chunk;
  m.k1 = s.hidden1;
  m.k2 = s.hidden2 + s.hidden1;
  m.pitch1 = kUnitGates * u1;
  m.pitch2 = kUnitGates * u2;
  m.stage_pitch = chunk + 1;
  m.stage_rows = s.rows() > s.streams ? s.rows() : s.streams;
  std::size_t at = 0;
  auto take = [&at](std::size_t bytes) {
    const std::size_t here = at;
    at += round_up(bytes, 16);
    return here;
  };
  m.r1 = take(std::size_t(m.k1) * std::size_t(m.pitch1) * 4);
  m.w1 = take(std::size_t(m.pitch1) * 4);
  m.b1 = take(std::size_t(m.pitch1) * 4);
  m.rw2 = take(std::size_t(m.k2) * std::size_t(m.pitch2) * 4);
  m.b2 = take(std::size_t(m.pitch2) * 4);
  m.d1 = take(std::size_t(s.hidden2) * std::size_t(d1) * 4);
  m.d1_bias = take(std::size_t(d1) * 4);
  m.d2 = take(std::size_t(s.dense) * std::size_t(d2) * 4);
  m.d2_bias = take(std::size_t(d2) * 4);
  m.stage = take(std::size_t(m.stage_rows) * std::size_t(m.stage_pitch) * 4);
  m.probs = take(std::size_t(s.streams) * std::size_t(s.vocab) * 4);
  m.weight = take(std::size_t(s.vocab) * 8);
  m.order = take(std::size_t(s.vocab) * 4);
  m.partial = take(std::size_t(kGenerationPartials) * kGenerationSlotBytes);
  m.group = take(std::size_t(kGenerationGroups) * kGenerationSlotBytes);
  m.tokens = take(std::size_t(s.streams) * 4);
  m.total = at;
  return m;
}

// The plan: G = ceil(H1 / U1) blocks with U1 the smallest count of layer 1's
// units that keeps G <= SMs (the most blocks: the least work per block and
// note), then U2, D1, D2 dealt over the same G blocks (a block may own none
// of a small layer). Refused where a thread would own more than
// kGenerationMaxItems items of a phase (too many streams for the grid) or
// the block's shared memory exceeds the device's opt-in limit.
NOCTURNE_TILING GenerationPlan generation_plan(const GenerationShape& shape, DeviceLimits device) {
  GenerationPlan p;
  p.shape = shape;
  if (shape.streams <= 0 || shape.window <= 0 || shape.hidden1 <= 0 || shape.hidden2 <= 0 || shape.dense <= 0 ||
      shape.vocab <= 0 || device.sms <= 0)
    return p;
  p.units1 = ceil_div(shape.hidden1, device.sms);
  if (p.units1 > kGenerationMaxUnits) {
    p.refusal = GenerationRefusal::too_many_units;
    return p;
  }
  p.blocks = ceil_div(shape.hidden1, p.units1);
  p.units2 = ceil_div(shape.hidden2, p.blocks);
  p.dense1 = ceil_div(shape.dense, p.blocks);
  p.dense2 = ceil_div(shape.vocab, p.blocks);
  p.items1 = ceil_div(shape.rows() * p.units1, kGenerationThreads);
  p.items2 = ceil_div(shape.rows() * p.units2, kGenerationThreads);
  p.items3 = ceil_div(shape.streams * p.dense1, kGenerationThreads);
  p.items4 = ceil_div(shape.streams * p.dense2, kGenerationThreads);
  for (int chunk = kGenerationMaxChunk; chunk >= kGenerationMinChunk; chunk /= 2) {
    p.shared = generation_shared(shape, p.units1, p.units2, p.dense1, p.dense2, chunk);
    if (p.shared.total <= device.shared_per_block) break;
  }
  const int most = p.items1 > p.items2 ? p.items1 : p.items2;
  const int most_dense = p.items3 > p.items4 ? p.items3 : p.items4;
  if ((most > most_dense ? most : most_dense) > kGenerationMaxItems) {
    p.refusal = GenerationRefusal::too_many_rows;
    return p;
  }
  if (p.shared.total > device.shared_per_block) {
    p.refusal = GenerationRefusal::shared_memory;
    return p;
  }
  p.refusal = GenerationRefusal::none;
  return p;
}

NOCTURNE_TILING const char* generation_refusal_text(GenerationRefusal r) {
  switch (r) {
    case GenerationRefusal::none:
      return "fits";
    case GenerationRefusal::empty_shape:
      return "empty shape";
    case GenerationRefusal::too_many_units:
      return "layer 1 has more than 16 units per block";
    case GenerationRefusal::too_many_rows:
      return "too many streams for the grid (more than 4 items a thread)";
    case GenerationRefusal::shared_memory:
      return "the resident weights and staging exceed the shared memory per block";
    case GenerationRefusal::not_resident:
      return "the device cannot keep the grid resident";
  }
  return "?";
}

}  // namespace nocturne::kernels
