// The persistent kernels' partition (kernels/persistent_partition.hpp) for
// the recipe's layers and every shape the benchmarks sweep: every output
// element owned by exactly one block and one thread, the grid within the
// multiprocessors (co-resident at one block per SM), shared memory within the
// H100's opt-in limit, a legal cluster shape, and waits that cover every
// slice one barrier before it is fetched; the same for the backward's plan.

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "kernels/persistent_partition.hpp"

namespace {

using namespace nocturne::kernels;

struct Shape {
  int batch, input, hidden;
};

std::vector<Shape> persistent_shapes() {
  std::vector<Shape> shapes = {
      {256, 1, 512}, {256, 512, 256}, {256, 64, 512},                           // the recipe
      {1, 1, 1},     {3, 5, 7},       {33, 17, 20},   {70, 3, 33}, {300, 100, 100},  // tails, two passes
  };
  for (int input_is_hidden : {0, 1})  // src/lstm_bench's sweep
    for (int hidden : {128, 256, 512, 1024})
      for (int batch : {1, 8, 32, 64, 128, 256, 512}) shapes.push_back({batch, input_is_hidden ? hidden : 1, hidden});
  for (int streams : {1, 2, 4, 8, 32, 64, 256})  // generation: 40 window slots per stream
    for (Shape layer : {Shape{0, 1, 512}, Shape{0, 512, 256}})
      shapes.push_back({40 * streams, layer.input, layer.hidden});
  return shapes;
}

std::string describe(const Shape& s) {
  return "N " + std::to_string(s.batch) + " F " + std::to_string(s.input) + " H " + std::to_string(s.hidden);
}

// Forward and backward: every unit (its four gate columns) owned by exactly
// one block, no idle block; the passes cover the rows, the last one not empty.
void check_units_and_passes(const Shape& s, const PersistentPlan& p) {
  std::vector<int> owners(std::size_t(s.hidden), 0);
  for (int b = 0; b < p.blocks; ++b) {
    const UnitRange u = block_units(p, b);
    CHECK(u.first < u.end);
    for (int unit = u.first; unit < u.end; ++unit) {
      ++owners[std::size_t(unit)];
      CHECK(unit_owner(p, unit) == b);
    }
  }
  for (int unit = 0; unit < s.hidden; ++unit) CHECK(owners[std::size_t(unit)] == 1);
  CHECK(p.passes * kPersistentPassRows >= s.batch);
  CHECK((p.passes - 1) * kPersistentPassRows < s.batch);
}

void check_plan(const Shape& s, const PersistentPlan& p, DeviceLimits device) {
  INFO(describe(s) << ": U " << p.units << " blocks " << p.blocks << " shared " << p.shared.total);
  REQUIRE(p.fits());
  CHECK(p.blocks <= device.sms);
  CHECK(p.shared.total <= device.shared_per_block);
  // Clusters: a power of two that divides the grid, within the portable size.
  CHECK(p.cluster >= 1);
  CHECK(p.cluster <= device.portable_cluster);
  CHECK((p.cluster & (p.cluster - 1)) == 0);
  CHECK(p.blocks % p.cluster == 0);
  CHECK(p.clusters * p.cluster == p.blocks);
  check_units_and_passes(s, p);
  // Slices: the recurrent ones cover H, the input ones F (F > 1 only), and
  // the weights' shared rows hold both parts rounded to whole slices.
  CHECK(p.recurrent_slices * kPersistentDepth >= s.hidden);
  CHECK((p.recurrent_slices - 1) * kPersistentDepth < s.hidden);
  if (s.input > 1) {
    CHECK(p.input_slices * kPersistentDepth >= s.input);
    CHECK((p.input_slices - 1) * kPersistentDepth < s.input);
  } else {
    CHECK(p.input_slices == 0);
  }
  CHECK(p.shared.input_row0 == p.recurrent_slices * kPersistentDepth);
  CHECK(p.shared.weight_rows == (p.recurrent_slices + p.input_slices) * kPersistentDepth);
  CHECK(p.shared.weight_pitch % 4 == 0);  // 16-byte rows for the float4 reads
  CHECK(p.shared.a_pitch % 4 == 0);
  CHECK(p.shared.weights % 128 == 0);
  CHECK(p.shared.a_stage >= std::size_t(kPersistentDepth) * std::size_t(p.shared.a_pitch) * 4);
  // A slice's producers are exactly the owners of its units.
  for (int slice = 0; slice < p.recurrent_slices; ++slice) {
    const BlockRange r = slice_producers(p, slice);
    const int k0 = slice * kPersistentDepth, k1 = std::min(s.hidden, k0 + kPersistentDepth);
    CHECK(r.first == unit_owner(p, k0));
    CHECK(r.end == unit_owner(p, k1 - 1) + 1);
    for (int k = k0; k < k1; ++k) CHECK((unit_owner(p, k) >= r.first && unit_owner(p, k) < r.end));
  }
  // Waits: interval j fetches slice j + 1 (the prologue, j = -1, slice 0);
  // the wait at the end of interval j - 1 must already cover it, and the
  // waits never shrink.
  int before = 0;
  for (int j = -2; j < p.recurrent_slices; ++j) {
    const int ready = slices_ready_after(p, j);
    CHECK(ready >= before);
    before = ready;
    const int fetched_next = j + 2;  // fetched in interval j + 1
    if (fetched_next < p.recurrent_slices) CHECK(ready > fetched_next);
    CHECK(blocks_needed(p, ready) <= p.blocks);
  }
  CHECK(blocks_needed(p, p.recurrent_slices) == p.blocks);
  CHECK(blocks_needed(p, 0) == 0);
}

TEST_CASE("persistent partition: the recipe's layers on an H100", "[kernels_host][persistent]") {
  const PersistentPlan layer1 = persistent_plan(256, 1, 512, kH100);
  REQUIRE(layer1.fits());
  CHECK(layer1.units == 4);
  CHECK(layer1.blocks == 128);
  CHECK(layer1.passes == 1);
  CHECK(layer1.cluster == 8);
  CHECK(layer1.clusters == 16);
  // R's slice: 512 rows x (16 + 4) floats; two staged slices of 16 x (256 + 4) floats.
  CHECK(layer1.shared.weights == 512 * 20 * 4);
  CHECK(layer1.shared.total == 512 * 20 * 4 + 2 * 16 * 260 * 4);
  const PersistentPlan layer2 = persistent_plan(256, 512, 256, kH100);
  REQUIRE(layer2.fits());
  CHECK(layer2.units == 2);
  CHECK(layer2.blocks == 128);
  CHECK(layer2.input_slices == 32);
  // R's and W's slices: (256 + 512) rows x (8 + 4) floats.
  CHECK(layer2.shared.weights == 768 * 12 * 4);
  check_plan({256, 1, 512}, layer1, kH100);
  check_plan({256, 512, 256}, layer2, kH100);
}

TEST_CASE("persistent partition: every benchmark and generation shape owned once, within the H100",
          "[kernels_host][persistent]") {
  int refused = 0;
  for (const Shape& s : persistent_shapes()) {
    const PersistentPlan p = persistent_plan(s.batch, s.input, s.hidden, kH100);
    if (!p.fits()) {
      // Only the largest sweep layer (F = H = 1024: R and W need 288 KB a block) falls back.
      INFO(describe(s) << ": " << persistent_refusal_text(p.refusal));
      CHECK(p.refusal == PersistentRefusal::shared_memory);
      CHECK(s.input == 1024);
      CHECK(s.hidden == 1024);
      CHECK(p.shared.total > kH100.shared_per_block);
      ++refused;
      continue;
    }
    check_plan(s, p, kH100);
  }
  CHECK(refused == 7);  // the seven batches of F = H = 1024
}

TEST_CASE("persistent partition: refusals name their reason", "[kernels_host][persistent]") {
  CHECK(persistent_plan(0, 1, 512, kH100).refusal == PersistentRefusal::empty_shape);
  CHECK(persistent_plan(256, 1, 2048, kH100).refusal == PersistentRefusal::too_many_blocks);  // 2048 / 8 > 132
  // Without the opt-in (48 KB a block) layer 1's R slice and staging (72.5 KB) do not fit.
  const PersistentPlan p = persistent_plan(256, 1, 512, DeviceLimits{132, kStaticSharedBytes, 8, 16});
  CHECK(p.refusal == PersistentRefusal::shared_memory);
  CHECK(p.units == 4);
  CHECK(std::string(persistent_refusal_text(p.refusal)).find("shared memory") != std::string::npos);
  // Without enough SMs for any U (an L4's 58: 512 / 8 = 64 blocks), the blocks are the reason.
  CHECK(persistent_plan(256, 1, 512, DeviceLimits{58, 99 * 1024, 8, 8}).refusal ==
        PersistentRefusal::too_many_blocks);
}

TEST_CASE("persistent partition: cluster sizes", "[kernels_host][persistent]") {
  CHECK(persistent_cluster(128, 8) == 8);
  CHECK(persistent_cluster(128, 16) == 16);
  CHECK(persistent_cluster(100, 8) == 4);
  CHECK(persistent_cluster(7, 8) == 1);
  CHECK(persistent_cluster(1, 8) == 1);
  CHECK(persistent_cluster(6, 8) == 2);
}

TEST_CASE("persistent partition: the threads' micro-tiles cover a pass once", "[kernels_host][persistent]") {
  for (int units = 1; units <= kPersistentMaxUnits; units *= 2) {
    std::vector<int> seen(std::size_t(kPersistentPassRows) * std::size_t(units), 0);
    for (int thread = 0; thread < kPersistentThreads; ++thread) {
      const PersistentRole r = persistent_role(units, thread);
      CHECK(r.row % units == 0);  // aligned runs of U rows in the transposed stage
      for (int i = 0; i < units; ++i) ++seen[std::size_t(r.row + i) * std::size_t(units) + std::size_t(r.unit)];
    }
    for (int count : seen) CHECK(count == 1);
  }
}

// ---- the backward ------------------------------------------------------------------------

// Every backward plan (FP32 and tensor cores): the grid, ownership, K slices,
// producers and waits.
void check_backward_exchange(const Shape& s, const PersistentPlan& p, DeviceLimits device) {
  INFO(describe(s) << " backward: U " << p.units << " blocks " << p.blocks << " shared " << p.shared.total);
  REQUIRE(p.fits());
  CHECK(p.blocks <= device.sms);
  CHECK(p.shared.total <= device.shared_per_block);
  CHECK(p.blocks % p.cluster == 0);
  CHECK(p.input_slices == 0);
  check_units_and_passes(s, p);
  // K = 4H columns of dgates_{t+1} in slices of 16, to a whole number of the
  // fused backward kernel's 64-column slices; R^T's resident rows match.
  const int cols = kUnitGates * s.hidden;
  CHECK(p.recurrent_slices % kPersistentBackwardGroups == 0);
  CHECK(p.recurrent_slices * kPersistentDepth >= cols);
  CHECK((p.recurrent_slices - kPersistentBackwardGroups) * kPersistentDepth < cols);
  CHECK(p.shared.weight_rows == p.recurrent_slices * kPersistentDepth);
  CHECK(p.shared.weights % 128 == 0);
  // Slice s holds columns [16 s, 16 s + 16): units [4 s, 4 s + 4), published
  // by exactly their owners; the zero slices past 4H by nobody.
  for (int slice = 0; slice < p.recurrent_slices; ++slice) {
    const BlockRange r = slice_producers(p, slice);
    const int u0 = slice * kPersistentDepth / kUnitGates;
    const int u1 = std::min(s.hidden, (slice + 1) * kPersistentDepth / kUnitGates);
    if (u0 >= s.hidden) {
      CHECK(r.first == r.end);
      continue;
    }
    CHECK(r.first == unit_owner(p, u0));
    CHECK(r.end == unit_owner(p, u1 - 1) + 1);
  }
  // Waits: every slice covered one barrier before its fetch, never shrinking,
  // and all blocks by the end.
  int before = 0;
  for (int j = -2; j < p.recurrent_slices; ++j) {
    const int ready = slices_ready_after(p, j);
    CHECK(ready >= before);
    before = ready;
    const int fetched_next = j + 2;
    if (fetched_next < p.recurrent_slices) {
      CHECK(ready > fetched_next);
      const BlockRange r = slice_producers(p, fetched_next);
      if (r.first < r.end) CHECK(blocks_needed(p, ready) >= r.end);
    }
    CHECK(blocks_needed(p, ready) <= p.blocks);
  }
  CHECK(blocks_needed(p, p.recurrent_slices) == p.blocks);
  CHECK(blocks_needed(p, 0) == 0);
}

// The CUDA-core kernel's: R^T's [k][unit] floats, then the two stages.
void check_backward_plan(const Shape& s, const PersistentPlan& p, DeviceLimits device) {
  check_backward_exchange(s, p, device);
  INFO(describe(s) << " backward: U " << p.units);
  CHECK(p.operands == GemmOperands::fp32);
  CHECK(p.shared.weights >= std::size_t(p.shared.weight_rows) * std::size_t(p.units) * 4);
  CHECK(p.shared.a_pitch % 4 == 0);
  CHECK(p.shared.total == p.shared.weights + 2 * p.shared.a_stage);
}

TEST_CASE("persistent backward partition: the recipe's layers on an H100", "[kernels_host][persistent]") {
  const PersistentPlan layer1 = persistent_backward_plan(256, 512, kH100);
  REQUIRE(layer1.fits());
  CHECK(layer1.units == 4);
  CHECK(layer1.blocks == 128);
  CHECK(layer1.passes == 1);
  CHECK(layer1.recurrent_slices == 128);  // 2048 columns of dgates_{t+1}
  // R^T's slice: 2048 rows x 4 floats; two staged slices of 16 x (256 + 4) floats.
  CHECK(layer1.shared.weights == 2048 * 4 * 4);
  CHECK(layer1.shared.total == 2048 * 4 * 4 + 2 * 16 * 260 * 4);
  const PersistentPlan layer2 = persistent_backward_plan(256, 256, kH100);
  REQUIRE(layer2.fits());
  CHECK(layer2.units == 2);
  CHECK(layer2.blocks == 128);
  CHECK(layer2.shared.weights == 1024 * 2 * 4);
  check_backward_plan({256, 1, 512}, layer1, kH100);
  check_backward_plan({256, 512, 256}, layer2, kH100);
  // A tail: 4H = 400 columns run as 7 slices of 64 (28 of 16, the last 3 zeros).
  const PersistentPlan tail = persistent_backward_plan(70, 100, kH100);
  REQUIRE(tail.fits());
  CHECK(tail.recurrent_slices == 28);
  CHECK(produced_slices(tail) == 25);
  check_backward_plan({70, 1, 100}, tail, kH100);
}

TEST_CASE("persistent backward partition: every benchmark and generation shape, within the H100",
          "[kernels_host][persistent]") {
  for (const Shape& s : persistent_shapes()) {
    // F plays no part (dx = dgates W^T is a GEMM after the op): every shape fits,
    // H = 1024 with the largest slice (U 8: 4096 x 8 floats, 160.5 KB with the stages).
    const PersistentPlan p = persistent_backward_plan(s.batch, s.hidden, kH100);
    check_backward_plan(s, p, kH100);
    if (s.hidden == 1024) CHECK(p.shared.total == 4096 * 8 * 4 + 2 * 16 * 260 * 4);
  }
}

TEST_CASE("persistent backward partition: refusals name their reason", "[kernels_host][persistent]") {
  CHECK(persistent_backward_plan(0, 512, kH100).refusal == PersistentRefusal::empty_shape);
  CHECK(persistent_backward_plan(256, 0, kH100).refusal == PersistentRefusal::empty_shape);
  CHECK(persistent_backward_plan(256, 2048, kH100).refusal == PersistentRefusal::too_many_blocks);
  // Without the opt-in (48 KB) layer 1's R^T slice and staging (64.5 KB) do not fit; layer 2's (40.5 KB) do.
  const DeviceLimits no_optin{132, kStaticSharedBytes, 8, 16};
  const PersistentPlan p = persistent_backward_plan(256, 512, no_optin);
  CHECK(p.refusal == PersistentRefusal::shared_memory);
  CHECK(p.units == 4);
  CHECK(persistent_backward_plan(256, 256, no_optin).fits());
  CHECK(persistent_backward_plan(256, 512, DeviceLimits{58, 99 * 1024, 8, 8}).refusal ==
        PersistentRefusal::too_many_blocks);
}

}  // namespace

