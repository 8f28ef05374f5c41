// The BF16 LSTM recurrence on AVX-512 BF16 (--precision bf16): the FP32
// kernels' structure (cpu_lstm_fp32.cpp) with the recurrent GEMM on
// VDPBF16PS. Its operands are rounded as the emulation rounds GEMM operands
// (math::bf16_bits: nearest even) and the sums, the cells and their state stay
// FP32, the cells' math the FP32 kernels' own (cpu_lstm_simd.hpp).
//
// Forward, per step: gates_t[rows, 4H] (+)= h_{t-1} R in register tiles of up
// to 6 rows by 64 columns (the four gates of 16 hidden units), R packed once
// per sequence in BF16 pairs along k, h_{t-1} of the thread's rows rounded to
// BF16 once per step; then the cells of those rows and units. Backward, per
// step: dh_{t-1} = dgates_t R^T in tiles of 6 rows by 64 units, dgates_t
// rounded once per step, then the cells' backward of step t - 1.
//
// Each thread owns a block of batch rows for the whole sequence; after the
// backward recurrence the same threads take the weight gradients, each of a
// block of steps, on the BF16 GEMM (single-threaded calls), and their partial
// sums are added once.

#include <immintrin.h>

#include <algorithm>
#include <barrier>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "cpu/cpu_bf16_simd.hpp"
#include "cpu/cpu_kernels.hpp"
#include "cpu/cpu_lstm_simd.hpp"
#include "cpu/cpu_row_blocks.hpp"
#include "math/precision.hpp"

namespace nocturne::inline v0::cpu {
namespace {

#define NOCTURNE_BF16_LSTM_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16,fma")))

constexpr int kPairValues = 2 * kTileCols;  // BF16 values of one pair of k in a panel (4 vectors)

// dst[r][0 .. 2 pairs) = BF16 of src[r][0 .. k), a zero past k: the rows of a
// GEMM's left operand as the tiles broadcast them, a pair at a time.
NOCTURNE_BF16_LSTM_TARGET void round_rows(int rows, int k, const float* src, std::size_t ld, int pairs,
                                          std::uint16_t* dst) {
  for (int r = 0; r < rows; ++r) {
    const float* in = src + std::size_t(r) * ld;
    std::uint16_t* out = dst + std::size_t(r) * 2 * std::size_t(pairs);
    for (int j = 0; j < 2 * pairs; j += kLanes) {
      const __mmask16 mask = first(k - j);
      const __m512i v = round_low(_mm512_maskz_loadu_epi32(mask, in + j));
      _mm256_mask_storeu_epi16(out + j, first(2 * pairs - j), _mm512_cvtepi32_epi16(v));
    }
  }
}

// One packed operand as the tiles read it: pair p of panel q at
// data + q * panel + p * kPairValues, 4 vectors of 16 columns' pairs.
struct Panels {
  const std::uint16_t* data = nullptr;
  std::size_t panel = 0;
  int pairs = 0;
};

template <int Rows>
NOCTURNE_BF16_LSTM_TARGET [[gnu::always_inline]] inline void dot_pair(__m512 (&acc)[Rows][4], const std::uint16_t* a,
                                                                      std::size_t lda, int p,
                                                                      const std::uint16_t* bp) {
  const __m512bh b0 = (__m512bh)_mm512_loadu_si512(bp);
  const __m512bh b1 = (__m512bh)_mm512_loadu_si512(bp + 32);
  const __m512bh b2 = (__m512bh)_mm512_loadu_si512(bp + 64);
  const __m512bh b3 = (__m512bh)_mm512_loadu_si512(bp + 96);
#pragma GCC unroll 8
  for (int r = 0; r < Rows; ++r) {
    std::int32_t pair;
    std::memcpy(&pair, a + r * lda + 2 * std::size_t(p), sizeof pair);
    const __m512bh av = (__m512bh)_mm512_set1_epi32(pair);
    acc[r][0] = _mm512_dpbf16_ps(acc[r][0], av, b0);
    acc[r][1] = _mm512_dpbf16_ps(acc[r][1], av, b1);
    acc[r][2] = _mm512_dpbf16_ps(acc[r][2], av, b2);
    acc[r][3] = _mm512_dpbf16_ps(acc[r][3], av, b3);
  }
}

// out[r][0..64) (+)= a[r] (BF16 pairs, stride lda values) . panel q of b;
// `late` (or null): lines to prefetch during the last iterations.
template <int Rows>
NOCTURNE_BF16_LSTM_TARGET void tile(const std::uint16_t* a, std::size_t lda, const Panels& b, int q, bool accumulate,
                                    float* out, const Lines* late) {
  __m512 acc[Rows][4];
#pragma GCC unroll 8
  for (int r = 0; r < Rows; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < 4; ++v)
      acc[r][v] = accumulate ? _mm512_load_ps(out + r * kTileCols + v * kLanes) : _mm512_setzero_ps();
  const std::uint16_t* bp = b.data + std::size_t(q) * b.panel;
  const int k = b.pairs, tail = late ? std::min(late->count, k) : 0;
  int p = 0;
  for (; p < k - tail; ++p, bp += kPairValues) dot_pair<Rows>(acc, a, lda, p, bp);
  for (int l = 0; p < k; ++p, ++l, bp += kPairValues) {
    prefetch(late->at[l]);
    dot_pair<Rows>(acc, a, lda, p, bp);
  }
#pragma GCC unroll 8
  for (int r = 0; r < Rows; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < 4; ++v) _mm512_store_ps(out + r * kTileCols + v * kLanes, acc[r][v]);
}

using TileFn = void (*)(const std::uint16_t*, std::size_t, const Panels&, int, bool, float*, const Lines*);
constexpr TileFn kTiles[kTileRows + 1] = {nullptr, tile<1>, tile<2>, tile<3>, tile<4>, tile<5>, tile<6>};

int pairs_of(int k) { return (k + 1) / 2; }

// ---- forward -------------------------------------------------------------------------

struct ForwardBlock {
  const LstmRecurrence& s;
  const Panels& recurrent;
  const Panels* w;  // W's panels, unless the input is folded
  std::vector<std::uint16_t> h16, x16;  // this block's rows of h_{t-1} and x_t in BF16
  alignas(64) float acc[kTileRows * kTileCols];
  Lines lines;

