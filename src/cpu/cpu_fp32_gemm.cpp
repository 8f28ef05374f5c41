// FP32 GEMMs on AVX-512 for the LSTM's weight gradients, on the calling
// thread alone: the FP32 kernels' threads each call them on their own block of
// steps, and OpenBLAS, called from two threads at once, takes a buffer per
// call and under an address-space limit spun instead of failing.
//
// Blocking, GotoBLAS style: k in blocks of kDepth, columns in blocks of
// kWidth whose packed B (panels of 64 columns, k-major) stays in L2; for each
// tile of 6 rows op(A)'s block is packed k-major (6 floats a k, in L1) where
// op(A) = A^T, read in place where op(A) = A, and a register tile of 6 rows by
// 64 columns (24 accumulators) runs over it and each panel of the B block in
// turn, C added to after the first k block.

#include <immintrin.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "cpu/cpu_avx512.hpp"
#include "cpu/cpu_kernels.hpp"

namespace nocturne::inline v0::cpu {
namespace {

constexpr int kRows = 6;           // rows per register tile (6 x 4 accumulators of the 32 registers)
constexpr int kLanes = 16;         // floats per vector
constexpr int kCols = 4 * kLanes;  // columns per tile and per packed panel
constexpr int kDepth = 128;        // k per block: a B panel is 32 KiB (L1), the A block 3 KiB
constexpr int kWidth = 1024;       // columns per packed B block: 512 KiB, half of a Zen 4 core's L2

struct Free {
  void operator()(float* p) const { std::free(p); }
};
using Buffer = std::unique_ptr<float, Free>;

Buffer allocate(std::size_t count) {
  const std::size_t bytes = (count * sizeof(float) + 63) / 64 * 64;
  float* p = static_cast<float*>(std::aligned_alloc(64, bytes));
  if (!p) throw DeviceError("cpu: cannot allocate " + std::to_string(bytes) + " bytes for a GEMM's packed operands");
  return Buffer(p);
}

// op(B) rows [p0, p0 + depth), columns [j0, j0 + width) in panels of 64
// columns: panel q, row p at out + (q depth + p) 64; zeros past the last
// column. `sums` (or null, op(B) = B only): += each column's sum over the rows.
NOCTURNE_AVX512_TARGET void pack_b(Transpose t, const float* b, int ldb, int p0, int depth, int j0, int width,
                                   float* out, float* sums) {
  const int panels = (width + kCols - 1) / kCols;
  if (t == Transpose::no) {
    for (int p = 0; p < depth; ++p) {
      const float* row = b + std::size_t(p0 + p) * std::size_t(ldb) + std::size_t(j0);
      for (int q = 0; q < panels; ++q) {
        float* dst = out + (std::size_t(q) * std::size_t(depth) + std::size_t(p)) * kCols;
        for (int v = 0; v < 4; ++v) {
          const int col = q * kCols + v * kLanes;
          const __mmask16 mask = first(width - col);
          const __m512 x = _mm512_maskz_loadu_ps(mask, row + col);
          _mm512_store_ps(dst + v * kLanes, x);
          float* sum = sums ? sums + j0 + col : nullptr;
          if (sum && mask) _mm512_mask_storeu_ps(sum, mask, _mm512_add_ps(_mm512_maskz_loadu_ps(mask, sum), x));
        }
      }
    }
    return;
  }
  // op(B) = B^T: column j of op(B) is row j of B, read along k.
  for (int q = 0; q < panels; ++q) {
    float* panel = out + std::size_t(q) * std::size_t(depth) * kCols;
    for (int l = 0; l < kCols; ++l) {
      const int col = q * kCols + l;
      if (col >= width) {
        for (int p = 0; p < depth; ++p) panel[std::size_t(p) * kCols + std::size_t(l)] = 0.0f;
        continue;
      }
      const float* src = b + std::size_t(j0 + col) * std::size_t(ldb) + std::size_t(p0);
      for (int p = 0; p < depth; ++p) panel[std::size_t(p) * kCols + std::size_t(l)] = src[p];
    }
  }
}

// op(A) = A^T rows [i0, i0 + rows), k [p0, p0 + depth): row r, k p at
// out[p 6 + r], the `rows` neighbours of each row of A side by side.
void pack_a_transposed(const float* a, int lda, int i0, int rows, int p0, int depth, float* out) {
  for (int p = 0; p < depth; ++p) {
    const float* src = a + std::size_t(p0 + p) * std::size_t(lda) + std::size_t(i0);
    for (int r = 0; r < rows; ++r) out[p * kRows + r] = src[r];
  }
}

// C[r, 0..cols) (+)= sum over p of A(r, p) b[p 64 + 0..cols), r < Rows, where
// A(r, p) is a[p 6 + r] (packed) or a[r lda + p] (op(A) = A, read in place:
// its rows run along k already, and a gathering copy cost more than it saved).
template <int Rows, bool Packed>
NOCTURNE_AVX512_TARGET void tile(int depth, const float* a, std::size_t lda, const float* b, bool accumulate, float* c,
                                 std::size_t ldc, int cols) {
  // C's lines into L2 while the sums run (from L3 or memory they stalled the add at the end).
  if (accumulate)
    for (int r = 0; r < Rows; ++r)
      for (int v = 0; v * kLanes < cols; ++v)
        _mm_prefetch(reinterpret_cast<const char*>(c + std::size_t(r) * ldc + std::size_t(v * kLanes)), _MM_HINT_T1);
  __m512 acc[Rows][4];
#pragma GCC unroll 8
  for (int r = 0; r < Rows; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < 4; ++v) acc[r][v] = _mm512_setzero_ps();
#pragma GCC unroll 2
  for (int p = 0; p < depth; ++p, a += Packed ? kRows : 1, b += kCols) {
    const __m512 b0 = _mm512_load_ps(b);
    const __m512 b1 = _mm512_load_ps(b + kLanes);
    const __m512 b2 = _mm512_load_ps(b + 2 * kLanes);
    const __m512 b3 = _mm512_load_ps(b + 3 * kLanes);
#pragma GCC unroll 8
    for (int r = 0; r < Rows; ++r) {
      const __m512 av = _mm512_set1_ps(Packed ? a[r] : a[std::size_t(r) * lda]);
      acc[r][0] = _mm512_fmadd_ps(av, b0, acc[r][0]);
      acc[r][1] = _mm512_fmadd_ps(av, b1, acc[r][1]);
      acc[r][2] = _mm512_fmadd_ps(av, b2, acc[r][2]);
      acc[r][3] = _mm512_fmadd_ps(av, b3, acc[r][3]);
    }
  }
#pragma GCC unroll 4
  for (int v = 0; v < 4; ++v) {
    const __mmask16 mask = first(cols - v * kLanes);
    if (!mask) break;
#pragma GCC unroll 8
    for (int r = 0; r < Rows; ++r) {
      float* out = c + std::size_t(r) * ldc + std::size_t(v * kLanes);
      __m512 sum = acc[r][v];
      if (accumulate) sum = _mm512_add_ps(sum, _mm512_maskz_loadu_ps(mask, out));
      _mm512_mask_storeu_ps(out, mask, sum);
    }
  }
}

// Rows p .. p + Rows - 1 of fp32_rank_one_gradients: dw and db loaded and
// stored once for Rows rows (on one row at a time the loop waited on its stores).
template <int Rows>
NOCTURNE_AVX512_TARGET void rank_one_rows(int p, int n, const float* x, const float* g, std::size_t ldg,
                                          const float* w, float* dw, float* db, float* dx) {
  __m512 xv[Rows], dot[Rows];
  for (int r = 0; r < Rows; ++r) {
    xv[r] = _mm512_set1_ps(x[p + r]);
    dot[r] = _mm512_setzero_ps();
  }
  const float* row = g + std::size_t(p) * ldg;
  for (int j = 0; j < n; j += kLanes) {
    const __mmask16 mask = first(n - j);
    __m512 dw_j = _mm512_maskz_loadu_ps(mask, dw + j), db_j = _mm512_maskz_loadu_ps(mask, db + j);
    const __m512 w_j = dx ? _mm512_maskz_loadu_ps(mask, w + j) : _mm512_setzero_ps();
    for (int r = 0; r < Rows; ++r) {
      const __m512 gv = _mm512_maskz_loadu_ps(mask, row + std::size_t(r) * ldg + std::size_t(j));
      dw_j = _mm512_fmadd_ps(xv[r], gv, dw_j);
      db_j = _mm512_add_ps(db_j, gv);
      dot[r] = _mm512_fmadd_ps(gv, w_j, dot[r]);
    }
    _mm512_mask_storeu_ps(dw + j, mask, dw_j);
    _mm512_mask_storeu_ps(db + j, mask, db_j);
  }
  if (dx)
    for (int r = 0; r < Rows; ++r) dx[p + r] = _mm512_reduce_add_ps(dot[r]);
}

using TileFn = void (*)(int, const float*, std::size_t, const float*, bool, float*, std::size_t, int);
constexpr TileFn kPackedTiles[kRows + 1] = {nullptr,          tile<1, true>, tile<2, true>, tile<3, true>,
                                            tile<4, true>, tile<5, true>, tile<6, true>};
constexpr TileFn kInPlaceTiles[kRows + 1] = {nullptr,           tile<1, false>, tile<2, false>, tile<3, false>,
                                             tile<4, false>, tile<5, false>, tile<6, false>};

}  // namespace

std::size_t fp32_gemm_workspace_size() { return std::size_t(kDepth) * (kWidth + kRows); }

void fp32_gemm(Transpose trans_a, Transpose trans_b, int m, int n, int k, const float* a, int lda, const float* b,
               int ldb, bool accumulate, float* c, int ldc, float* column_sums, float* workspace) {
  check_gemm(trans_a, trans_b, m, n, k, lda, ldb, ldc);
  require(!column_sums || trans_b == Transpose::no, "fp32_gemm", "column sums need op(B) = B");
  if (m == 0 || n == 0) return;
  if (k == 0) {
    if (!accumulate)
      for (int i = 0; i < m; ++i) std::memset(c + std::size_t(i) * std::size_t(ldc), 0, std::size_t(n) * sizeof(float));
    return;
  }
  Buffer own;
  if (!workspace) {
    own = allocate(fp32_gemm_workspace_size());
    workspace = own.get();
  }
  require(reinterpret_cast<std::uintptr_t>(workspace) % 64 == 0, "fp32_gemm", "workspace not 64-byte aligned");
  float* const packed_b = workspace;
  float* const packed_a = workspace + std::size_t(kDepth) * kWidth;
  const bool pack = trans_a == Transpose::yes;
  for (int p0 = 0; p0 < k; p0 += kDepth) {
    const int depth = std::min(kDepth, k - p0);
    const bool add = accumulate || p0 > 0;
    for (int j0 = 0; j0 < n; j0 += kWidth) {
      const int width = std::min(kWidth, n - j0);
      pack_b(trans_b, b, ldb, p0, depth, j0, width, packed_b, column_sums);
      for (int i0 = 0; i0 < m; i0 += kRows) {
        const int rows = std::min(kRows, m - i0);
        const float* a_block = packed_a;
        if (pack)
          pack_a_transposed(a, lda, i0, rows, p0, depth, packed_a);
        else
          a_block = a + std::size_t(i0) * std::size_t(lda) + std::size_t(p0);
        const TileFn run = (pack ? kPackedTiles : kInPlaceTiles)[rows];
        for (int q = 0; q * kCols < width; ++q)
          run(depth, a_block, std::size_t(lda), packed_b + std::size_t(q) * std::size_t(depth) * kCols, add,
              c + std::size_t(i0) * std::size_t(ldc) + std::size_t(j0 + q * kCols), std::size_t(ldc),
              std::min(kCols, width - q * kCols));
      }
    }
  }
}

void fp32_rank_one_gradients(int k, int n, const float* x, const float* g, int ldg, const float* w, float* dw,
                             float* db, float* dx) {
  require(ldg >= std::max(1, n), "fp32_rank_one_gradients", "ldg " + std::to_string(ldg) + " < " + std::to_string(n));
  if (k < 0 || n < 0) throw ShapeError("fp32_rank_one_gradients: negative size k=" + std::to_string(k) +
                                       " n=" + std::to_string(n));
  std::memset(dw, 0, std::size_t(n) * sizeof(float));
  int p = 0;
  for (; p + 4 <= k; p += 4) rank_one_rows<4>(p, n, x, g, std::size_t(ldg), w, dw, db, dx);
  for (; p < k; ++p) rank_one_rows<1>(p, n, x, g, std::size_t(ldg), w, dw, db, dx);
}

}  // namespace nocturne::inline v0::cpu