// ---- the tensor-core variants (TF32, BF16) -------------------------------------------------

// The fragments' constraints on a tensor-core plan: whole 16 x 16 fragments
// of columns, WMMA's ldm a multiple of 16 bytes, every fragment pointer
// 32-byte aligned, and the regions in order without overlap.
void check_tensor_layout(const PersistentPlan& p) {
  const std::size_t element = std::size_t(staged_bytes(p.operands));
  const int cols = kUnitGates * p.units;
  CHECK(p.units >= kPersistentWmmaMinUnits);
  CHECK(cols % kFragment == 0);
  CHECK((std::size_t(p.shared.weight_pitch) * element) % 16 == 0);
  CHECK((std::size_t(p.shared.a_pitch) * element) % 16 == 0);
  CHECK(p.shared.acc_pitch % 4 == 0);
  CHECK(p.shared.weight_pitch >= cols);
  CHECK(p.shared.a_pitch >= kPersistentDepth);
  CHECK(p.shared.acc_pitch >= cols);
  const int depth = fragment_depth(p.operands);
  for (int k = 0; k < p.shared.weight_rows; k += depth)  // B fragments: row k, column 16 j
    for (int j = 0; j < cols / kFragment; ++j)
      CHECK((std::size_t(k) * std::size_t(p.shared.weight_pitch) + std::size_t(j * kFragment)) * element % 32 == 0);
  for (int row = 0; row < kPersistentPassRows; row += kFragment) {  // A fragments: row, k within the slice
    for (int k = 0; k < kPersistentDepth; k += depth)
      CHECK((std::size_t(row) * std::size_t(p.shared.a_pitch) + std::size_t(k)) * element % 32 == 0);
    for (int j = 0; j < cols / kFragment; ++j)  // the accumulator tile's fragments
      CHECK((std::size_t(row) * std::size_t(p.shared.acc_pitch) + std::size_t(j * kFragment)) * 4 % 32 == 0);
  }
  CHECK(p.shared.weights >= std::size_t(p.shared.weight_rows) * std::size_t(p.shared.weight_pitch) * element);
  CHECK(p.shared.a_stage >= std::size_t(kPersistentPassRows) * std::size_t(p.shared.a_pitch) * element);
  CHECK(p.shared.weights % 128 == 0);
  CHECK(p.shared.a_stage % 128 == 0);
  CHECK(p.shared.acc_offset == p.shared.weights + 2 * p.shared.a_stage);
  CHECK(p.shared.total >= p.shared.acc_offset + std::size_t(kPersistentPassRows) * std::size_t(p.shared.acc_pitch) * 4);
}