  // The sums plus b (x W in the sums) or b + x W (folded, FP32 as the
  // emulation's rank-one input), then the cells; gates_t gets the activations.
  NOCTURNE_BF16_LSTM_TARGET void epilogue(int t, int i, int rows, int u0, int units) {
    const std::size_t n = std::size_t(s.batch), hid = std::size_t(s.hidden), width = 4 * hid;
    float* gates = s.gates + std::size_t(t) * n * width;
    const __mmask16 mask = first(units);
    for (int r = 0; r < rows; ++r) {
      const std::size_t row = std::size_t(i + r);
      float* g_row = gates + row * width + std::size_t(u0);
      __m512 a[4];
      for (int g = 0; g < 4; ++g) {
        const std::size_t col = std::size_t(g) * hid;
        __m512 base = _mm512_maskz_loadu_ps(mask, s.b + col + std::size_t(u0));
        if (!w) {
          const float* x = s.x + (std::size_t(t) * n + row) * std::size_t(s.input);
          for (int f = 0; f < s.input; ++f)
            base = _mm512_add_ps(
                base, _mm512_mul_ps(_mm512_set1_ps(x[f]),
                                    _mm512_maskz_loadu_ps(mask, s.w + std::size_t(f) * width + col + std::size_t(u0))));
        }
        a[g] = _mm512_add_ps(_mm512_load_ps(acc + r * kTileCols + g * kLanes), base);
      }
      const std::size_t state = (std::size_t(t) * n + row) * hid + std::size_t(u0);
      const __m512 cp = t > 0 ? _mm512_maskz_loadu_ps(mask, s.c + state - n * hid) : _mm512_setzero_ps();
      const CellOut cell = cell_forward(a[0], a[1], a[2], a[3], cp);
      store(g_row, mask, cell.i);
      store(g_row + hid, mask, cell.f);
      store(g_row + 2 * hid, mask, cell.g);
      store(g_row + 3 * hid, mask, cell.o);
      store(s.c + state, mask, cell.c);
      store(s.h + state, mask, cell.h);
      if (s.mask)
        store(s.h_masked + state, mask,
              _mm512_mul_ps(cell.h, _mm512_maskz_loadu_ps(mask, s.mask + row * hid + std::size_t(u0))));
    }
  }

