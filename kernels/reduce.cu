// Deterministic reductions: column sums (dense and LSTM bias gradients) and
// the sum of squares (gradient norms).
//
// Design: no atomics anywhere. Every partial sum belongs to a fixed thread
// and is combined in a fixed order, and the split of the work depends only on
// the shape (launch_config.hpp), so the same inputs give bit-identical
// results on every run.
// - column_sums: blocks of 32 x 8 threads own 32 columns of one chunk of
//   rows; thread (x, y) adds rows y, y + 8, ... of its chunk, then the 8
//   partials of a column are added in order of y. Reads are coalesced (a
//   warp reads 32 consecutive floats of one row). With many rows the chunks'
//   sums go to a scratch array [chunks, cols] and the same kernel adds them.
// - sum_squares: kSumSquaresBlocks blocks of 256 threads, grid-stride, in
//   double; each block's tree reduction writes one partial; a single block
//   adds the partials with the same tree.
//
// History: v1 (this one).

#include "kernels.hpp"
#include "launch_config.hpp"

namespace nocturne::inline v0::kernels {
namespace {

constexpr unsigned kColumnTile = 32;
constexpr unsigned kRowLanes = 8;
constexpr unsigned kSumThreads = 256;

// grid (ceil(cols / 32), chunks), block (32, 8).
// m [rows, cols] -> out [chunks, cols]: out[chunk, col] = sum of m[r, col] for
// r in [chunk * rows_per_chunk, min(rows, (chunk + 1) * rows_per_chunk)).
__global__ void column_sums_kernel(std::size_t rows, std::size_t cols, const float* m, std::size_t rows_per_chunk,
                                   float* out) {
  __shared__ float partial[kRowLanes][kColumnTile + 1];
  const std::size_t col = std::size_t(blockIdx.x) * kColumnTile + threadIdx.x;
  const std::size_t chunk = blockIdx.y;
  const std::size_t begin = chunk * rows_per_chunk;
  const std::size_t end = begin + rows_per_chunk < rows ? begin + rows_per_chunk : rows;
  float sum = 0.0f;
  if (col < cols)
    for (std::size_t r = begin + threadIdx.y; r < end; r += kRowLanes) sum += m[r * cols + col];
  partial[threadIdx.y][threadIdx.x] = sum;
  __syncthreads();
  if (threadIdx.y == 0 && col < cols) {
    float total = partial[0][threadIdx.x];
    for (unsigned y = 1; y < kRowLanes; ++y) total += partial[y][threadIdx.x];
    out[chunk * cols + col] = total;
  }
}

// Tree sum of the block's values (blockDim.x == kSumThreads); thread 0 gets it.
__device__ double block_sum(double value) {
  __shared__ double shared[kSumThreads];
  shared[threadIdx.x] = value;
  __syncthreads();
  for (unsigned half = kSumThreads / 2; half > 0; half /= 2) {
    if (threadIdx.x < half) shared[threadIdx.x] += shared[threadIdx.x + half];
    __syncthreads();
  }
  return shared[0];
}

// x [n] -> partials [gridDim.x]
__global__ void sum_squares_kernel(const float* x, std::size_t n, double* partials) {
  double sum = 0.0;
  const std::size_t stride = std::size_t(gridDim.x) * blockDim.x;
  for (std::size_t i = std::size_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    const double v = x[i];
    sum += v * v;
  }
  const double total = block_sum(sum);
  if (threadIdx.x == 0) partials[blockIdx.x] = total;
}

// partials [count] -> partials[count]; one block.
__global__ void sum_partials_kernel(double* partials, unsigned count) {
  double sum = 0.0;
  for (unsigned i = threadIdx.x; i < count; i += blockDim.x) sum += partials[i];
  const double total = block_sum(sum);
  if (threadIdx.x == 0) partials[count] = total;
}

void launch_column_sums(const Launch& launch, std::size_t rows, std::size_t cols, const float* m,
                        std::size_t chunks, float* out) {
  const std::size_t rows_per_chunk = (rows + chunks - 1) / chunks;
  const dim3 grid(unsigned((cols + kColumnTile - 1) / kColumnTile), unsigned(chunks));
  const dim3 block(kColumnTile, kRowLanes);
  column_sums_kernel<<<grid, block, 0, launch.stream>>>(rows, cols, m, rows_per_chunk, out);
  NOCTURNE_CHECK_LAUNCH("column_sums", launch);
}

}  // namespace

void column_sums(const Launch& launch, std::size_t rows, std::size_t cols, const float* m, float* sums,
                 float* scratch, std::size_t scratch_elements) {
  if (cols == 0) return;
  if (rows == 0) return fill(launch, sums, cols, 0.0f);
  const std::size_t chunks = scratch ? column_sum_chunks(rows, cols, scratch_elements) : 1;
  if (chunks == 1) return launch_column_sums(launch, rows, cols, m, 1, sums);
  launch_column_sums(launch, rows, cols, m, chunks, scratch);
  launch_column_sums(launch, chunks, cols, scratch, 1, sums);
}

void sum_squares(const Launch& launch, const float* x, std::size_t n, double* partials) {
  sum_squares_kernel<<<kSumSquaresBlocks, kSumThreads, 0, launch.stream>>>(x, n, partials);
  NOCTURNE_CHECK_LAUNCH("sum_squares", launch);
  sum_partials_kernel<<<1, kSumThreads, 0, launch.stream>>>(partials, kSumSquaresBlocks);
  NOCTURNE_CHECK_LAUNCH("sum_partials", launch);
}

}  // namespace nocturne::kernels
