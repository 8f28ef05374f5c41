// The fused kernels' tile and partition arithmetic (kernels/fused_tiling.hpp),
// for every shape the model and the benchmarks use: the recipe's two layers
// and head, bench/lstm_suite.cpp's sweep (batch 1..512, hidden 128..1024,
// input 1 and = hidden) and generation (N = 40 x streams). Every output
// element is covered exactly once, every index stays in bounds, vector and
// tensor-core accesses meet their alignment, shared memory fits the static
// limit, and block counts are sane.

#include <catch2/catch.hpp>
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "kernels/fused_tiling.hpp"

namespace {

using namespace nocturne::kernels;

struct Shape {
  int batch, input, hidden;
};

std::vector<Shape> all_shapes() {
  std::vector<Shape> shapes = {
      {256, 1, 512}, {256, 64, 512}, {256, 512, 256},  // the recipe (layer 1 scalar or embedded, layer 2)
      {1, 1, 1},     {3, 5, 7},      {33, 17, 20},    {70, 3, 33}, {100, 100, 100},  // tails
  };
  for (int input_is_hidden : {0, 1})  // bench/lstm_suite.cpp's sweep
    for (int hidden : {128, 256, 512, 1024})
      for (int batch : {1, 8, 32, 64, 128, 256, 512}) shapes.push_back({batch, input_is_hidden ? hidden : 1, hidden});
  for (int streams : {1, 2, 4, 8, 32, 64, 256})  // generation: 40 window slots per stream
    for (Shape layer : {Shape{0, 1, 512}, Shape{0, 512, 256}, Shape{0, 64, 512}})
      shapes.push_back({40 * streams, layer.input, layer.hidden});
  return shapes;
}

const GemmOperands kModes[] = {GemmOperands::fp32, GemmOperands::tf32, GemmOperands::bf16};

std::string describe(const Shape& s, GemmOperands operands) {
  const char* mode = operands == GemmOperands::fp32 ? "fp32" : operands == GemmOperands::tf32 ? "tf32" : "bf16";
  return "N " + std::to_string(s.batch) + " F " + std::to_string(s.input) + " H " + std::to_string(s.hidden) + " " +
         mode;
}

// ---- staging slices ----------------------------------------------------------------------

// Every element of the slice exactly once over threads x per_thread, in both
// modes; vector items are 4 consecutive columns starting at a multiple of 4.
void check_slice(const SliceShape& s) {
  REQUIRE(s.valid());
  for (bool vector : {false, true}) {
    std::vector<int> seen(std::size_t(s.rows) * s.cols, 0);
    for (int t = 0; t < s.threads; ++t)
      for (int q = 0; q < s.per_thread(); ++q) {
        const SlicePosition at = slice_position(s, vector, t, q);
        REQUIRE(at.row >= 0);
        REQUIRE(at.row < s.rows);
        REQUIRE(at.col >= 0);
        REQUIRE(at.col < s.cols);
        ++seen[std::size_t(at.row) * s.cols + at.col];
        if (vector && q % 4 != 0) {
          const SlicePosition first = slice_position(s, true, t, q - q % 4);
          REQUIRE(first.col % 4 == 0);
          REQUIRE(at.row == first.row);
          REQUIRE(at.col == first.col + q % 4);
        }
      }
    for (int count : seen) REQUIRE(count == 1);
    // Coalescing: consecutive threads read consecutive columns (or items).
    const SlicePosition a = slice_position(s, vector, 0, 0), b = slice_position(s, vector, 1, 0);
    if (s.cols > (vector ? 4 : 1)) {
      CHECK(b.row == a.row);
      CHECK(b.col == a.col + (vector ? 4 : 1));
    }
  }
}

TEST_CASE("staging: every slice element is loaded once, float4 items whole", "[kernels_host][tiling]") {
  for (const StepTile& t : kForwardTiles) {
    check_slice(forward_a_slice(t));
    check_slice(forward_b_slice(t));
  }
  for (const StepTile& t : kBackwardTiles) {
    check_slice(backward_a_slice(t));
    check_slice(backward_b_slice(t));
  }
}

// ---- tiles -------------------------------------------------------------------------------------

TEST_CASE("tile tables: thread counts, k-groups, fragment shapes", "[kernels_host][tiling]") {
  for (const StepTile& t : kForwardTiles) {
    CHECK(t.k_groups == 1);
    CHECK(t.threads() % kWarp == 0);
    CHECK(t.threads() <= 1024);
    if (t.tensor_cores) {
      for (GemmOperands operands : {GemmOperands::tf32, GemmOperands::bf16})
        CHECK(t.slice() % fragment_depth(operands) == 0);
      const WarpRole w = warp_role(t, 0, true);
      CHECK(w.frag_rows * kFragment * t.warps_rows == t.rows);
      CHECK(w.frag_cols * kFragment * t.warps_cols == t.cols());
    } else {
      CHECK(t.rows % t.thread_rows == 0);
      CHECK(t.units % t.thread_units == 0);
      CHECK(t.thread_rows % 4 == 0);  // a thread reads its rows of A as float4
    }
  }
  for (const StepTile& t : kBackwardTiles) {
    CHECK(t.rows == kPartialRows);  // a backward block is one partial block
    CHECK(t.threads() % kWarp == 0);
    CHECK(t.threads() >= 2 * t.cols());  // the partial sums: one pass of db and dw columns
    if (t.tensor_cores) {
      for (GemmOperands operands : {GemmOperands::tf32, GemmOperands::bf16})
        CHECK(t.depth % fragment_depth(operands) == 0);
      const WarpRole w = warp_role(t, 0, false);
      CHECK(w.frag_rows * kFragment * t.warps_rows == t.rows);
      CHECK(w.frag_cols * kFragment * t.warps_cols == t.units);
    } else {
      CHECK(t.thread_rows % 4 == 0);
      CHECK(t.thread_units == 2);  // B is read as float2
    }
  }
}

// Each tile's GEMM outputs are owned exactly once (per k-group), and each of
// its cells is handled by exactly one thread in the epilogue.
void check_tile_ownership(const StepTile& t, bool forward) {
  const int out_cols = forward ? t.cols() : t.units;
  for (int g = 0; g < t.k_groups; ++g) {
    std::vector<int> owned(std::size_t(t.rows) * out_cols, 0);
    if (t.tensor_cores) {
      for (int w = 0; w < t.threads() / kWarp; ++w) {
        const WarpRole role = warp_role(t, w, forward);
        if (role.group != g) continue;
        for (int i = 0; i < role.frag_rows; ++i)
          for (int j = 0; j < role.frag_cols; ++j)
            for (int r = 0; r < kFragment; ++r)
              for (int c = 0; c < kFragment; ++c) {
                const int row = role.row + i * kFragment + r, col = role.col + j * kFragment + c;
                REQUIRE(row < t.rows);
                REQUIRE(col < out_cols);
                ++owned[std::size_t(row) * out_cols + col];
              }
      }
    } else {
      const int per_unit = forward ? kUnitGates : 1;
      for (int thread = 0; thread < t.threads(); ++thread) {
        const SimtRole role = simt_role(t, thread);
        REQUIRE(role.group < t.k_groups);
        if (role.group != g) continue;
        for (int i = 0; i < t.thread_rows; ++i)
          for (int j = 0; j < t.thread_units * per_unit; ++j) {
            const int row = role.row * t.thread_rows + i, col = role.unit * t.thread_units * per_unit + j;
            REQUIRE(row < t.rows);
            REQUIRE(col < out_cols);
            ++owned[std::size_t(row) * out_cols + col];
          }
      }
    }
    for (int count : owned) REQUIRE(count == 1);
  }
  if (!forward || t.tensor_cores) {  // epilogues from shared memory
    std::vector<int> cells(std::size_t(t.rows) * t.units, 0);
    REQUIRE(cells_per_thread(t) * t.threads() == t.rows * t.units);
    for (int thread = 0; thread < t.threads(); ++thread)
      for (int q = 0; q < cells_per_thread(t); ++q) {
        const CellPosition at = cell_position(t, thread, q);
        REQUIRE(at.row < t.rows);
        REQUIRE(at.unit < t.units);
        ++cells[std::size_t(at.row) * t.units + at.unit];
      }
    for (int count : cells) REQUIRE(count == 1);
  }
}

TEST_CASE("tiles: every GEMM output and every cell owned exactly once", "[kernels_host][tiling]") {
  for (const StepTile& t : kForwardTiles) check_tile_ownership(t, true);
  for (const StepTile& t : kBackwardTiles) check_tile_ownership(t, false);
}

// ---- shared memory and alignment ----------------------------------------------------------------

bool aligned(std::size_t bytes, std::size_t to) { return bytes % to == 0; }

// WMMA: a fragment's pointer 32-byte aligned, ldm a multiple of 16 bytes.
void check_fragment(std::size_t byte_offset, int ldm, std::size_t element) {
  REQUIRE(aligned(byte_offset, 32));
  REQUIRE(aligned(std::size_t(ldm) * element, 16));
}

void check_forward_layout(const StepTile& t, GemmOperands operands) {
  INFO("forward tile " << t.rows << " x " << t.units << (t.tensor_cores ? " tensor cores" : " CUDA cores"));
  const StepShared s = forward_shared(t, operands);
  const std::size_t element = t.tensor_cores ? std::size_t(staged_bytes(operands)) : 4;
  CHECK(s.total <= kStaticSharedBytes);
  CHECK(s.total <= kSm90SharedBytes);
  // Two stages of A then two of B, disjoint and inside the staging area.
  const std::size_t a_need =
      t.tensor_cores ? std::size_t(t.rows) * s.a_pitch * element : std::size_t(t.slice()) * s.a_pitch * element;
  const std::size_t b_need = std::size_t(t.slice()) * s.b_pitch * element;
  CHECK(a_need <= s.a_stage);
  CHECK(b_need <= s.b_stage);
  CHECK(s.b_offset >= 2 * s.a_stage);
  CHECK(s.b_offset + 2 * s.b_stage <= s.total);
  CHECK((t.tensor_cores ? s.a_pitch >= t.slice() : s.a_pitch >= t.rows));
  CHECK(s.b_pitch >= t.cols());
  for (std::size_t offset : {std::size_t(0), s.a_stage, s.b_offset, s.b_offset + s.b_stage})
    CHECK(aligned(offset, 128));
  if (t.tensor_cores) {
    CHECK(s.acc_pitch >= t.cols());
    CHECK(s.acc_offset + std::size_t(t.rows) * s.acc_pitch * 4 <= s.total);
    for (int w = 0; w < t.threads() / kWarp; ++w) {
      const WarpRole role = warp_role(t, w, true);
      for (int k = 0; k < t.slice(); k += fragment_depth(operands)) {
        for (int i = 0; i < role.frag_rows; ++i)
          for (std::size_t stage : {std::size_t(0), s.a_stage})
            check_fragment(stage + (std::size_t(role.row + i * kFragment) * s.a_pitch + std::size_t(k)) * element,
                           s.a_pitch, element);
        for (int j = 0; j < role.frag_cols; ++j)
          for (std::size_t stage : {s.b_offset, s.b_offset + s.b_stage})
            check_fragment(stage + (std::size_t(k) * s.b_pitch + std::size_t(role.col + j * kFragment)) * element,
                           s.b_pitch, element);
      }
      for (int i = 0; i < role.frag_rows; ++i)
        for (int j = 0; j < role.frag_cols; ++j)
          check_fragment(
              s.acc_offset + (std::size_t(role.row + i * kFragment) * s.acc_pitch + role.col + j * kFragment) * 4,
              s.acc_pitch, 4);
    }
    for (int thread = 0; thread < t.threads(); ++thread)  // the epilogue's float4 of a unit's sums
      for (int q = 0; q < cells_per_thread(t); ++q) {
        const CellPosition at = cell_position(t, thread, q);
        REQUIRE(aligned(s.acc_offset + (std::size_t(at.row) * s.acc_pitch + std::size_t(at.unit) * 4) * 4, 16));
      }
  } else {
    for (int thread = 0; thread < t.threads(); ++thread) {  // the micro-tile's float4 reads
      const SimtRole role = simt_role(t, thread);
      for (int k = 0; k < t.slice(); ++k) {
        REQUIRE(aligned((std::size_t(k) * s.a_pitch + std::size_t(role.row * t.thread_rows)) * 4, 16));
        REQUIRE(
            aligned(s.b_offset + (std::size_t(k) * s.b_pitch + std::size_t(role.unit * t.thread_units * 4)) * 4, 16));
      }
    }
  }
}

void check_backward_layout(const StepTile& t, GemmOperands operands) {
  INFO("backward tile " << t.rows << " x " << t.units << (t.tensor_cores ? " tensor cores" : " CUDA cores"));
  const StepShared s = backward_shared(t, operands);
  const std::size_t element = t.tensor_cores ? std::size_t(staged_bytes(operands)) : 4;
  CHECK(s.total <= kStaticSharedBytes);
  CHECK(s.b_offset >= 2 * s.a_stage);
  CHECK(s.b_offset + 2 * s.b_stage <= s.total);
  // The k-groups' accumulator tiles, then the da tile: disjoint, inside.
  CHECK(s.acc_pitch >= t.units);
  CHECK(s.acc_group >= std::size_t(t.rows) * s.acc_pitch * 4);
  CHECK(s.da_offset >= s.acc_offset + std::size_t(t.k_groups) * s.acc_group);
  CHECK(s.da_pitch >= t.cols());
  CHECK(s.da_offset + std::size_t(t.rows) * s.da_pitch * 4 <= s.total);
  CHECK(aligned(s.da_offset, 16));
  CHECK(aligned(std::size_t(s.da_pitch) * 4, 16));
  for (int g = 0; g < t.k_groups; ++g) CHECK(aligned(s.acc_offset + std::size_t(g) * s.acc_group, 128));
  if (t.tensor_cores) {
    for (int w = 0; w < t.threads() / kWarp; ++w) {
      const WarpRole role = warp_role(t, w, false);
      for (int k = 0; k < t.depth; k += fragment_depth(operands)) {
        const int kk = role.group * t.depth + k;
        for (int i = 0; i < role.frag_rows; ++i)
          for (std::size_t stage : {std::size_t(0), s.a_stage})
            check_fragment(stage + (std::size_t(role.row + i * kFragment) * s.a_pitch + std::size_t(kk)) * element,
                           s.a_pitch, element);
        for (int j = 0; j < role.frag_cols; ++j)  // column-major: unit-major rows of R
          for (std::size_t stage : {s.b_offset, s.b_offset + s.b_stage})
            check_fragment(stage + (std::size_t(role.col + j * kFragment) * s.b_pitch + std::size_t(kk)) * element,
                           s.b_pitch, element);
      }
      for (int i = 0; i < role.frag_rows; ++i)
        for (int j = 0; j < role.frag_cols; ++j)
          check_fragment(s.acc_offset + std::size_t(role.group) * s.acc_group +
                             (std::size_t(role.row + i * kFragment) * s.acc_pitch + role.col + j * kFragment) * 4,
                         s.acc_pitch, 4);
    }
  } else {
    for (int thread = 0; thread < t.threads(); ++thread) {
      const SimtRole role = simt_role(t, thread);
      for (int k = role.group * t.depth; k < (role.group + 1) * t.depth; ++k) {
        REQUIRE(k < t.slice());
        REQUIRE(aligned((std::size_t(k) * s.a_pitch + std::size_t(role.row * t.thread_rows)) * 4, 16));
        REQUIRE(aligned(s.b_offset + (std::size_t(k) * s.b_pitch + std::size_t(role.unit * t.thread_units)) * 4,
                        std::size_t(t.thread_units) * 4));
      }
    }
  }
  for (int thread = 0; thread < t.threads(); ++thread)  // the da tile's float4 stores
    for (int q = 0; q < cells_per_thread(t); ++q) {
      const CellPosition at = cell_position(t, thread, q);
      REQUIRE(aligned(s.da_offset + (std::size_t(at.row) * s.da_pitch + std::size_t(at.unit) * 4) * 4, 16));
    }
}

TEST_CASE("shared memory: within the static limit, regions disjoint, vector and fragment accesses aligned",
          "[kernels_host][tiling]") {
  for (GemmOperands operands : kModes) {
    for (const StepTile& t : kForwardTiles)
      if (t.tensor_cores == (operands != GemmOperands::fp32)) check_forward_layout(t, operands);
    for (const StepTile& t : kBackwardTiles)
      if (t.tensor_cores == (operands != GemmOperands::fp32)) check_backward_layout(t, operands);
  }
}

// ---- grids, for every shape -----------------------------------------------------------------------

// The chosen tile's blocks cover [N, H] exactly once, rows and units in
// bounds; the K slices cover K; the block counts fit the grid.
TEST_CASE("every shape: the chosen tiles cover the step's cells once, K slices cover K, grids are sane",
          "[kernels_host][tiling]") {
  for (const Shape& shape : all_shapes())
    for (GemmOperands operands : kModes) {
      INFO(describe(shape, operands));
      const int n = shape.batch, h = shape.hidden;
      for (bool forward : {true, false}) {
        const StepTile t =
            forward ? kForwardTiles[forward_tile_index(operands, n, h)] : kBackwardTiles[backward_tile_index(operands)];
        REQUIRE(t.tensor_cores == (operands != GemmOperands::fp32));
        const StepGrid grid = step_grid(t, n, h);
        REQUIRE(grid.row_blocks >= 1);
        REQUIRE(grid.unit_blocks >= 1);
        REQUIRE(grid.row_blocks <= kMaxGridY);
        REQUIRE((long long)(grid.row_blocks - 1) * t.rows < n);  // no block without a row
        REQUIRE((long long)(grid.unit_blocks - 1) * t.units < h);
        if (!forward) REQUIRE(grid.row_blocks == lstm_partial_blocks(n));
        std::vector<unsigned char> covered(std::size_t(n) * h, 0);
        for (int by = 0; by < grid.row_blocks; ++by)
          for (int bx = 0; bx < grid.unit_blocks; ++bx) {
            const TileOrigin o = tile_origin(t, bx, by);
            REQUIRE(o.row_block == by);
            for (int r = o.row0; r < o.row0 + t.rows && r < n; ++r)
              for (int u = o.unit0; u < o.unit0 + t.units && u < h; ++u) ++covered[std::size_t(r) * h + u];
          }
        CHECK(std::count(covered.begin(), covered.end(), 1) == std::ptrdiff_t(covered.size()));
        if (forward) {
          for (bool zero_state : {false, true}) {
            const ForwardSlices s = forward_slices(t, h, shape.input, zero_state);
            CHECK(s.recurrent == (zero_state ? 0 : (h + t.slice() - 1) / t.slice()));
            if (!zero_state) CHECK((long long)s.recurrent * t.slice() >= h);
            if (shape.input > 1) {
              CHECK((long long)s.input * t.slice() >= shape.input);
              CHECK((long long)(s.input - 1) * t.slice() < shape.input);
            } else {
              CHECK(s.input == 0);  // F == 1: the epilogue's rank-one term
            }
          }
        } else {
          const int slices = backward_slices(t, h, false);
          CHECK((long long)slices * t.slice() >= 4LL * h);
          CHECK((long long)(slices - 1) * t.slice() < 4LL * h);
          CHECK(backward_slices(t, h, true) == 0);
        }
      }
    }
}

TEST_CASE("the recipe's tiles and block counts", "[kernels_host][tiling]") {
  // Layer 1 (N 256, H 512): the large tile, 4 x 32 = 128 blocks; layer 2 (H
  // 256) and generation (N 40): the small one.
  CHECK(forward_tile_index(GemmOperands::fp32, 256, 512) == 0);
  CHECK(step_grid(kForwardTiles[0], 256, 512).blocks() == 128);
  CHECK(forward_tile_index(GemmOperands::fp32, 256, 256) == 1);
  CHECK(step_grid(kForwardTiles[1], 256, 256).blocks() == 128);
  CHECK(forward_tile_index(GemmOperands::tf32, 256, 512) == 2);
  CHECK(forward_tile_index(GemmOperands::bf16, 256, 256) == 3);
  CHECK(forward_tile_index(GemmOperands::fp32, 40, 512) == 1);
  // Backward: 256 blocks for layer 1, 128 for layer 2; 8 partial blocks.
  CHECK(step_grid(kBackwardTiles[0], 256, 512).blocks() == 256);
  CHECK(step_grid(kBackwardTiles[1], 256, 256).blocks() == 128);
  CHECK(lstm_partial_blocks(256) == 8);
}

TEST_CASE("partial blocks depend on N alone: ceil(N / 32)", "[kernels_host][tiling]") {
  CHECK(lstm_partial_blocks(0) == 0);
  for (int n = 1; n <= 4096; ++n) {
    const int p = lstm_partial_blocks(n);
    REQUIRE((long long)p * kPartialRows >= n);
    REQUIRE((long long)(p - 1) * kPartialRows < n);
  }
  static_assert(lstm_partial_blocks(10240) == 320, "generation's 40 x 256 rows");
}

// ---- head ---------------------------------------------------------------------------------------------

TEST_CASE("head: rows per block fit shared memory; gradient tiles cover dW1, dW2, db1, db2 once",
          "[kernels_host][tiling]") {
  CHECK(kHeadThreads == kHeadTile * kHeadLanes);
  CHECK(kHeadPerThread * kHeadLanes == kHeadTile);
  CHECK(kHeadMaxRows <= kHeadThreads / kWarp);                // a warp per row in the softmax
  CHECK(head_rows_per_block(256, 256, 127) == kHeadMaxRows);  // the recipe
  CHECK(head_rows_per_block(4000, 4000, 4000) == 0);          // too wide: the wrapper refuses it
  struct Head {
    int input, dense, vocab;
  };
  for (const Head& h :
       {Head{256, 256, 127}, Head{1, 1, 1}, Head{33, 70, 5}, Head{512, 1024, 2000}, Head{128, 64, 300}}) {
    INFO("K " << h.input << " D " << h.dense << " V " << h.vocab);
    const int rows = head_rows_per_block(h.input, h.dense, h.vocab);
    REQUIRE(rows >= 1);
    CHECK(std::size_t(rows) * head_row_floats(h.input, h.dense, h.vocab) * 4 <= kStaticSharedBytes);
    if (rows < kHeadMaxRows)
      CHECK(std::size_t(rows * 2) * head_row_floats(h.input, h.dense, h.vocab) * 4 > kStaticSharedBytes);
    const HeadGradGrid grid = head_grad_grid(h.input, h.dense, h.vocab);
    std::vector<int> dw1(std::size_t(h.input) * h.dense, 0), dw2(std::size_t(h.dense) * h.vocab, 0);
    std::vector<int> db1(std::size_t(h.dense), 0), db2(std::size_t(h.vocab), 0);
    int stats = 0;
    for (int block = 0; block < grid.blocks(); ++block) {
      const HeadGradJob job = head_grad_job(grid, block);
      if (job.job == HeadJob::stats) {
        ++stats;
        continue;
      }
      const bool first = job.job == HeadJob::dw1;
      const int m = first ? h.input : h.dense, c = first ? h.dense : h.vocab;
      std::vector<int>& dw = first ? dw1 : dw2;
      std::vector<int>& db = first ? db1 : db2;
      for (int thread = 0; thread < kHeadThreads; ++thread) {
        const int col = job.tile_col * kHeadTile + thread % kHeadTile, lane = thread / kHeadTile;
        if (col >= c) continue;
        for (int q = 0; q < kHeadPerThread; ++q) {
          const int row = job.tile_row * kHeadTile + lane + q * kHeadLanes;
          if (row < m) ++dw[std::size_t(row) * c + col];
        }
        if (job.tile_row == 0 && lane == 0) ++db[std::size_t(col)];
      }
    }
    CHECK(stats == 1);
    for (int count : dw1) REQUIRE(count == 1);
    for (int count : dw2) REQUIRE(count == 1);
    for (int count : db1) REQUIRE(count == 1);
    for (int count : db2) REQUIRE(count == 1);
  }
}

// ---- sampling ---------------------------------------------------------------------------------------

TEST_CASE("sampling: shared memory per vocabulary, and the largest vocabulary a block takes",
          "[kernels_host][tiling]") {
  CHECK(kSampleThreads % kWarp == 0);
  CHECK(sample_shared_bytes(127) <= kStaticSharedBytes);
  const int most = sample_max_vocab();
  CHECK(most >= 3000);
  CHECK(sample_shared_bytes(most) <= kStaticSharedBytes);
  CHECK(sample_shared_bytes(most + 1) > kStaticSharedBytes);
  // The weights (double) then the ranking (int32) then the warps' pairs, aligned.
  for (int v : {1, 3, 127, most}) CHECK(sample_shared_bytes(v) >= std::size_t(v) * 12 + kSampleThreads / kWarp * 8);
}

}  // namespace