  void epilogue_lines(int t, int i, int rows, int u0) {
    const std::size_t n = std::size_t(s.batch), hid = std::size_t(s.hidden), width = 4 * hid;
    lines.count = 0;
    for (int r = 0; r < rows; ++r) {
      const std::size_t row = std::size_t(i + r), state = (std::size_t(t) * n + row) * hid + std::size_t(u0);
      if (t > 0) lines.add(s.c + state - n * hid);
      if (!w) lines.add(s.x + (std::size_t(t) * n + row) * std::size_t(s.input));
      const float* g_row = s.gates + (std::size_t(t) * n + row) * width + std::size_t(u0);
      for (int g = 0; g < 4; ++g) lines.add(g_row + std::size_t(g) * hid);
      lines.add(s.c + state);
      lines.add(s.h + state);
      if (s.mask) lines.add(s.h_masked + state);
    }
  }

  NOCTURNE_BF16_LSTM_TARGET void run(int r0, int r1) {
    const std::size_t n = std::size_t(s.batch), hid = std::size_t(s.hidden);
    const int block = r1 - r0, h_pairs = pairs_of(s.hidden), x_pairs = pairs_of(s.input);
    h16.assign(std::size_t(block) * 2 * std::size_t(h_pairs), 0);
    if (w) x16.assign(std::size_t(block) * 2 * std::size_t(x_pairs), 0);
    const RowTiles tiles(r0, r1);
    const int panels = (s.hidden + kForwardUnits - 1) / kForwardUnits;
    for (int t = 0; t < s.steps; ++t) {
      // The recurrent operand: h_{t-1} (masked) of these rows in BF16, none at t = 0.
      if (t > 0)
        round_rows(block, s.hidden, (s.mask ? s.h_masked : s.h) + (std::size_t(t - 1) * n + std::size_t(r0)) * hid,
                   hid, h_pairs, h16.data());
      if (w)
        round_rows(block, s.input, s.x + (std::size_t(t) * n + std::size_t(r0)) * std::size_t(s.input),
                   std::size_t(s.input), x_pairs, x16.data());
      for (int q = 0; q < panels; ++q) {
        const int u0 = q * kForwardUnits, units = std::min(kForwardUnits, s.hidden - u0);
        for (int k = 0; k < tiles.count; ++k) {
          const int i = tiles.start(k), rows = tiles.rows(k);
          const std::size_t local = std::size_t(i - r0);
          epilogue_lines(t, i, rows, u0);
          bool have = false;
          if (w) {
            kTiles[rows](x16.data() + local * 2 * std::size_t(x_pairs), 2 * std::size_t(x_pairs), *w, q, false, acc,
                         t > 0 ? nullptr : &lines);
            have = true;
          }
          if (t > 0) {
            kTiles[rows](h16.data() + local * 2 * std::size_t(h_pairs), 2 * std::size_t(h_pairs), recurrent, q, have,
                         acc, &lines);
            have = true;
          }
          if (!have) std::memset(acc, 0, sizeof acc);
          epilogue(t, i, rows, u0, units);
        }
      }
    }
  }
};

// ---- backward ------------------------------------------------------------------------

struct BackwardBlock {
  const LstmRecurrenceBackward& s;
  const Panels& rt;
  std::vector<std::uint16_t> dg16;  // this block's rows of dgates_t in BF16
  alignas(64) float acc[kTileRows * kTileCols];
  Lines lines;

