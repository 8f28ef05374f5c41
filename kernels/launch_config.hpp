#pragma once
// Launch-configuration arithmetic shared by the kernel wrappers: plain C++
// (no CUDA headers), so the host tests check it without a GPU.

#include <algorithm>
#include <cstddef>

namespace nocturne::inline v0::kernels {

// Threads per block of the elementwise kernels.
inline constexpr unsigned kThreads = 256;
// Grid-stride kernels never launch more blocks than this: enough to fill any
// current GPU several times over, few enough that the grid size fits 32 bits.
inline constexpr std::size_t kMaxBlocks = 65535;

// Blocks for n elements at `threads` per block, at least 1, at most max_blocks.
inline unsigned blocks_for(std::size_t n, unsigned threads = kThreads, std::size_t max_blocks = kMaxBlocks) {
  const std::size_t blocks = (n + threads - 1) / threads;
  return unsigned(std::clamp<std::size_t>(blocks, 1, max_blocks));
}

// The column-sum kernels split the rows into chunks whose partial sums land
// in a scratch array [chunks, cols]; a second pass adds the chunks in order.
// The split depends only on the shape (never on timing), so the result is
// reproducible. 1 means a single pass straight into the output.
inline constexpr std::size_t kColumnSumRowsPerChunk = 256;
inline constexpr std::size_t kColumnSumMaxChunks = 64;
inline std::size_t column_sum_chunks(std::size_t rows, std::size_t cols, std::size_t scratch_elements) {
  if (cols == 0) return 1;
  const std::size_t wanted = (rows + kColumnSumRowsPerChunk - 1) / kColumnSumRowsPerChunk;
  const std::size_t fit = scratch_elements / cols;
  const std::size_t chunks = std::min({wanted, kColumnSumMaxChunks, fit});
  return chunks < 2 ? 1 : chunks;
}

}  // namespace nocturne::kernels
