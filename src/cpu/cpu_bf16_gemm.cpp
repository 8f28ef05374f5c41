// BF16 GEMM with FP32 sums on AVX-512 BF16 (VDPBF16PS), for --precision bf16
// on the CPU. The operands are rounded with math::bf16_bits (nearest even, as
// the emulation and the GPU's kernels round them), packed once per call, and
// multiplied in pairs along k: each VDPBF16PS adds two exact BF16 products to
// an FP32 lane. The hardware treats BF16 denormal operands as zero and flushes
// denormal sums; what is left against the emulation is the order of the sums.
//
// Blocking, GotoBLAS style: k in blocks of kPairBlock pairs, columns in
// panels of 32 (two vectors) grouped kColumnBlock to a block (the packed B
// block stays in L2), rows in tiles of 8 (8 x 2 accumulators). Large calls
// split their columns (or rows) between the BLAS's thread count.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include <immintrin.h>

#include "cpu/cpu_bf16_simd.hpp"
#include "cpu/cpu_kernels.hpp"
#include "math/precision.hpp"

namespace nocturne::inline v0::cpu {
namespace {

constexpr int kRows = 8;             // rows per register tile
constexpr int kPanel = 32;           // columns per packed panel (two vectors of 16 floats)
constexpr int kPairBlock = 256;      // k pairs per block (512 values of k)
constexpr int kColumnBlock = 256;    // columns per block of packed B
constexpr double kThreadFlops = 4e6;  // below this a call runs on one thread

// op(X)[row, col] of a stored row-major X.
inline float element(const float* x, int ld, Transpose t, int row, int col) {
  return t == Transpose::no ? x[std::size_t(row) * ld + col] : x[std::size_t(col) * ld + row];
}

// up to 16 floats (mask) of `in`, rounded, in the low halves of the lanes.
NOCTURNE_BF16_TARGET inline __m512i load_low(const float* in, __mmask16 mask) {
  return round_low(_mm512_maskz_loadu_epi32(mask, in));
}

NOCTURNE_BF16_TARGET inline __mmask16 first(int count) {
  return count >= 16 ? __mmask16(0xffff) : __mmask16((1u << count) - 1);
}

// A packed: row i of op(A) as BF16, k padded with a zero to `pairs` pairs.
NOCTURNE_BF16_TARGET void pack_a(Transpose t, int m, int k, const float* a, int lda, int pairs, std::uint16_t* out) {
  for (int i = 0; i < m; ++i) {
    std::uint16_t* row = out + std::size_t(i) * 2 * pairs;
    if (t == Transpose::no) {
      const float* in = a + std::size_t(i) * lda;
      for (int j = 0; j < k; j += 16) {
        const __mmask16 mask = first(k - j);
        _mm256_mask_storeu_epi16(row + j, mask, _mm512_cvtepi32_epi16(load_low(in + j, mask)));
      }
    } else {
      for (int j = 0; j < k; ++j) row[j] = math::bf16_bits(a[std::size_t(j) * lda + i]);
    }
    for (int j = k; j < 2 * pairs; ++j) row[j] = 0;
  }
}

}  // namespace

// B packed in panels of 32 columns: panel q, pair p holds 64 values, column c's
// pair (op(B)[2p, c], op(B)[2p + 1, c]) at 2c, 2c + 1; zeros past n and k.
NOCTURNE_BF16_TARGET void bf16_pack_b(Transpose t, int k, int n, const float* b, int ldb, Bf16Matrix& out) {
  const int pairs = (k + 1) / 2, panels = (n + kPanel - 1) / kPanel;
  out.k = k;
  out.n = n;
  out.pairs = pairs;
  out.data.resize(std::size_t(panels) * pairs * 2 * kPanel);
  for (int q = 0; q < panels; ++q) {
    std::uint16_t* panel = out.data.data() + std::size_t(q) * pairs * 2 * kPanel;
    const int c0 = q * kPanel, cols = std::min(kPanel, n - c0);
    if (t == Transpose::no) {
      for (int p = 0; p < pairs; ++p) {
        const float* row0 = b + std::size_t(2 * p) * ldb + c0;
        const bool has_odd = 2 * p + 1 < k;
        for (int half = 0; half < 2; ++half) {
          const __mmask16 mask = cols > 16 * half ? first(cols - 16 * half) : __mmask16(0);
          const __m512i lo = load_low(row0 + 16 * half, mask);
          const __m512i hi = has_odd ? load_low(row0 + ldb + 16 * half, mask) : _mm512_setzero_si512();
          _mm512_storeu_si512(panel + std::size_t(p) * 2 * kPanel + 32 * half,
                              _mm512_or_si512(lo, _mm512_slli_epi32(hi, 16)));
        }
      }
    } else {
      // op(B)[2p, c] and op(B)[2p + 1, c] lie side by side in B's row c.
      for (int c = 0; c < kPanel; ++c)
        for (int p = 0; p < pairs; ++p) {
          std::uint16_t* dst = panel + std::size_t(p) * 2 * kPanel + 2 * c;
          dst[0] = dst[1] = 0;
          if (c >= cols) continue;
          const float* in = b + std::size_t(c0 + c) * ldb;
          dst[0] = math::bf16_bits(in[2 * p]);
          if (2 * p + 1 < k) dst[1] = math::bf16_bits(in[2 * p + 1]);
        }
    }
  }
}

namespace {

// C[rows, cols] += alpha * A-tile . B-panel over pairs [p0, p1).
template <int Rows>
NOCTURNE_BF16_TARGET void tile(const std::uint16_t* a, std::size_t a_stride, const std::uint16_t* panel, int p0,
                               int p1, float alpha, float* c, int ldc, int cols) {
  __m512 acc[Rows][2];
  for (int r = 0; r < Rows; ++r) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
  for (int p = p0; p < p1; ++p) {
    const __m512i b0 = _mm512_loadu_si512(panel + std::size_t(p) * 2 * kPanel);
    const __m512i b1 = _mm512_loadu_si512(panel + std::size_t(p) * 2 * kPanel + kPanel);
    for (int r = 0; r < Rows; ++r) {
      std::int32_t pair;
      std::memcpy(&pair, a + r * a_stride + 2 * std::size_t(p), sizeof pair);
      const __m512i av = _mm512_set1_epi32(pair);
      acc[r][0] = _mm512_dpbf16_ps(acc[r][0], (__m512bh)av, (__m512bh)b0);
      acc[r][1] = _mm512_dpbf16_ps(acc[r][1], (__m512bh)av, (__m512bh)b1);
    }
  }
  const __mmask16 m0 = first(cols);
  const __mmask16 m1 = cols > 16 ? first(cols - 16) : __mmask16(0);
  const __m512 va = _mm512_set1_ps(alpha);
  for (int r = 0; r < Rows; ++r) {
    float* row = c + std::size_t(r) * ldc;
    _mm512_mask_storeu_ps(row, m0, _mm512_fmadd_ps(va, acc[r][0], _mm512_maskz_loadu_ps(m0, row)));
    if (m1) _mm512_mask_storeu_ps(row + 16, m1, _mm512_fmadd_ps(va, acc[r][1], _mm512_maskz_loadu_ps(m1, row + 16)));
  }
}

using TileFn = void (*)(const std::uint16_t*, std::size_t, const std::uint16_t*, int, int, float, float*, int, int);
constexpr TileFn kTiles[kRows + 1] = {nullptr,  tile<1>, tile<2>, tile<3>, tile<4>,
                                      tile<5>, tile<6>, tile<7>, tile<8>};

struct Packed {
  const std::uint16_t* a;
  const std::uint16_t* b;
  int pairs;
};

// Rows [r0, r1) and columns [c0, c1) of C (c0 a multiple of kPanel).
void compute(const Packed& pk, int r0, int r1, int c0, int c1, float alpha, float* c, int ldc) {
  const std::size_t a_stride = 2 * std::size_t(pk.pairs);
  for (int p0 = 0; p0 < pk.pairs; p0 += kPairBlock) {
    const int p1 = std::min(pk.pairs, p0 + kPairBlock);
    for (int cb = c0; cb < c1; cb += kColumnBlock) {
      const int cb1 = std::min(c1, cb + kColumnBlock);
      for (int i = r0; i < r1; i += kRows) {
        const int rows = std::min(kRows, r1 - i);
        for (int j = cb; j < cb1; j += kPanel) {
          const std::uint16_t* panel = pk.b + std::size_t(j / kPanel) * pk.pairs * 2 * kPanel;
          kTiles[rows](pk.a + std::size_t(i) * a_stride, a_stride, panel, p0, p1, alpha,
                       c + std::size_t(i) * ldc + j, ldc, std::min(kPanel, cb1 - j));
        }
      }
    }
  }
}

}  // namespace

bool bf16_gemm_supported() {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  static const bool supported = __builtin_cpu_supports("avx512bf16");
  return supported;
#else
  return false;
#endif
}

void bf16_gemm_packed(Bf16Packing& packing, Transpose trans_a, int m, float alpha, const float* a, int lda,
                      const Bf16Matrix& b, float beta, float* c, int ldc) {
  const int n = b.n, k = b.k;
  check_gemm(trans_a, Transpose::no, m, n, k, lda, std::max(1, n), ldc);
  if (m == 0 || n == 0) return;
  for (int i = 0; i < m; ++i) {
    float* row = c + std::size_t(i) * ldc;
    for (int j = 0; j < n; ++j) row[j] = beta == 0.0f ? 0.0f : beta * row[j];
  }
  if (k == 0) return;
  packing.a.resize(std::size_t(m) * 2 * b.pairs);
  pack_a(trans_a, m, k, a, lda, b.pairs, packing.a.data());
  const Packed pk{packing.a.data(), b.data.data(), b.pairs};

  const double flops = 2.0 * m * n * double(k);
  const int threads = flops < kThreadFlops ? 1 : std::max(1, std::min(cpu_threads(), 16));
  if (threads == 1) return compute(pk, 0, m, 0, n, alpha, c, ldc);
  // Split the longer side in whole panels or tiles; the calling thread takes the first part.
  auto part = [&](int index, int count, int unit) {
    const int units = (count + unit - 1) / unit;
    return std::min(count, (units * index / threads) * unit);
  };
  const bool by_columns = n >= kPanel * threads && (n >= m || m < kRows * threads);
  parallel_run(threads, [&](int t) {
    if (by_columns)
      compute(pk, 0, m, part(t, n, kPanel), part(t + 1, n, kPanel), alpha, c, ldc);
    else
      compute(pk, part(t, m, kRows), part(t + 1, m, kRows), 0, n, alpha, c, ldc);
  });
}

const Bf16Matrix& Bf16WeightCache::get(int k, int n, const float* b) {
  for (Entry& e : entries_)
    if (e.b == b && e.k == k && e.n == n) return e.packed;
  entries_.push_back(Entry{b, k, n, {}});
  bf16_pack_b(Transpose::no, k, n, b, std::max(1, n), entries_.back().packed);
  return entries_.back().packed;
}

void Bf16WeightCache::forget(const void* begin, std::size_t bytes) {
  const auto lo = reinterpret_cast<std::uintptr_t>(begin), hi = lo + bytes;
  std::erase_if(entries_, [&](const Entry& e) {
    const auto b = reinterpret_cast<std::uintptr_t>(e.b);
    return b < hi && lo < b + std::size_t(e.k) * std::size_t(e.n) * sizeof(float);
  });
}

void bf16_gemm(Bf16Packing& packing, Transpose trans_a, Transpose trans_b, int m, int n, int k, float alpha,
               const float* a, int lda, const float* b, int ldb, float beta, float* c, int ldc) {
  check_gemm(trans_a, trans_b, m, n, k, lda, ldb, ldc);
  bf16_pack_b(trans_b, k, n, b, ldb, packing.b);
  bf16_gemm_packed(packing, trans_a, m, alpha, a, lda, packing.b, beta, c, ldc);
}

}  // namespace nocturne::cpu