  NOCTURNE_BF16_LSTM_TARGET void run(int r0, int r1) {
    const std::size_t n = std::size_t(s.batch), hid = std::size_t(s.hidden), width = 4 * hid;
    const int block = r1 - r0;
    const RowTiles tiles(r0, r1);
    // Step T - 1 has no dh_next: the whole-step loop on these rows.
    if (block > 0) {
      const std::size_t last = std::size_t(s.steps - 1) * n + std::size_t(r0);
      lstm_cells_backward(block, s.hidden, s.gates + last * width, s.c + last * hid,
                          s.steps > 1 ? s.c + last * hid - n * hid : nullptr, s.dh + last * hid,
                          s.dh_next + std::size_t(r0) * hid, s.dc_carry + std::size_t(r0) * hid,
                          s.dgates + last * width);
    }
    if (s.steps > 1) dg16.assign(std::size_t(block) * width, 0);
    const int panels = (s.hidden + kBackwardUnits - 1) / kBackwardUnits;
    for (int t = s.steps - 1; t > 0; --t) {
      round_rows(block, int(width), s.dgates + (std::size_t(t) * n + std::size_t(r0)) * width, width,
                 int(width / 2), dg16.data());
      for (int q = 0; q < panels; ++q) {
        const int j0 = q * kBackwardUnits, units = std::min(kBackwardUnits, s.hidden - j0);
        for (int k = 0; k < tiles.count; ++k) {
          const int i = tiles.start(k), rows = tiles.rows(k);
          backward_epilogue_lines(*this, t, i, rows, j0, units);
          kTiles[rows](dg16.data() + std::size_t(i - r0) * width, width, rt, q, false, acc, &lines);
          backward_epilogue(*this, t, i, rows, j0, units);
        }
      }
    }
  }
};

// ---- weight gradients over one thread's steps ------------------------------------------

// Up to this input width dW, db and dx are one pass over dgates (a GEMM with
// m or n = F would pack all of dgates for a few outputs).
constexpr int kSmallInput = 4;

// The floats of `v` rounded to BF16 (math::round_to_bf16), as floats.
NOCTURNE_BF16_LSTM_TARGET inline __m512 round_ps(__m512 v) {
  return _mm512_castsi512_ps(_mm512_slli_epi32(round_low(_mm512_castps_si512(v)), 16));
}

// dst [cols, rows] = src [rows, cols] (leading dimension ld) transposed, in
// blocks that stay in L1: the BF16 GEMM packs a transposed left operand one
// element at a time, a plain one a vector at a time.
void transpose(int rows, int cols, const float* src, std::size_t ld, float* dst) {
  constexpr int kBlock = 32;
  for (int r0 = 0; r0 < rows; r0 += kBlock)
    for (int c0 = 0; c0 < cols; c0 += kBlock) {
      const int r1 = std::min(rows, r0 + kBlock), c1 = std::min(cols, c0 + kBlock);
      for (int c = c0; c < c1; ++c)
        for (int r = r0; r < r1; ++r)
          dst[std::size_t(c) * std::size_t(rows) + std::size_t(r)] = src[std::size_t(r) * ld + std::size_t(c)];
    }
}

// dR = h_prev^T dgates, dW = x^T dgates (BF16 operands, FP32 sums, as the
// emulation's GEMMs), db = column sums of dgates in FP32, over the steps
// [t0, t1) of all rows, into this thread's dr, dw and db; dx of those steps'
// rows = dgates W^T on W^T packed once for all threads.
struct GradientBlock {
  const LstmRecurrenceBackward& s;
  const Bf16Matrix& w_t;
  Bf16Packing& packing;
  std::vector<float>& transposed;
  float *dr, *dw, *db;  // this thread's sums

  // x^T dgates and h_prev^T dgates: the left operand transposed here first.
  void gemm_tn(int m, int rows, const float* a, const float* dgates, float* out) {
    const int width = 4 * s.hidden;
    if (rows == 0) {
      std::memset(out, 0, std::size_t(m) * std::size_t(width) * sizeof(float));
      return;
    }
    transposed.resize(std::size_t(m) * std::size_t(rows));
    transpose(rows, m, a, std::size_t(m), transposed.data());
    bf16_gemm(packing, Transpose::no, Transpose::no, m, width, rows, 1.0f, transposed.data(), rows, dgates, width, 0.0f,
              out, width);
  }

  // dW, db and dx of a narrow input in one pass over dgates.
  NOCTURNE_BF16_LSTM_TARGET void small_input(int t0, int rows) {
    const std::size_t width = 4 * std::size_t(s.hidden), in = std::size_t(s.input);
    const float* dgates = s.dgates + std::size_t(t0) * std::size_t(s.batch) * width;
    const float* x = s.x + std::size_t(t0) * std::size_t(s.batch) * in;
    float* dx = s.dx ? s.dx + std::size_t(t0) * std::size_t(s.batch) * in : nullptr;
    std::memset(dw, 0, in * width * sizeof(float));
    std::memset(db, 0, width * sizeof(float));
    for (std::size_t r = 0; r < std::size_t(rows); ++r) {
      const float* g = dgates + r * width;
      __m512 xr[kSmallInput], dot[kSmallInput];
      for (std::size_t f = 0; f < in; ++f) {
        xr[f] = _mm512_set1_ps(math::round_to_bf16(x[r * in + f]));
        dot[f] = _mm512_setzero_ps();
      }
      for (std::size_t j = 0; j < width; j += kLanes) {
        const __mmask16 mask = first(int(width - j));
        const __m512 gv = _mm512_maskz_loadu_ps(mask, g + j);
        _mm512_mask_storeu_ps(db + j, mask, _mm512_add_ps(_mm512_maskz_loadu_ps(mask, db + j), gv));
        const __m512 gr = round_ps(gv);
        for (std::size_t f = 0; f < in; ++f) {
          float* d = dw + f * width + j;
          _mm512_mask_storeu_ps(d, mask, _mm512_add_ps(_mm512_maskz_loadu_ps(mask, d), _mm512_mul_ps(xr[f], gr)));
          if (dx)
            dot[f] =
                _mm512_add_ps(dot[f], _mm512_mul_ps(gr, round_ps(_mm512_maskz_loadu_ps(mask, s.w + f * width + j))));
        }
      }
      if (dx)
        for (std::size_t f = 0; f < in; ++f) dx[r * in + f] = _mm512_reduce_add_ps(dot[f]);
    }
  }

