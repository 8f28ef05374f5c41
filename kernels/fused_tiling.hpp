#pragma once
// Tile and partition arithmetic of the fused path's kernels (fused_kernels.hpp):
// plain constexpr C++ with no CUDA header, so test/kernels_host checks it on
// the host for every shape the model and the benchmarks use (every output
// element covered once, every index in bounds, the alignment of vector and
// tensor-core accesses, shared memory within the limit).
//
// The recurrent step kernels (lstm_step_forward.cu, lstm_step_backward.cu)
// work on tiles of `rows` batch rows by `units` hidden units. On the fused
// path a unit's four gates are adjacent columns (gate_layout.hpp), so a
// forward tile's 4 * units GEMM columns hold every pre-activation its cells
// need and the cell runs in the GEMM's epilogue; a backward tile's GEMM
// (dgates_next R^T) has one column per unit, and its epilogue reads the
// unit's four saved gates. The K loop runs in slices of `depth` values (times
// `k_groups` in the backward, where the groups of threads or warps split each
// slice and their sums are added in a fixed order in shared memory).

#include <cstddef>
#include <cstdint>

// Every function here is constexpr, and callable from device code under nvcc.
#if defined(__CUDACC__)
#define NOCTURNE_TILING __host__ __device__ constexpr
#else
#define NOCTURNE_TILING constexpr
#endif

namespace nocturne::inline v0::kernels {

// How the recurrent GEMM takes its operands: FP32 on CUDA cores, or rounded
// to TF32 / BF16 (math/precision.hpp, to nearest even) on tensor cores; sums,
// the cell and its state are FP32 in every mode.
enum class GemmOperands { fp32, tf32, bf16 };

inline constexpr int kWarp = 32;
inline constexpr int kUnitGates = 4;
// Static shared memory of a block without an opt-in; every fused kernel stays
// within it (so no launch needs cudaFuncSetAttribute). sm_90 allows up to
// 227 KB per block with the opt-in.
inline constexpr std::size_t kStaticSharedBytes = 48 * 1024;
inline constexpr std::size_t kSm90SharedBytes = 227 * 1024;
// Largest grid y (and z) dimension.
inline constexpr long long kMaxGridY = 65535;
// A step kernel takes the larger of its two tiles when that still gives at
// least this many blocks (an H100 has 132 SMs), else the smaller.
inline constexpr long long kFillBlocks = 128;

NOCTURNE_TILING int ceil_div(int a, int b) { return (a + b - 1) / b; }
NOCTURNE_TILING std::size_t round_up(std::size_t n, std::size_t to) { return (n + to - 1) / to * to; }

// ---- partial sums of the backward step ------------------------------------------
// The backward kernels' row tiles are exactly the partial blocks: block p of
// the rows [p * kPartialRows, min(N, (p + 1) * kPartialRows)) writes row p of
// db_partial and dw_partial. Depends on N alone (backend.hpp).
inline constexpr int kPartialRows = 32;
NOCTURNE_TILING int lstm_partial_blocks(int batch) { return batch > 0 ? ceil_div(batch, kPartialRows) : 0; }

// ---- recurrent step tiles ------------------------------------------------------------
struct StepTile {
  bool tensor_cores = false;  // WMMA (TF32 or BF16) or FP32 FMA on CUDA cores
  int rows = 0;               // BM: batch rows
  int units = 0;              // BU: hidden units (4 BU interleaved gate columns)
  int depth = 0;              // BK: K values per slice and k-group
  int k_groups = 1;           // groups splitting each slice's K (backward)
  // CUDA cores: each thread's micro-tile of rows x units, whole units, so the
  // forward's cell runs in registers.
  int thread_rows = 0;
  int thread_units = 0;
  // Tensor cores: warps along the tile's rows and columns (per k-group).
  int warps_rows = 0;
  int warps_cols = 0;