TEST_CASE("persistent partition, tensor cores: the recipe's layers on an H100", "[kernels_host][persistent]") {
  // Layer 1: U 4 (16 columns, one fragment wide), 128 blocks, as in FP32.
  const PersistentPlan tf32 = persistent_plan(256, 1, 512, kH100, GemmOperands::tf32);
  REQUIRE(tf32.fits());
  CHECK(tf32.units == 4);
  CHECK(tf32.blocks == 128);
  CHECK(tf32.passes == 1);
  // R's slice 512 x (16 + 4) floats, two stages of 256 x (16 + 4) floats, the accumulators 256 x (16 + 4).
  CHECK(tf32.shared.weights == 512 * 20 * 4);
  CHECK(tf32.shared.total == 512 * 20 * 4 + 2 * 256 * 20 * 4 + 256 * 20 * 4);
  const PersistentPlan bf16 = persistent_plan(256, 1, 512, kH100, GemmOperands::bf16);
  REQUIRE(bf16.fits());
  CHECK(bf16.units == 4);
  // BF16 halves the slice (and the stages): 512 x (16 + 8) x 2 bytes.
  CHECK(bf16.shared.weights == 512 * 24 * 2);
  CHECK(bf16.shared.total == 512 * 24 * 2 + 2 * 256 * 24 * 2 + 256 * 20 * 4);
  // Layer 2: U 2 would be half a fragment, so U 4 and 64 blocks.
  for (GemmOperands mode : {GemmOperands::tf32, GemmOperands::bf16}) {
    const PersistentPlan layer2 = persistent_plan(256, 512, 256, kH100, mode);
    REQUIRE(layer2.fits());
    CHECK(layer2.units == 4);
    CHECK(layer2.blocks == 64);
    CHECK(layer2.input_slices == 32);
    CHECK(layer2.shared.weights == std::size_t(768) * std::size_t(layer2.shared.weight_pitch) *
                                       std::size_t(staged_bytes(mode)));
    check_plan({256, 512, 256}, layer2, kH100);
    check_tensor_layout(layer2);
  }
  check_plan({256, 1, 512}, tf32, kH100);
  check_plan({256, 1, 512}, bf16, kH100);
  check_tensor_layout(tf32);
  check_tensor_layout(bf16);
}

