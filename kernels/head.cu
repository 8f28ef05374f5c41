// The network's head in two kernels (HeadTrainStep in nocturne/fused_ops.hpp)
// and its prediction-only form (head_predict): dense 1, dropout, dense 2,
// softmax, the loss and every gradient of a training step, where the classic
// path runs six GEMMs, two column sums, two dropouts and the loss kernel.
//
// Design:
// - Row-parallel kernel: a block of 256 threads owns up to 8 batch rows
//   (fused_tiling.hpp: head_rows_per_block) and keeps their x, y1_dropped,
//   logits (then dlogits) and dy1 in shared memory. y1 and the logits: one
//   thread per output column, a row's sum over K in increasing order (W1's
//   and W2's rows read coalesced), the bias added last, as the dense layer's
//   GEMM-then-bias does; dropout's mask of y1 is element n D + d of the key.
//   Softmax, dlogits: a warp per row as softmax_cross_entropy (same formulas,
//   same order). dy1 = dlogits W2^T (masked) and dx = dy1 W1^T: a warp per
//   output column, lanes over the contiguous weight row, xor-butterfly sums.
// - Column-parallel kernel: blocks own 32 x 32 tiles of dW1 = x^T dy1 and
//   dW2 = y1_dropped^T dlogits, each element summed over the N rows in
//   increasing order through 32-row chunks staged in shared memory; the
//   tiles of the first tile row also write db1 / db2 (column sums in the same
//   order). One more block adds the loss statistics from the logits, a warp
//   per row, the warps' totals in warp order into the double stats (no
//   atomics: reproducible).
//
// History: v1 (this one).

#include <cmath>
#include <string>

#include "fused_kernels.hpp"
#include "fused_tiling.hpp"
#include "math/host_device.hpp"
#include "math/label_smoothing.hpp"
#include "math/lstm_fused.hpp"
#include "nocturne/error.hpp"

