#pragma once
// The LSTM kernels' tiles and threads (cpu_lstm_fp32.cpp, cpu_lstm_bf16.cpp):
// both tile a step's GEMM in register tiles of up to kTileRows rows by
// kTileCols columns, and split the batch rows into one block per thread for
// the whole sequence, then the steps for the weight gradients.

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>

#include "cpu/cpu_avx512.hpp"
#include "cpu/cpu_kernels.hpp"

namespace nocturne::inline v0::cpu {
// Internal linkage, as each kernel's own copy had (cpu_avx512.hpp says why).
namespace {

constexpr int kTileRows = 6;               // 6 rows x 4 vectors: 24 of the 32 registers accumulate
constexpr int kLanes = 16;                 // floats per vector
constexpr int kTileCols = 4 * kLanes;      // columns per tile
constexpr int kForwardUnits = kLanes;      // hidden units per forward panel (x 4 gates = 64 columns)
constexpr int kBackwardUnits = kTileCols;  // hidden units per backward panel
constexpr double kThreadFlops = 4e6;       // below this a call runs on one thread

// The cache lines a tile's epilogue will touch. The tile asks for them one
// per k (or pair of k) in its last iterations: asked for earlier, they would
// be evicted again by the R panel streaming through L1.
struct Lines {
  static constexpr int kMax = 384;
  const void* at[kMax];
  int count = 0;
  void add(const void* p) {
    if (count < kMax) at[count++] = p;
  }
};

// The tiles of rows [r0, r1): as even as whole tiles allow (5 and 6 rows
// rather than 6 and 2).
struct RowTiles {
  int r0, count, base, extra;
  RowTiles(int begin, int end) : r0(begin) {
    const int rows = end - begin;
    count = (rows + kTileRows - 1) / kTileRows;
    base = count ? rows / count : 0;
    extra = count ? rows % count : 0;
  }
  int start(int i) const { return r0 + i * base + std::min(i, extra); }
  int rows(int i) const { return base + (i < extra ? 1 : 0); }
};

// The threads a call on `rows` batch rows and `flops` of work splits between:
// at most `threads`, and at least a whole register tile of rows each.
inline int row_threads(int rows, int threads, double flops) {
  if (flops < kThreadFlops) return 1;
  return std::max(1, std::min(threads, rows / kTileRows));
}

// Runs fn(index, r0, r1) on `threads` blocks of rows [0, rows) side by side
// (parallel_run: this thread takes the first, the pool's workers the others).
template <typename Fn>
void run_row_blocks(int rows, int threads, const Fn& fn) {
  if (threads == 1) return fn(0, 0, rows);
  auto bound = [&](int t) { return int(std::int64_t(rows) * t / threads); };
  parallel_run(threads, [&](int t) { fn(t, bound(t), bound(t + 1)); });
}

// fn(r0, r1) on as many blocks of rows as row_threads allows.
template <typename Fn>
void for_row_blocks(int rows, int threads, double flops, const Fn& fn) {
  run_row_blocks(rows, row_threads(rows, threads, flops), [&fn](int, int r0, int r1) { fn(r0, r1); });
}

// out[i] += the i-th float of each of `count` partials (`stride` apart), for
// the part [lo, hi) of out that thread `index` of `threads` takes.
inline void add_partials(float* out, std::size_t size, const float* partials, std::size_t stride, int count,
                         int index, int threads) {
  const std::size_t lo = size * std::size_t(index) / std::size_t(threads);
  const std::size_t hi = size * std::size_t(index + 1) / std::size_t(threads);
  for (int p = 0; p < count; ++p) {
    const float* part = partials + std::size_t(p) * stride;
    for (std::size_t i = lo; i < hi; ++i) out[i] += part[i];
  }
}

// The milliseconds since `start`, for LstmBackwardTimes.
inline double ms_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace
}  // namespace nocturne::inline v0::cpu