TEST_CASE("persistent partition, tensor cores: every benchmark and generation shape owned once, within the H100",
          "[kernels_host][persistent]") {
  for (GemmOperands mode : {GemmOperands::tf32, GemmOperands::bf16}) {
    int refused = 0;
    for (const Shape& s : persistent_shapes()) {
      const PersistentPlan p = persistent_plan(s.batch, s.input, s.hidden, kH100, mode);
      CHECK(p.operands == mode);
      if (!p.fits()) {
        // TF32: only F = H = 1024 (R and W: 2048 x 36 floats, 288 KB a block); BF16's half fits.
        INFO(describe(s) << ": " << persistent_refusal_text(p.refusal));
        CHECK(mode == GemmOperands::tf32);
        CHECK(p.refusal == PersistentRefusal::shared_memory);
        CHECK(s.input == 1024);
        CHECK(s.hidden == 1024);
        CHECK(p.shared.total > kH100.shared_per_block);
        ++refused;
        continue;
      }
      check_plan(s, p, kH100);
      check_tensor_layout(p);
    }
    CHECK(refused == (mode == GemmOperands::tf32 ? 7 : 0));
  }
}

TEST_CASE("persistent partition, tensor cores: refusals", "[kernels_host][persistent]") {
  for (GemmOperands mode : {GemmOperands::tf32, GemmOperands::bf16}) {
    CHECK(persistent_plan(0, 1, 512, kH100, mode).refusal == PersistentRefusal::empty_shape);
    CHECK(persistent_plan(256, 1, 2048, kH100, mode).refusal == PersistentRefusal::too_many_blocks);
    // Without the opt-in (48 KB a block) layer 1 does not fit in either mode.
    const PersistentPlan p = persistent_plan(256, 1, 512, DeviceLimits{132, kStaticSharedBytes, 8, 16}, mode);
    CHECK(p.refusal == PersistentRefusal::shared_memory);
    CHECK(p.units == 4);
    // Fewer SMs: FP32 would take U 8 for H 512 on 64 SMs, and so do the tensor cores.
    const PersistentPlan small = persistent_plan(256, 1, 512, DeviceLimits{64, 227 * 1024, 8, 8}, mode);
    REQUIRE(small.fits());
    CHECK(small.units == 8);
  }
  // The strict FP32 overload is the fp32 mode.
  const PersistentPlan a = persistent_plan(256, 1, 512, kH100);
  const PersistentPlan b = persistent_plan(256, 1, 512, kH100, GemmOperands::fp32);
  CHECK(a.units == b.units);
  CHECK(a.shared.total == b.shared.total);
  CHECK(a.operands == GemmOperands::fp32);
}