  NOCTURNE_TILING int cols() const { return kUnitGates * units; }
  NOCTURNE_TILING int threads() const {
    return tensor_cores ? warps_rows * warps_cols * kWarp * k_groups
                        : (rows / thread_rows) * (units / thread_units) * k_groups;
  }
  NOCTURNE_TILING int slice() const { return depth * k_groups; }  // K values staged per iteration
};

// WMMA fragment shapes: m16n16k8 for TF32, m16n16k16 for BF16.
inline constexpr int kFragment = 16;
NOCTURNE_TILING int fragment_depth(GemmOperands operands) { return operands == GemmOperands::bf16 ? 16 : 8; }
// Bytes of one staged operand element in shared memory.
NOCTURNE_TILING int staged_bytes(GemmOperands operands) { return operands == GemmOperands::bf16 ? 2 : 4; }

// Forward tiles: 0, 1 on CUDA cores (FP32), 2, 3 on tensor cores. The large
// tile (64 x 16 units; CUDA cores: 256 threads of 4 rows x 1 unit) gives the
// recipe's layer 1 (N 256, H 512) 128 blocks; the small one (32 rows) gives
// layer 2 (H 256) and generation (N 40) enough blocks. Tensor cores: 8 warps
// of 2 x 1 (or 1 x 1) fragments: with 4 warps of 2 x 2 fragments the
// register double-buffering took 250-255 registers a thread, now 102-126.
inline constexpr StepTile kForwardTiles[] = {
    {false, 64, 16, 16, 1, 4, 1, 0, 0},
    {false, 32, 16, 16, 1, 4, 1, 0, 0},
    {true, 64, 16, 32, 1, 0, 0, 2, 4},  // 8 warps of 32 rows x 16 columns: 2 x 1 fragments
    {true, 32, 16, 32, 1, 0, 0, 2, 4},  // 8 warps of 16 rows x 16 columns: 1 fragment
};
inline constexpr int kForwardTileCount = 4;

// Backward tiles: 32 rows (= kPartialRows) x 16 units, each slice of 64 K
// values split among 4 k-groups. CUDA cores: 4 groups of 64 threads, each of
// 4 rows x 2 units. Tensor cores: 4 warps, each the whole 32 x 16 tile (two
// fragments) over its quarter of the slice.
inline constexpr StepTile kBackwardTiles[] = {
    {false, 32, 16, 16, 4, 4, 2, 0, 0},
    {true, 32, 16, 16, 4, 0, 0, 1, 1},
};
inline constexpr int kBackwardTileCount = 2;

struct StepGrid {
  int unit_blocks = 0;  // grid x
  int row_blocks = 0;   // grid y
  NOCTURNE_TILING long long blocks() const { return (long long)unit_blocks * row_blocks; }
};
NOCTURNE_TILING StepGrid step_grid(StepTile tile, int batch, int hidden) {
  return {ceil_div(hidden, tile.units), ceil_div(batch, tile.rows)};
}

// Where block (unit_block, row_block) = (blockIdx.x, blockIdx.y) starts.
struct TileOrigin {
  int row0 = 0;
  int unit0 = 0;
  int row_block = 0;  // the backward's partial block
};
NOCTURNE_TILING TileOrigin tile_origin(StepTile tile, int unit_block, int row_block) {
  return {row_block * tile.rows, unit_block * tile.units, row_block};
}

constexpr int forward_tile_index(GemmOperands operands, int batch, int hidden) {
  const int large = operands == GemmOperands::fp32 ? 0 : 2;
  return step_grid(kForwardTiles[large], batch, hidden).blocks() >= kFillBlocks ? large : large + 1;
}
constexpr int backward_tile_index(GemmOperands operands) { return operands == GemmOperands::fp32 ? 0 : 1; }

// K slices of the forward step: the recurrent part (h_prev R, K = H) unless
// the state is zero, then the input part (x W, K = F) when F > 1 (F == 1 is
// the rank-one term of the epilogue). A slice never straddles the two.
struct ForwardSlices {
  int recurrent = 0;
  int input = 0;
  NOCTURNE_TILING int total() const { return recurrent + input; }
};
NOCTURNE_TILING ForwardSlices forward_slices(StepTile tile, int hidden, int input, bool zero_state) {
  return {zero_state ? 0 : ceil_div(hidden, tile.slice()), input > 1 ? ceil_div(input, tile.slice()) : 0};
}
// The backward's K is the 4H columns of dgates_next (none at the last step).
NOCTURNE_TILING int backward_slices(StepTile tile, int hidden, bool last_step) {
  return last_step ? 0 : ceil_div(kUnitGates * hidden, tile.slice());
}

// ---- staging: which elements of a slice each thread loads ------------------------
// A slice of a row-major global matrix, `rows` x `cols` (cols along the
// matrix's contiguous dimension), is loaded by `threads` threads, each
// loading `per_thread` elements into registers and then storing them to
// shared memory (register double-buffering). Vector mode: float4 items
// (4 consecutive columns), item v = thread + q * threads; scalar mode (the
// matrix or its pointer is not 16-byte aligned): element i = thread + q *
// threads. Consecutive threads take consecutive columns (coalesced reads).
struct SliceShape {
  int rows = 0;
  int cols = 0;
  int threads = 0;
  NOCTURNE_TILING int per_thread() const { return rows * cols / threads; }
  NOCTURNE_TILING bool valid() const {
    return rows > 0 && cols % 4 == 0 && threads > 0 && (rows * cols) % (4 * threads) == 0;
  }
};
struct SlicePosition {
  int row = 0;
  int col = 0;
};
// Element q (< per_thread) of thread `thread`.
NOCTURNE_TILING SlicePosition slice_position(SliceShape s, bool vector, int thread, int q) {
  if (vector) {
    const int item = thread + (q / 4) * s.threads;
    return {item / (s.cols / 4), (item % (s.cols / 4)) * 4 + q % 4};
  }
  const int element = thread + q * s.threads;
  return {element / s.cols, element % s.cols};
}
// Whether a matrix with leading dimension `ld` (elements) at `address` can be
// read as float4 items from column multiples of 4.
NOCTURNE_TILING bool vector_loads(std::uintptr_t address, long long ld) { return address % 16 == 0 && ld % 4 == 0; }

// The slices each step kernel stages (rows x cols of the global matrix as read).
NOCTURNE_TILING SliceShape forward_a_slice(StepTile t) { return {t.rows, t.slice(), t.threads()}; }
NOCTURNE_TILING SliceShape forward_b_slice(StepTile t) { return {t.slice(), t.cols(), t.threads()}; }
NOCTURNE_TILING SliceShape backward_a_slice(StepTile t) { return {t.rows, t.slice(), t.threads()}; }
NOCTURNE_TILING SliceShape backward_b_slice(StepTile t) { return {t.units, t.slice(), t.threads()}; }

// ---- shared memory layouts ---------------------------------------------------------
// Pitches (elements) of the staged operands. CUDA cores: A is stored
// transposed ([k][row]) so a thread reads its rows as one float4; tensor
// cores: as WMMA loads it (A row-major [row][k]; forward B row-major [k][col];
// backward B column-major, [unit][k], which is R's own layout). The padding
// keeps WMMA's ldm a multiple of 16 bytes and every fragment 32-byte aligned.
inline constexpr int kSimtPad = 4;
NOCTURNE_TILING int wmma_pad(GemmOperands operands) { return operands == GemmOperands::bf16 ? 8 : 4; }

struct StepShared {
  int a_pitch = 0, b_pitch = 0;          // staged operands (elements of staged_bytes)
  std::size_t a_stage = 0, b_stage = 0;  // bytes of one stage (there are two of each)
  std::size_t b_offset = 0;              // bytes from the start to the B stages
  std::size_t staging = 0;               // bytes of both operands' two stages
  // After the K loop (aliasing the staging area): the accumulators as the
  // epilogue reads them (tensor cores; every backward), then the backward's
  // da tile for the partial sums.
  int acc_pitch = 0;           // floats per row of one k-group's accumulator tile
  std::size_t acc_offset = 0;  // bytes
  std::size_t acc_group = 0;   // bytes of one k-group's tile
  int da_pitch = 0;            // floats per row of the da tile (backward)
  std::size_t da_offset = 0;   // bytes
  std::size_t total = 0;       // bytes of the block's shared memory
};

NOCTURNE_TILING StepShared forward_shared(StepTile t, GemmOperands operands) {
  StepShared s;
  const std::size_t element = t.tensor_cores ? std::size_t(staged_bytes(operands)) : 4;
  if (t.tensor_cores) {
    s.a_pitch = t.slice() + wmma_pad(operands);
    s.b_pitch = t.cols() + wmma_pad(operands);
    s.a_stage = round_up(std::size_t(t.rows) * s.a_pitch * element, 128);
    s.b_stage = round_up(std::size_t(t.slice()) * s.b_pitch * element, 128);
  } else {
    s.a_pitch = t.rows + kSimtPad;
    s.b_pitch = t.cols() + kSimtPad;
    s.a_stage = round_up(std::size_t(t.slice()) * s.a_pitch * element, 128);
    s.b_stage = round_up(std::size_t(t.slice()) * s.b_pitch * element, 128);
  }
  s.b_offset = 2 * s.a_stage;
  s.staging = 2 * s.a_stage + 2 * s.b_stage;
  s.total = s.staging;
  if (t.tensor_cores) {
    s.acc_pitch = t.cols() + 4;
    s.acc_offset = 0;
    s.acc_group = round_up(std::size_t(t.rows) * s.acc_pitch * 4, 128);
    if (s.acc_group > s.total) s.total = s.acc_group;
  }
  return s;
}

NOCTURNE_TILING StepShared backward_shared(StepTile t, GemmOperands operands) {
  StepShared s;
  const std::size_t element = t.tensor_cores ? std::size_t(staged_bytes(operands)) : 4;
  if (t.tensor_cores) {
    s.a_pitch = t.slice() + wmma_pad(operands);
    s.b_pitch = t.slice() + wmma_pad(operands);
    s.a_stage = round_up(std::size_t(t.rows) * s.a_pitch * element, 128);
    s.b_stage = round_up(std::size_t(t.units) * s.b_pitch * element, 128);
  } else {
    s.a_pitch = t.rows + kSimtPad;
    s.b_pitch = t.units + kSimtPad;
    s.a_stage = round_up(std::size_t(t.slice()) * s.a_pitch * element, 128);
    s.b_stage = round_up(std::size_t(t.slice()) * s.b_pitch * element, 128);
  }
  s.b_offset = 2 * s.a_stage;
  s.staging = 2 * s.a_stage + 2 * s.b_stage;
  s.acc_pitch = t.units + 4;
  s.acc_offset = 0;
  s.acc_group = round_up(std::size_t(t.rows) * s.acc_pitch * 4, 128);
  s.da_pitch = t.cols() + 4;
  s.da_offset = s.acc_offset + std::size_t(t.k_groups) * s.acc_group;
  const std::size_t after = s.da_offset + round_up(std::size_t(t.rows) * s.da_pitch * 4, 128);
  s.total = after > s.staging ? after : s.staging;
  return s;
}

// ---- thread roles ------------------------------------------------------------------------
// CUDA cores: the thread's k-group and micro-tile (its rows start at
// row * thread_rows, its units at unit * thread_units, within the tile).
struct SimtRole {
  int group = 0;
  int row = 0;
  int unit = 0;
};
NOCTURNE_TILING SimtRole simt_role(StepTile t, int thread) {
  const int per_group = t.threads() / t.k_groups;
  const int local = thread % per_group;
  const int unit_groups = t.units / t.thread_units;
  return {thread / per_group, local / unit_groups, local % unit_groups};
}

// Tensor cores: the warp's k-group and its first row and column in the tile.
struct WarpRole {
  int group = 0;
  int row = 0;  // first row of the warp's fragments
  int col = 0;  // first column (forward: gate column; backward: unit)
  int frag_rows = 0, frag_cols = 0;
};
NOCTURNE_TILING WarpRole warp_role(StepTile t, int warp, bool forward) {
  const int per_group = t.warps_rows * t.warps_cols;
  const int local = warp % per_group;
  const int rows = t.rows / t.warps_rows;
  const int cols = (forward ? t.cols() : t.units) / t.warps_cols;
  return {warp / per_group, (local / t.warps_cols) * rows, (local % t.warps_cols) * cols, rows / kFragment,
          cols / kFragment};
}

// Epilogues from shared memory: cell q of thread `thread` (tile row, unit).
struct CellPosition {
  int row = 0;
  int unit = 0;
};
NOCTURNE_TILING int cells_per_thread(StepTile t) { return t.rows * t.units / t.threads(); }
NOCTURNE_TILING CellPosition cell_position(StepTile t, int thread, int q) {
  const int cell = thread + q * t.threads();
  return {cell / t.units, cell % t.units};
}

// ---- the head (head.cu) ---------------------------------------------------------------------
// Row-parallel kernel: a block of kHeadThreads threads takes `rows` batch
// rows and keeps their x [rows, K], y1_dropped [rows, D], logits (then
// dlogits) [rows, V] and dy1 [rows, D] in shared memory: the largest of
// 8, 4, 2, 1 rows that fits kStaticSharedBytes, 0 when not even one does.
inline constexpr int kHeadThreads = 256;
inline constexpr int kHeadMaxRows = 8;
NOCTURNE_TILING std::size_t head_row_floats(int input, int dense, int vocab) {
  return std::size_t(input) + 2 * std::size_t(dense) + std::size_t(vocab);
}
NOCTURNE_TILING int head_rows_per_block(int input, int dense, int vocab) {
  for (int rows = kHeadMaxRows; rows >= 1; rows /= 2)
    if (std::size_t(rows) * head_row_floats(input, dense, vocab) * 4 <= kStaticSharedBytes) return rows;
  return 0;
}

// Column-parallel kernel: blocks of kHeadThreads threads (32 columns x 8
// lanes of rows) each own a kHeadTile x kHeadTile tile of dW1 [K, D] or dW2
// [D, V], summed over the N rows in increasing order; the tiles of the first
// row of tiles also write db1 / db2; one last block adds the loss statistics
// as softmax_cross_entropy does. Block b's job:
inline constexpr int kHeadTile = 32;
inline constexpr int kHeadLanes = kHeadThreads / kHeadTile;  // 8
enum class HeadJob { dw1, dw2, stats };
struct HeadGradJob {
  HeadJob job = HeadJob::stats;
  int tile_row = 0;  // tile of dW's rows (K for dW1, D for dW2)
  int tile_col = 0;  // tile of dW's columns (D for dW1, V for dW2)
};
struct HeadGradGrid {
  int dw1_tiles_rows = 0, dw1_tiles_cols = 0, dw2_tiles_rows = 0, dw2_tiles_cols = 0;
  NOCTURNE_TILING int dw1_blocks() const { return dw1_tiles_rows * dw1_tiles_cols; }
  NOCTURNE_TILING int dw2_blocks() const { return dw2_tiles_rows * dw2_tiles_cols; }
  NOCTURNE_TILING int blocks() const { return dw1_blocks() + dw2_blocks() + 1; }
};
NOCTURNE_TILING HeadGradGrid head_grad_grid(int input, int dense, int vocab) {
  return {ceil_div(input, kHeadTile), ceil_div(dense, kHeadTile), ceil_div(dense, kHeadTile),
          ceil_div(vocab, kHeadTile)};
}
NOCTURNE_TILING HeadGradJob head_grad_job(HeadGradGrid g, int block) {
  if (block < g.dw1_blocks()) return {HeadJob::dw1, block / g.dw1_tiles_cols, block % g.dw1_tiles_cols};
  block -= g.dw1_blocks();
  if (block < g.dw2_blocks()) return {HeadJob::dw2, block / g.dw2_tiles_cols, block % g.dw2_tiles_cols};
  return {HeadJob::stats, 0, 0};
}
// The elements (tile row r, tile column c) thread `thread` owns in a tile:
// column thread % kHeadTile, rows thread / kHeadTile + kHeadLanes * q.
inline constexpr int kHeadPerThread = kHeadTile / kHeadLanes;  // 4
// Rows of x / dy1 (or y1_dropped / dlogits) staged per chunk of the N loop.
inline constexpr int kHeadChunk = 32;
// Warps of the statistics block (as softmax_cross_entropy).
inline constexpr int kHeadStatsWarps = kHeadThreads / kWarp;

// ---- sampling (sampling.cu) ------------------------------------------------------------------
// One block of kSampleThreads per stream; shared memory holds the row's
// weights (double) and its ranking (int32), plus one (value, index) pair per
// warp for the first maximum.
inline constexpr int kSampleThreads = 128;
NOCTURNE_TILING std::size_t sample_shared_bytes(int vocab) {
  return round_up(std::size_t(vocab) * 8, 16) + round_up(std::size_t(vocab) * 4, 16) +
         std::size_t(kSampleThreads / kWarp) * 8 + 16;
}
NOCTURNE_TILING int sample_max_vocab() {
  int v = 1;
  while (sample_shared_bytes(v * 2) <= kStaticSharedBytes) v *= 2;
  while (sample_shared_bytes(v + 1) <= kStaticSharedBytes) ++v;
  return v;
}

}  // namespace nocturne::kernels