  void run(int t0, int t1) {
    const std::size_t n = std::size_t(s.batch), hid = std::size_t(s.hidden), width = 4 * hid;
    const std::size_t in = std::size_t(s.input);
    const int rows = (t1 - t0) * s.batch;
    const float* dgates = s.dgates + std::size_t(t0) * n * width;
    if (s.input <= kSmallInput) {
      small_input(t0, rows);
    } else {
      gemm_tn(s.input, rows, s.x + std::size_t(t0) * n * in, dgates, dw);
      std::memset(db, 0, width * sizeof(float));
      for (std::size_t r = 0; r < std::size_t(rows); ++r)
        for (std::size_t j = 0; j < width; ++j) db[j] += dgates[r * width + j];
      if (s.dx && rows > 0)
        bf16_gemm_packed(packing, Transpose::no, rows, 1.0f, dgates, int(width), w_t, 0.0f,
                         s.dx + std::size_t(t0) * n * in, s.input);
    }
    // h_{-1} is zero: step 0 adds nothing to dR.
    const int r0 = std::max(t0, 1);
    gemm_tn(s.hidden, std::max(0, t1 - r0) * s.batch, s.h_prev + std::size_t(std::max(r0 - 1, 0)) * n * hid,
            s.dgates + std::size_t(r0) * n * width, dr);
  }
};

// The BF16 GEMM on one thread for a scope: it splits a large call between
// cpu_threads() threads, and here each kernel thread makes calls of its own.
struct GemmOnOneThread {
  int saved = 0;
  explicit GemmOnOneThread(bool on) {
    if (on && cpu_threads() > 1) {
      saved = cpu_threads();
      set_cpu_threads(1);
    }
  }
  ~GemmOnOneThread() {
    if (saved > 0) set_cpu_threads(saved);
  }
  GemmOnOneThread(const GemmOnOneThread&) = delete;
  GemmOnOneThread& operator=(const GemmOnOneThread&) = delete;
};

Panels panels_of(const Bf16Recurrent& p, int units) {
  const int count = (p.hidden + units - 1) / units;
  return {p.data.data(), count ? p.data.size() / std::size_t(count) : 0, p.pairs};
}

}  // namespace

bool lstm_bf16_kernels_supported() { return bf16_gemm_supported() && lstm_fp32_kernels_supported(); }

// Panel q, pair p: vector g holds R[2p, g H + 16 q + l] and R[2p + 1, g H + 16 q + l]
// at 2 l and 2 l + 1; zeros past H and past k.
void pack_recurrent_forward_bf16(int rows, int hidden, const float* r, Bf16Recurrent& out) {
  const int panels = (hidden + kForwardUnits - 1) / kForwardUnits, pairs = pairs_of(rows);
  const std::size_t hid = std::size_t(hidden), width = 4 * hid;
  out.hidden = hidden;
  out.rows = rows;
  out.pairs = pairs;
  out.data.assign(std::size_t(panels) * std::size_t(pairs) * kPairValues, 0);
  std::uint16_t* dst = out.data.data();
  for (int q = 0; q < panels; ++q) {
    const int u0 = q * kForwardUnits, units = std::min(kForwardUnits, hidden - u0);
    for (int p = 0; p < pairs; ++p, dst += kPairValues)
      for (int half = 0; half < 2 && 2 * p + half < rows; ++half) {
        const float* src = r + std::size_t(2 * p + half) * width + std::size_t(u0);
        for (int g = 0; g < 4; ++g)
          for (int l = 0; l < units; ++l)
            dst[g * 2 * kLanes + 2 * l + half] = math::bf16_bits(src[std::size_t(g) * hid + std::size_t(l)]);
      }
  }
}

// Panel q, pair p (of 4H / 2): vector v holds R[64 q + 16 v + l, 2p] and
// R[64 q + 16 v + l, 2p + 1] at 2 l and 2 l + 1; zeros past H.
void pack_recurrent_backward_bf16(int hidden, const float* r, Bf16Recurrent& out) {
  const int panels = (hidden + kBackwardUnits - 1) / kBackwardUnits, pairs = 2 * hidden;
  const std::size_t width = 4 * std::size_t(hidden);
  out.hidden = hidden;
  out.rows = int(width);
  out.pairs = pairs;
  out.data.assign(std::size_t(panels) * std::size_t(pairs) * kPairValues, 0);
  for (int q = 0; q < panels; ++q) {
    std::uint16_t* panel = out.data.data() + std::size_t(q) * std::size_t(pairs) * kPairValues;
    for (int l = 0; l < kTileCols; ++l) {
      const int j = q * kBackwardUnits + l;
      if (j >= hidden) break;
      const float* src = r + std::size_t(j) * width;
      for (int p = 0; p < pairs; ++p) {
        panel[std::size_t(p) * kPairValues + 2 * std::size_t(l)] = math::bf16_bits(src[2 * p]);
        panel[std::size_t(p) * kPairValues + 2 * std::size_t(l) + 1] = math::bf16_bits(src[2 * p + 1]);
      }
    }
  }
}

void lstm_recurrence_forward_bf16(const LstmRecurrence& s, const Bf16Recurrent& r, const Bf16Recurrent& w,
                                  int threads) {
  const Panels recurrent = panels_of(r, kForwardUnits);
  const Panels input = s.fold_input ? Panels{} : panels_of(w, kForwardUnits);
  const double flops = 8.0 * s.steps * double(s.batch) * s.hidden * (s.hidden + (s.fold_input ? 0 : s.input));
  for_row_blocks(s.batch, threads, flops, [&](int r0, int r1) {
    ForwardBlock block{s, recurrent, s.fold_input ? nullptr : &input, {}, {}, {}, {}};
    block.run(r0, r1);
  });
}

LstmBackwardTimes lstm_recurrence_backward_bf16(const LstmRecurrenceBackward& s, const Bf16Recurrent& rt,
                                                Bf16LstmScratch& scratch, int threads) {
  const std::size_t hid = std::size_t(s.hidden), in = std::size_t(s.input), width = 4 * hid;
  const Panels panels = panels_of(rt, kBackwardUnits);
  const double flops = 8.0 * (s.steps - 1) * double(s.batch) * s.hidden * s.hidden +
                       2.0 * s.steps * double(s.batch) * double(width) * double(hid + 2 * in);
  const int used = row_threads(s.batch, threads, flops);
  if (int(scratch.packings.size()) < used) scratch.packings.resize(std::size_t(used));
  if (int(scratch.transposed.size()) < used) scratch.transposed.resize(std::size_t(used));
  if (s.dx && s.input > kSmallInput) bf16_pack_b(Transpose::yes, int(width), s.input, s.w, int(width), scratch.w_t);
  const GemmOnOneThread one(used > 1);
  std::barrier sync(used);
  const std::size_t part = (hid + in + 1) * width;
  LstmBackwardTimes times;
  run_row_blocks(s.batch, used, [&](int index, int r0, int r1) {
    const auto start = std::chrono::steady_clock::now();
    BackwardBlock block{s, panels, {}, {}, {}};
    block.run(r0, r1);
    if (index == 0) times.recurrence_ms = ms_since(start);
    // The weight gradients by steps: every thread's dgates first.
    if (used > 1) sync.arrive_and_wait();
    const auto middle = std::chrono::steady_clock::now();
    float* own = index > 0 ? s.partials + std::size_t(index - 1) * part : nullptr;
    GradientBlock sums{s, scratch.w_t, scratch.packings[std::size_t(index)], scratch.transposed[std::size_t(index)],
                       own ? own : s.dr,
                       own ? own + hid * width : s.dw, own ? own + (hid + in) * width : s.db};
    sums.run(int(std::int64_t(s.steps) * index / used), int(std::int64_t(s.steps) * (index + 1) / used));
    if (used > 1) {
      sync.arrive_and_wait();
      add_partials(s.dr, hid * width, s.partials, part, used - 1, index, used);
      add_partials(s.dw, in * width, s.partials + hid * width, part, used - 1, index, used);
      add_partials(s.db, width, s.partials + (hid + in) * width, part, used - 1, index, used);
    }
    if (index == 0) times.weight_gradients_ms = ms_since(middle);
  });
  return times;
}

}  // namespace nocturne::cpu