// ---- the tensor-core backward (TF32, BF16) -------------------------------------------------

// U 16 (one fragment column of units), R^T's slice column-major [unit][K +
// pad] in the operand type, WMMA's ldm a multiple of 16 bytes, every fragment
// pointer 32-byte aligned, the regions in order without overlap.
void check_backward_tensor_plan(const Shape& s, const PersistentPlan& p, DeviceLimits device) {
  check_backward_exchange(s, p, device);
  INFO(describe(s) << " backward " << int(p.operands) << ": blocks " << p.blocks << " shared " << p.shared.total);
  const std::size_t element = std::size_t(staged_bytes(p.operands));
  CHECK(p.operands != GemmOperands::fp32);
  CHECK(p.units == kPersistentBackwardWmmaUnits);
  CHECK(p.blocks == (s.hidden + 15) / 16);
  CHECK(p.shared.weight_pitch >= p.shared.weight_rows);
  CHECK((std::size_t(p.shared.weight_pitch) * element) % 16 == 0);
  CHECK((std::size_t(p.shared.a_pitch) * element) % 16 == 0);
  CHECK(p.shared.a_pitch >= kPersistentDepth);
  CHECK(p.shared.acc_pitch % 4 == 0);
  CHECK(p.shared.acc_pitch >= p.units);
  const int depth = fragment_depth(p.operands);
  for (int k = 0; k < p.shared.weight_rows; k += depth)  // B fragments (column-major): unit 0, row k
    CHECK(std::size_t(k) * element % 32 == 0);
  for (int row = 0; row < kPersistentPassRows; row += kFragment) {
    for (int k = 0; k < kPersistentDepth; k += depth)  // A fragments: row, k within the slice
      CHECK((std::size_t(row) * std::size_t(p.shared.a_pitch) + std::size_t(k)) * element % 32 == 0);
    CHECK(std::size_t(row) * std::size_t(p.shared.acc_pitch) * 4 % 32 == 0);  // the summed fragments
  }
  CHECK(p.shared.weights >= std::size_t(p.units) * std::size_t(p.shared.weight_pitch) * element);
  CHECK(p.shared.a_stage >= std::size_t(kPersistentPassRows) * std::size_t(p.shared.a_pitch) * element);
  CHECK(p.shared.a_stage % 128 == 0);
  CHECK(p.shared.acc_offset == p.shared.weights + 2 * p.shared.a_stage);
  CHECK(p.shared.total >= p.shared.acc_offset + std::size_t(kPersistentPassRows) * std::size_t(p.shared.acc_pitch) * 4);
}