namespace nocturne::inline v0::kernels {
namespace {

constexpr unsigned kFull = 0xffffffffu;
constexpr int kHeadWarps = kHeadThreads / kWarp;

__device__ __forceinline__ float warp_sum(float value) {
  for (int offset = kWarp / 2; offset > 0; offset /= 2) value += __shfl_xor_sync(kFull, value, offset);
  return value;
}

struct RowMax {
  float value;
  int index;
};
// Maximum of row [0, vocab) and its first index, in every lane (as softmax.cu).
__device__ __forceinline__ RowMax warp_row_max(const float* row, int vocab, int lane) {
  RowMax best{-INFINITY, vocab};
  for (int j = lane; j < vocab; j += kWarp)
    if (row[j] > best.value || best.index == vocab) best = RowMax{row[j], j};
  for (int offset = kWarp / 2; offset > 0; offset /= 2) {
    const float v = __shfl_xor_sync(kFull, best.value, offset);
    const int i = __shfl_xor_sync(kFull, best.index, offset);
    if (v > best.value || (v == best.value && i < best.index)) best = RowMax{v, i};
  }
  return best;
}

struct HeadArgs {
  int batch, input, dense, vocab;
  int rows;  // per block
  const float *x, *w1, *b1, *w2, *b2;
  const std::int32_t* targets;
  bool dropout;
  std::uint64_t seed;
  std::uint32_t stream;
  std::uint64_t offset;
  const std::uint64_t* offset_on_device;
  float p, scale, grad_scale;
  float smoothing;  // label smoothing (0: none)
  float *y1, *y1_dropped, *logits, *dlogits, *dy1, *dx, *probs;
  float *dw1, *db1, *dw2, *db2;
  double* stats;
};

// out[r, j] for the block's rows: sum over k < depth of in[r, k] w[k, j] (w
// row-major [depth, width]) plus bias[j], one thread per column j.
__device__ __forceinline__ void dense_rows(int rows, int depth, int width, const float* in, int in_pitch,
                                           const float* w, const float* bias, int thread, float* acc_out,
                                           int out_pitch) {
  for (int j = thread; j < width; j += kHeadThreads) {
    float acc[kHeadMaxRows];
#pragma unroll
    for (int r = 0; r < kHeadMaxRows; ++r) acc[r] = 0.0f;
    for (int k = 0; k < depth; ++k) {
      const float wk = w[std::size_t(k) * std::size_t(width) + std::size_t(j)];
#pragma unroll
      for (int r = 0; r < kHeadMaxRows; ++r)
        if (r < rows) acc[r] = math::fma_of(in[r * in_pitch + k], wk, acc[r]);
    }
#pragma unroll
    for (int r = 0; r < kHeadMaxRows; ++r)
      if (r < rows) acc_out[r * out_pitch + j] = acc[r] + bias[j];
  }
}

// out[r, k] for the block's rows: sum over j < width of in[r, j] w[k, j]
// (= in w^T), a warp per k, lanes over the contiguous row w[k, :].
__device__ __forceinline__ void dense_rows_transposed(int rows, int width, int count, const float* in, int in_pitch,
                                                      const float* w, int warp, int lane, float* out, int out_pitch) {
  for (int k = warp; k < count; k += kHeadWarps) {
    float acc[kHeadMaxRows];
#pragma unroll
    for (int r = 0; r < kHeadMaxRows; ++r) acc[r] = 0.0f;
    for (int j = lane; j < width; j += kWarp) {
      const float wk = w[std::size_t(k) * std::size_t(width) + std::size_t(j)];
#pragma unroll
      for (int r = 0; r < kHeadMaxRows; ++r)
        if (r < rows) acc[r] = math::fma_of(in[r * in_pitch + j], wk, acc[r]);
    }
#pragma unroll
    for (int r = 0; r < kHeadMaxRows; ++r) {
      const float total = warp_sum(acc[r]);
      if (lane == 0 && r < rows) out[r * out_pitch + k] = total;
    }
  }
}

// Training (kTrain): y1, y1_dropped, logits, dlogits, dy1, dx. Prediction:
// y1, logits, probs.
template <bool kTrain>
__global__ void __launch_bounds__(kHeadThreads) head_rows_kernel(HeadArgs a) {
  extern __shared__ __align__(16) float shared[];
  const int K = a.input, D = a.dense, V = a.vocab;
  const int row0 = int(blockIdx.x) * a.rows;
  const int rows = a.batch - row0 < a.rows ? a.batch - row0 : a.rows;
  const int thread = int(threadIdx.x), lane = thread % kWarp, warp = thread / kWarp;
  float* xs = shared;                        // [rows][K]
  float* ys = xs + std::size_t(a.rows) * K;  // [rows][D] y1_dropped
  float* ls = ys + std::size_t(a.rows) * D;  // [rows][V] logits, then dlogits
  float* ds = ls + std::size_t(a.rows) * V;  // [rows][D] dy1
  const std::uint64_t mask_base = a.offset + (a.offset_on_device ? *a.offset_on_device : 0);

  for (int i = thread; i < rows * K; i += kHeadThreads) xs[i] = a.x[std::size_t(row0) * K + i];
  __syncthreads();

  // y1 = x W1 + b1, then dropout.
  dense_rows(rows, K, D, xs, K, a.w1, a.b1, thread, ys, D);
  __syncthreads();
  for (int i = thread; i < rows * D; i += kHeadThreads) {
    const std::size_t at = std::size_t(row0) * D + i;
    const float y = ys[i];
    a.y1[at] = y;
    if (kTrain) {
      const float kept = a.dropout ? y * math::dropout_factor(a.seed, a.stream, mask_base + at, a.p, a.scale) : y;
      a.y1_dropped[at] = kept;
      ys[i] = kept;
    }
  }
  __syncthreads();

  // logits = y1_dropped W2 + b2.
  dense_rows(rows, D, V, ys, D, a.w2, a.b2, thread, ls, V);
  __syncthreads();

  // Softmax by rows: probabilities, or dlogits.
  for (int r = warp; r < rows; r += kHeadWarps) {
    float* in = ls + r * V;
    const std::size_t at = std::size_t(row0 + r) * V;
    for (int j = lane; j < V; j += kWarp) a.logits[at + j] = in[j];
    const RowMax best = warp_row_max(in, V, lane);
    float sum = 0.0f;
    for (int j = lane; j < V; j += kWarp) sum += math::exp_of(in[j] - best.value);
    sum = warp_sum(sum);
    if (kTrain) {
      const std::int32_t target = a.targets[row0 + r];
      const float scale = a.grad_scale / sum;
      for (int j = lane; j < V; j += kWarp) {
        float g = math::exp_of(in[j] - best.value) * scale;
        g -= math::smoothed_target(j == target, V, a.smoothing, a.grad_scale);
        a.dlogits[at + j] = g;
        in[j] = g;  // each lane rewrites only what it read
      }
    } else {
      const float inv = 1.0f / sum;
      for (int j = lane; j < V; j += kWarp) a.probs[at + j] = math::exp_of(in[j] - best.value) * inv;
    }
  }
  if (!kTrain) return;
  __syncthreads();

  // dy1 = dropout_backward(dlogits W2^T).
  dense_rows_transposed(rows, V, D, ls, V, a.w2, warp, lane, ds, D);
  __syncthreads();
  for (int i = thread; i < rows * D; i += kHeadThreads) {
    const std::size_t at = std::size_t(row0) * D + i;
    const float g = a.dropout ? ds[i] * math::dropout_factor(a.seed, a.stream, mask_base + at, a.p, a.scale) : ds[i];
    ds[i] = g;
    a.dy1[at] = g;
  }
  __syncthreads();

  // dx = dy1 W1^T.
  dense_rows_transposed(rows, D, K, ds, D, a.w1, warp, lane, xs, K);
  __syncthreads();
  for (int i = thread; i < rows * K; i += kHeadThreads) a.dx[std::size_t(row0) * K + i] = xs[i];
}

// out [M, C] tile (tile_row, tile_col) = left^T right over the N rows, left
// [N, M], right [N, C]; bias [C] = column sums of right when tile_row == 0.
__device__ __forceinline__ void gradient_tile(int n_rows, int m, int c, const float* left, const float* right,
                                              int tile_row, int tile_col, float* out, float* bias, int thread) {
  __shared__ float ls[kHeadChunk][kHeadTile + 1];
  __shared__ float rs[kHeadChunk][kHeadTile + 1];
  const int col = thread % kHeadTile, lane = thread / kHeadTile;
  const int m0 = tile_row * kHeadTile, c0 = tile_col * kHeadTile;
  float acc[kHeadPerThread] = {};
  float column_sum = 0.0f;
  for (int n0 = 0; n0 < n_rows; n0 += kHeadChunk) {
    for (int i = thread; i < kHeadChunk * kHeadTile; i += kHeadThreads) {
      const int r = i / kHeadTile, j = i % kHeadTile, n = n0 + r;
      ls[r][j] = n < n_rows && m0 + j < m ? left[std::size_t(n) * m + m0 + j] : 0.0f;
      rs[r][j] = n < n_rows && c0 + j < c ? right[std::size_t(n) * c + c0 + j] : 0.0f;
    }
    __syncthreads();
    const int rows = n_rows - n0 < kHeadChunk ? n_rows - n0 : kHeadChunk;
    for (int r = 0; r < rows; ++r) {
      const float rv = rs[r][col];
#pragma unroll
      for (int q = 0; q < kHeadPerThread; ++q) acc[q] = math::fma_of(ls[r][lane + q * kHeadLanes], rv, acc[q]);
      column_sum += rv;
    }
    __syncthreads();
  }
  if (c0 + col >= c) return;
#pragma unroll
  for (int q = 0; q < kHeadPerThread; ++q) {
    const int row = m0 + lane + q * kHeadLanes;
    if (row < m) out[std::size_t(row) * c + c0 + col] = acc[q];
  }
  if (tile_row == 0 && lane == 0) bias[c0 + col] = column_sum;
}

// The loss statistics from the logits: a warp per row, as softmax_cross_entropy.
__device__ __forceinline__ void loss_statistics(const HeadArgs& a, int thread) {
  __shared__ double warp_loss[kHeadStatsWarps];
  __shared__ double warp_correct[kHeadStatsWarps];
  const int lane = thread % kWarp, warp = thread / kWarp, V = a.vocab;
  double loss = 0.0, correct = 0.0;
  for (int row = warp; row < a.batch; row += kHeadStatsWarps) {
    const float* in = a.logits + std::size_t(row) * V;
    const std::int32_t target = a.targets[row];
    const bool valid = target >= 0 && target < V;
    const RowMax best = warp_row_max(in, V, lane);
    float sum = 0.0f;
    for (int j = lane; j < V; j += kWarp) sum += math::exp_of(in[j] - best.value);
    sum = warp_sum(sum);
    float logit_sum = 0.0f;  // for the smoothed loss (smoothing is the same in every lane)
    if (a.smoothing != 0.0f) {
      for (int j = lane; j < V; j += kWarp) logit_sum += in[j];
      logit_sum = warp_sum(logit_sum);
    }
    if (lane == 0) {
      loss += valid ? math::smoothed_loss(math::log_of(sum) + best.value, in[target], logit_sum, V, a.smoothing)
                    : double(NAN);
      if (best.index == target) correct += 1.0;
    }
  }
  if (lane == 0) {
    warp_loss[warp] = loss;
    warp_correct[warp] = correct;
  }
  __syncthreads();
  if (thread == 0) {
    double total_loss = 0.0, total_correct = 0.0;
    for (int w = 0; w < kHeadStatsWarps; ++w) {
      total_loss += warp_loss[w];
      total_correct += warp_correct[w];
    }
    a.stats[0] += total_loss;
    a.stats[1] += total_correct;
  }
}

// (At least one block per SM: without the hint ptxas for sm_80 chose 48
// registers and spilled 16 bytes; with it, 96 and none, on sm_90 too.)
__global__ void __launch_bounds__(kHeadThreads, 1) head_gradients_kernel(HeadArgs a, HeadGradGrid grid) {
  const HeadGradJob job = head_grad_job(grid, int(blockIdx.x));
  const int thread = int(threadIdx.x);
  switch (job.job) {
    case HeadJob::dw1:
      gradient_tile(a.batch, a.input, a.dense, a.x, a.dy1, job.tile_row, job.tile_col, a.dw1, a.db1, thread);
      break;
    case HeadJob::dw2:
      gradient_tile(a.batch, a.dense, a.vocab, a.y1_dropped, a.dlogits, job.tile_row, job.tile_col, a.dw2, a.db2,
                    thread);
      break;
    case HeadJob::stats:
      loss_statistics(a, thread);
      break;
  }
}

HeadArgs head_args(int n, int input, int dense, int vocab, const char* op) {
  const int rows = head_rows_per_block(input, dense, vocab);
  if (rows == 0)
    throw ShapeError(std::string(op) + ": a head of " + std::to_string(input) + " inputs, " + std::to_string(dense) +
                     " dense units and " + std::to_string(vocab) + " symbols does not fit one block's shared memory");
  HeadArgs a{};
  a.batch = n;
  a.input = input;
  a.dense = dense;
  a.vocab = vocab;
  a.rows = rows;
  return a;
}

}  // namespace

void head_train_step(const Launch& launch, const HeadTrainStep<float>& h) {
  if (h.batch <= 0) return;
  HeadArgs a = head_args(h.batch, h.input, h.dense, h.vocab, "head_train_step");
  a.x = h.x;
  a.w1 = h.w1;
  a.b1 = h.b1;
  a.w2 = h.w2;
  a.b2 = h.b2;
  a.targets = h.targets;
  a.dropout = h.dropout && h.dropout_p != 0.0f;
  if (a.dropout) {
    a.seed = h.dropout->seed;
    a.stream = h.dropout->stream;
    a.offset = h.dropout->offset;
    a.offset_on_device = h.dropout->offset_on_device;
    a.p = h.dropout_p;
    a.scale = 1.0f / (1.0f - h.dropout_p);  // as the CPU backend computes it
  }
  a.grad_scale = h.grad_scale;
  a.smoothing = h.label_smoothing;
  a.y1 = h.y1;
  a.y1_dropped = h.y1_dropped;
  a.logits = h.logits;
  a.dlogits = h.dlogits;
  a.dy1 = h.dy1;
  a.dx = h.dx;
  a.dw1 = h.dw1;
  a.db1 = h.db1;
  a.dw2 = h.dw2;
  a.db2 = h.db2;
  a.stats = h.stats;
  const unsigned blocks = unsigned(ceil_div(h.batch, a.rows));
  const std::size_t shared = std::size_t(a.rows) * head_row_floats(h.input, h.dense, h.vocab) * sizeof(float);
  head_rows_kernel<true><<<blocks, kHeadThreads, shared, launch.stream>>>(a);
  NOCTURNE_CHECK_LAUNCH("head_train_step (rows)", launch);
  const HeadGradGrid grid = head_grad_grid(h.input, h.dense, h.vocab);
  head_gradients_kernel<<<unsigned(grid.blocks()), kHeadThreads, 0, launch.stream>>>(a, grid);
  NOCTURNE_CHECK_LAUNCH("head_train_step (gradients)", launch);
}

void head_predict(const Launch& launch, int n, int input, int dense, int vocab, const float* x, const float* w1,
                  const float* b1, const float* w2, const float* b2, float* y1, float* logits, float* probs) {
  if (n <= 0) return;
  HeadArgs a = head_args(n, input, dense, vocab, "head_predict");
  a.x = x;
  a.w1 = w1;
  a.b1 = b1;
  a.w2 = w2;
  a.b2 = b2;
  a.y1 = y1;
  a.logits = logits;
  a.probs = probs;
  const unsigned blocks = unsigned(ceil_div(n, a.rows));
  const std::size_t shared = std::size_t(a.rows) * head_row_floats(input, dense, vocab) * sizeof(float);
  head_rows_kernel<false><<<blocks, kHeadThreads, shared, launch.stream>>>(a);
  NOCTURNE_CHECK_LAUNCH("head_predict", launch);
}

}  // namespace nocturne::kernels