TEST_CASE("persistent backward partition, tensor cores: the recipe's layers on an H100",
          "[kernels_host][persistent]") {
  // Layer 1: 32 blocks of 16 units; R^T 16 x (2048 + pad), two stages of
  // 256 x (16 + pad), the summed accumulators 256 x (16 + 4) floats.
  const PersistentPlan tf32 = persistent_backward_plan(256, 512, kH100, GemmOperands::tf32);
  REQUIRE(tf32.fits());
  CHECK(tf32.blocks == 32);
  CHECK(tf32.recurrent_slices == 128);
  CHECK(tf32.shared.weights == 16 * 2052 * 4);
  CHECK(tf32.shared.total == 16 * 2052 * 4 + 2 * 256 * 20 * 4 + 256 * 20 * 4);  // 192,768
  const PersistentPlan bf16 = persistent_backward_plan(256, 512, kH100, GemmOperands::bf16);
  REQUIRE(bf16.fits());
  CHECK(bf16.blocks == 32);
  CHECK(bf16.shared.weights == 16 * 2056 * 2);  // half: BF16 keeps the slice in 16 bits
  CHECK(bf16.shared.total == 16 * 2056 * 2 + 2 * 256 * 24 * 2 + 256 * 20 * 4);  // 110,848
  // Layer 2: 16 blocks.
  const PersistentPlan tf32_2 = persistent_backward_plan(256, 256, kH100, GemmOperands::tf32);
  const PersistentPlan bf16_2 = persistent_backward_plan(256, 256, kH100, GemmOperands::bf16);
  REQUIRE(tf32_2.fits());
  REQUIRE(bf16_2.fits());
  CHECK(tf32_2.blocks == 16);
  CHECK(tf32_2.shared.total == 16 * 1028 * 4 + 2 * 256 * 20 * 4 + 256 * 20 * 4);  // 127,232
  CHECK(bf16_2.shared.total == 16 * 1032 * 2 + 2 * 256 * 24 * 2 + 256 * 20 * 4);  // 78,080
  check_backward_tensor_plan({256, 1, 512}, tf32, kH100);
  check_backward_tensor_plan({256, 1, 512}, bf16, kH100);
  check_backward_tensor_plan({256, 512, 256}, tf32_2, kH100);
  check_backward_tensor_plan({256, 512, 256}, bf16_2, kH100);
  // A tail: H 100 is 7 blocks, the last of 4 units; 4H = 400 columns as 28 slices (the last 3 zeros).
  const PersistentPlan tail = persistent_backward_plan(70, 100, kH100, GemmOperands::bf16);
  REQUIRE(tail.fits());
  CHECK(tail.blocks == 7);
  CHECK(tail.recurrent_slices == 28);
  CHECK(block_units(tail, 6).end - block_units(tail, 6).first == 4);
  check_backward_tensor_plan({70, 1, 100}, tail, kH100);
}

TEST_CASE("persistent backward partition, tensor cores: every benchmark and generation shape, within the H100",
          "[kernels_host][persistent]") {
  for (GemmOperands mode : {GemmOperands::tf32, GemmOperands::bf16}) {
    int refused = 0;
    for (const Shape& s : persistent_shapes()) {
      const PersistentPlan p = persistent_backward_plan(s.batch, s.hidden, kH100, mode);
      CHECK(p.operands == mode);
      if (!p.fits()) {
        // TF32: only H 1024 (R^T 16 x 4100 floats, 256 KB); BF16's half fits.
        INFO(describe(s) << ": " << persistent_refusal_text(p.refusal));
        CHECK(mode == GemmOperands::tf32);
        CHECK(p.refusal == PersistentRefusal::shared_memory);
        CHECK(s.hidden == 1024);
        CHECK(p.shared.total > kH100.shared_per_block);
        ++refused;
        continue;
      }
      check_backward_tensor_plan(s, p, kH100);
    }
    CHECK(refused == (mode == GemmOperands::tf32 ? 14 : 0));  // both sweeps' seven batches of H 1024
  }
}

TEST_CASE("persistent backward partition, tensor cores: refusals", "[kernels_host][persistent]") {
  for (GemmOperands mode : {GemmOperands::tf32, GemmOperands::bf16}) {
    CHECK(persistent_backward_plan(0, 512, kH100, mode).refusal == PersistentRefusal::empty_shape);
    CHECK(persistent_backward_plan(256, 0, kH100, mode).refusal == PersistentRefusal::empty_shape);
    CHECK(persistent_backward_plan(256, 2200, kH100, mode).refusal == PersistentRefusal::too_many_blocks);  // 138
    // Without the opt-in (48 KB a block) neither recipe layer fits.
    const DeviceLimits no_optin{132, kStaticSharedBytes, 8, 16};
    CHECK(persistent_backward_plan(256, 512, no_optin, mode).refusal == PersistentRefusal::shared_memory);
    CHECK(persistent_backward_plan(256, 256, no_optin, mode).refusal == PersistentRefusal::shared_memory);
    CHECK(std::string(persistent_refusal_text(persistent_backward_plan(256, 256, no_optin, mode).refusal))
              .find("shared memory") != std::string::npos);
  }
  // TF32's slice stops at H 656 (4H rounded to 2624 rows), BF16's at H 1456 (5824 rows).
  CHECK(persistent_backward_plan(256, 656, kH100, GemmOperands::tf32).fits());
  CHECK(persistent_backward_plan(256, 657, kH100, GemmOperands::tf32).refusal == PersistentRefusal::shared_memory);
  CHECK(persistent_backward_plan(256, 1456, kH100, GemmOperands::bf16).fits());
  CHECK(persistent_backward_plan(256, 1457, kH100, GemmOperands::bf16).refusal == PersistentRefusal::shared_memory);
  // The fp32 mode is the CUDA-core kernel's plan.
  const PersistentPlan a = persistent_backward_plan(256, 512, kH100);
  const PersistentPlan b = persistent_backward_plan(256, 512, kH100, GemmOperands::fp32);
  CHECK(a.units == b.units);
  CHECK(a.shared.total == b.shared.total);
  CHECK(b.operands == GemmOperands::fp32);
}

TEST_CASE("persistent backward partition, tensor cores: the cells cover a pass once, a warp two whole rows",
          "[kernels_host][persistent]") {
  std::vector<int> seen(std::size_t(kPersistentPassRows) * kPersistentBackwardWmmaUnits, 0);
  for (int thread = 0; thread < kPersistentThreads; ++thread)
    for (int q = 0; q < persistent_backward_cells_per_thread(); ++q) {
      const PersistentRole at = persistent_backward_cell(thread, q);
      REQUIRE(at.row < kPersistentPassRows);
      ++seen[std::size_t(at.row) * kPersistentBackwardWmmaUnits + std::size_t(at.unit)];
      const PersistentRole lane0 = persistent_backward_cell(thread - thread % kWarp, q);
      CHECK(at.row - lane0.row == (thread % kWarp) / kPersistentBackwardWmmaUnits);
      CHECK(at.unit == thread % kPersistentBackwardWmmaUnits);
    }
  for (int count : seen) CHECK(count == 1);
}
