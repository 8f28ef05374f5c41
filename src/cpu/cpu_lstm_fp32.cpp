// The FP32 LSTM recurrence on AVX-512: each step's recurrent GEMM fused with
// the cells, so that a tile of gates goes from the FMA registers through the
// cell loop while it is still in L1, and R is packed once per sequence.
//
// Forward, per step: gates_t[rows, 4H] (+)= h_{t-1} R, in register tiles of
// up to 6 rows by 64 columns: the four gates of 16 hidden units (R packed in
// panels of 16 units, their i, f, g, o columns side by side), then the cells
// of those rows and units. Backward, per step: dh_{t-1} = dgates_t R^T in
// tiles of 6 rows by 64 units (R^T packed in panels of 64 units), then the
// cells' backward of step t - 1 on those rows and units, which gives the part
// of dgates_{t-1} that the next step's GEMM reads.
//
// A batch row's recurrence never reads another row, so the rows are split
// into one block per thread and each thread runs the whole sequence on its
// block: no thread waits for another between steps.

#include <immintrin.h>

#include <algorithm>
#include <barrier>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "cpu/cpu_kernels.hpp"
#include "cpu/cpu_lstm_simd.hpp"
#include "cpu/cpu_row_blocks.hpp"

namespace nocturne::inline v0::cpu {
namespace {

// One packed operand B [k, columns] as the tiles read it: vector v (of 4) of
// row p of panel q at data + q * panel + p * row + v * vec; zeros past the
// last unit, so that no load needs a mask.
struct Panels {
  const float* data = nullptr;
  std::size_t panel = 0, row = 0, vec = 0;
  int k = 0;
};

template <int Rows>
NOCTURNE_AVX512_TARGET [[gnu::always_inline]] inline void fma_row(__m512 (&acc)[Rows][4], const float* a,
                                                                  std::size_t lda, int p, const float* bp,
                                                                  std::size_t vec, __mmask16 mask) {
  const __m512 b0 = _mm512_maskz_loadu_ps(mask, bp);
  const __m512 b1 = _mm512_maskz_loadu_ps(mask, bp + vec);
  const __m512 b2 = _mm512_maskz_loadu_ps(mask, bp + 2 * vec);
  const __m512 b3 = _mm512_maskz_loadu_ps(mask, bp + 3 * vec);
#pragma GCC unroll 8
  for (int r = 0; r < Rows; ++r) {
    const __m512 av = _mm512_set1_ps(a[r * lda + std::size_t(p)]);
    acc[r][0] = _mm512_fmadd_ps(av, b0, acc[r][0]);
    acc[r][1] = _mm512_fmadd_ps(av, b1, acc[r][1]);
    acc[r][2] = _mm512_fmadd_ps(av, b2, acc[r][2]);
    acc[r][3] = _mm512_fmadd_ps(av, b3, acc[r][3]);
  }
}

// out[r][0..64) (+)= a[r, 0..k) B's panel q, for Rows rows of a (stride lda);
// `late` (or null): lines to prefetch during the last iterations.
template <int Rows>
NOCTURNE_AVX512_TARGET void tile(const float* a, std::size_t lda, const Panels& b, int q, __mmask16 mask,
                                 bool accumulate, float* out, const Lines* late) {
  __m512 acc[Rows][4];
#pragma GCC unroll 8
  for (int r = 0; r < Rows; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < 4; ++v)
      acc[r][v] = accumulate ? _mm512_load_ps(out + r * kTileCols + v * kLanes) : _mm512_setzero_ps();
  const float* bp = b.data + std::size_t(q) * b.panel;
  const std::size_t vec = b.vec, row = b.row;
  const int k = b.k, tail = late ? std::min(late->count, k) : 0;
  int p = 0;
  for (; p < k - tail; ++p, bp += row) fma_row<Rows>(acc, a, lda, p, bp, vec, mask);
  for (int l = 0; p < k; ++p, ++l, bp += row) {
    prefetch(late->at[l]);
    fma_row<Rows>(acc, a, lda, p, bp, vec, mask);
  }
#pragma GCC unroll 8
  for (int r = 0; r < Rows; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < 4; ++v) _mm512_store_ps(out + r * kTileCols + v * kLanes, acc[r][v]);
}

using TileFn = void (*)(const float*, std::size_t, const Panels&, int, __mmask16, bool, float*, const Lines*);
constexpr TileFn kTiles[kTileRows + 1] = {nullptr, tile<1>, tile<2>, tile<3>, tile<4>, tile<5>, tile<6>};

// ---- forward -------------------------------------------------------------------------

// The forward of one block of rows over the steps [0, s.steps).
struct ForwardBlock {
  const LstmRecurrence& s;
  const Panels& recurrent;
  const Panels* w;  // W's panels, unless the input is folded
  alignas(64) float acc[kTileRows * kTileCols];
  Lines lines;

  // Tile rows [i, i + rows), units [u0, u0 + units) of step t: the sums plus
  // what gates_t holds (the input projection), b (x W in the sums) or b + x W
  // (folded), then the cells; gates_t receives the activated gates.
  NOCTURNE_AVX512_TARGET void epilogue(int t, int i, int rows, int u0, int units) {
    const std::size_t n = std::size_t(s.batch), hid = std::size_t(s.hidden), width = 4 * hid;
    float* gates = s.gates + std::size_t(t) * n * width;
    const __mmask16 mask = first(units);
    for (int r = 0; r < rows; ++r) {
      const std::size_t row = std::size_t(i + r);
      float* g_row = gates + row * width + std::size_t(u0);
      __m512 a[4];
      for (int g = 0; g < 4; ++g) {
        const std::size_t col = std::size_t(g) * hid;
        __m512 base;
        if (w) {
          base = _mm512_maskz_loadu_ps(mask, s.b + col + std::size_t(u0));
        } else if (s.fold_input) {
          base = _mm512_maskz_loadu_ps(mask, s.b + col + std::size_t(u0));
          const float* x = s.x + (std::size_t(t) * n + row) * std::size_t(s.input);
          for (int f = 0; f < s.input; ++f)
            base = _mm512_add_ps(
                base, _mm512_mul_ps(_mm512_set1_ps(x[f]),
                                    _mm512_maskz_loadu_ps(mask, s.w + std::size_t(f) * width + col + std::size_t(u0))));
        } else {
          base = _mm512_maskz_loadu_ps(mask, g_row + col);
        }
        a[g] = _mm512_add_ps(_mm512_load_ps(acc + r * kTileCols + g * kLanes), base);
      }
      const std::size_t state = (std::size_t(t) * n + row) * hid + std::size_t(u0);
      const float* c_prev = t > 0 ? s.c + state - n * hid : nullptr;
      const __m512 cp = c_prev ? _mm512_maskz_loadu_ps(mask, c_prev) : _mm512_setzero_ps();
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

  // The lines the epilogue reads and writes: c_{t-1} was written a whole
  // step ago, and the R panels have streamed through the caches since.
  void epilogue_lines(int t, int i, int rows, int u0) {
    const std::size_t n = std::size_t(s.batch), hid = std::size_t(s.hidden), width = 4 * hid;
    lines.count = 0;
    for (int r = 0; r < rows; ++r) {
      const std::size_t row = std::size_t(i + r), state = (std::size_t(t) * n + row) * hid + std::size_t(u0);
      if (t > 0) lines.add(s.c + state - n * hid);
      if (s.fold_input) lines.add(s.x + (std::size_t(t) * n + row) * std::size_t(s.input));
      const float* g_row = s.gates + (std::size_t(t) * n + row) * width + std::size_t(u0);
      for (int g = 0; g < 4; ++g) lines.add(g_row + std::size_t(g) * hid);
      lines.add(s.c + state);
      lines.add(s.h + state);
      if (s.mask) lines.add(s.h_masked + state);
    }
  }

  NOCTURNE_AVX512_TARGET void run(int r0, int r1) {
    const std::size_t n = std::size_t(s.batch), hid = std::size_t(s.hidden);
    const RowTiles tiles(r0, r1);
    const int panels = (s.hidden + kForwardUnits - 1) / kForwardUnits;
    for (int t = 0; t < s.steps; ++t) {
      // The recurrent operand: h_{t-1} (masked), or the initial state at t = 0.
      const float* a = t > 0 ? (s.mask ? s.h_masked : s.h) + std::size_t(t - 1) * n * hid : nullptr;
      for (int q = 0; q < panels; ++q) {
        const int u0 = q * kForwardUnits, units = std::min(kForwardUnits, s.hidden - u0);
        for (int k = 0; k < tiles.count; ++k) {
          const int i = tiles.start(k), rows = tiles.rows(k);
          epilogue_lines(t, i, rows, u0);
          bool have = false;
          if (w) {
            const float* x = s.x + (std::size_t(t) * n + std::size_t(i)) * std::size_t(s.input);
            kTiles[rows](x, std::size_t(s.input), *w, q, __mmask16(0xffff), false, acc, nullptr);
            have = true;
          }
          if (a) {
            kTiles[rows](a + std::size_t(i) * hid, hid, recurrent, q, __mmask16(0xffff), have, acc, &lines);
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
  alignas(64) float acc[kTileRows * kTileCols];
  Lines lines;

  NOCTURNE_AVX512_TARGET void run(int r0, int r1) {
    const std::size_t n = std::size_t(s.batch), width = 4 * std::size_t(s.hidden);
    const RowTiles tiles(r0, r1);
    // Step T - 1 has no dh_next: the whole-step loop on these rows.
    if (r1 > r0) {
      const std::size_t last = std::size_t(s.steps - 1) * n + std::size_t(r0), hid = std::size_t(s.hidden);
      lstm_cells_backward(r1 - r0, s.hidden, s.gates + last * width, s.c + last * hid,
                          s.steps > 1 ? s.c + last * hid - n * hid : nullptr, s.dh + last * hid,
                          s.dh_next + std::size_t(r0) * hid, s.dc_carry + std::size_t(r0) * hid,
                          s.dgates + last * width);
    }
    const int panels = (s.hidden + kBackwardUnits - 1) / kBackwardUnits;
    for (int t = s.steps - 1; t > 0; --t) {
      const float* dgates = s.dgates + std::size_t(t) * n * width;
      for (int q = 0; q < panels; ++q) {
        const int j0 = q * kBackwardUnits, units = std::min(kBackwardUnits, s.hidden - j0);
        for (int k = 0; k < tiles.count; ++k) {
          const int i = tiles.start(k), rows = tiles.rows(k);
          backward_epilogue_lines(*this, t, i, rows, j0, units);
          kTiles[rows](dgates + std::size_t(i) * width, width, rt, q, __mmask16(0xffff), false, acc, &lines);
          backward_epilogue(*this, t, i, rows, j0, units);
        }
      }
    }
  }
};

// ---- weight gradients over one thread's steps ------------------------------------------

// dR = h_prev^T dgates, dW = x^T dgates, db = column sums of dgates over the
// steps [t0, t1) of all rows, into this thread's dr, dw and db; dx of those
// steps' rows = dgates W^T. Split by steps, a thread's rows of x, h and
// dgates are one block of memory each: plain GEMMs, no gathering, on our
// single-threaded kernels (cpu_fp32_gemm.cpp: no BLAS buffers or threads).
// db is summed while dW's GEMM packs dgates, or with dW and dx in one pass
// where the input has one feature.
struct GradientBlock {
  const LstmRecurrenceBackward& s;
  float *dr, *dw, *db;  // this thread's sums
  float* workspace;     // this thread's packed GEMM operands

  void run(int t0, int t1) {
    const std::size_t n = std::size_t(s.batch), hid = std::size_t(s.hidden), width = 4 * hid;
    const std::size_t in = std::size_t(s.input);
    const int rows = (t1 - t0) * s.batch;
    const float* dgates = s.dgates + std::size_t(t0) * n * width;
    const float* x = s.x + std::size_t(t0) * n * in;
    float* dx = s.dx ? s.dx + std::size_t(t0) * n * in : nullptr;
    std::memset(db, 0, width * sizeof(float));
    if (s.input == 1) {
      fp32_rank_one_gradients(rows, int(width), x, dgates, int(width), s.w, dw, db, dx);
    } else {
      fp32_gemm(Transpose::yes, Transpose::no, s.input, int(width), rows, x, s.input, dgates, int(width), false, dw,
                int(width), db, workspace);
      if (dx && rows > 0)
        fp32_gemm(Transpose::no, Transpose::yes, rows, s.input, int(width), dgates, int(width), s.w, int(width), false,
                  dx, s.input, nullptr, workspace);
    }
    // h_{-1} is zero: step 0 adds nothing to dR.
    const int r0 = std::max(t0, 1);
    if (r0 < t1)
      fp32_gemm(Transpose::yes, Transpose::no, s.hidden, int(width), (t1 - r0) * s.batch,
                s.h_prev + std::size_t(r0 - 1) * n * hid, s.hidden, s.dgates + std::size_t(r0) * n * width,
                int(width), false, dr, int(width), nullptr, workspace);
    else
      std::memset(dr, 0, hid * width * sizeof(float));
  }
};

// Each thread's GEMM workspace in `partials`: 64-byte aligned, whole lines apart.
constexpr std::size_t kAlignFloats = 64 / sizeof(float);
std::size_t gemm_workspace_stride() {
  return (fp32_gemm_workspace_size() + kAlignFloats - 1) / kAlignFloats * kAlignFloats;
}

float* gemm_workspace(float* partials, std::size_t partial_floats, int index) {
  const auto at = reinterpret_cast<std::uintptr_t>(partials + partial_floats);
  float* base = reinterpret_cast<float*>((at + 63) / 64 * 64);
  return base + std::size_t(index) * gemm_workspace_stride();
}

Panels forward_panels(const PackedRecurrent& p) {
  return {p.data(), std::size_t(p.rows) * kTileCols, kTileCols, kLanes, p.rows};
}

}  // namespace

void PackedRecurrent::resize(std::size_t count) {
  if (count > capacity_) {
    float* p = static_cast<float*>(std::aligned_alloc(64, (count * sizeof(float) + 63) / 64 * 64));
    if (!p) throw DeviceError("cpu: cannot allocate " + std::to_string(count * sizeof(float)) + " bytes");
    data_.reset(p);
    capacity_ = count;
  }
}

bool lstm_fp32_kernels_supported() {
  static const bool supported = __builtin_cpu_supports("avx512f");
  return supported;
}

// Panel q, row k: R[k, g H + 16 q + l] at 16 g + l; zeros past H.
void pack_recurrent_forward(int rows, int hidden, const float* r, PackedRecurrent& out) {
  const int panels = (hidden + kForwardUnits - 1) / kForwardUnits;
  const std::size_t hid = std::size_t(hidden), width = 4 * hid;
  out.resize(std::size_t(panels) * std::size_t(rows) * kTileCols);
  out.hidden = hidden;
  out.rows = rows;
  float* dst = out.data();
  for (int q = 0; q < panels; ++q) {
    const int u0 = q * kForwardUnits, units = std::min(kForwardUnits, hidden - u0);
    for (std::size_t k = 0; k < std::size_t(rows); ++k, dst += kTileCols)
      for (int g = 0; g < 4; ++g) {
        const float* src = r + k * width + std::size_t(g) * hid + std::size_t(u0);
        for (int l = 0; l < kLanes; ++l) dst[g * kLanes + l] = l < units ? src[l] : 0.0f;
      }
  }
}

// Panel q, row k (of 4H): R[64 q + l, k] at l; zeros past H.
void pack_recurrent_backward(int hidden, const float* r, PackedRecurrent& out) {
  const int panels = (hidden + kBackwardUnits - 1) / kBackwardUnits;
  const std::size_t hid = std::size_t(hidden), width = 4 * hid;
  out.resize(std::size_t(panels) * width * kTileCols);
  out.hidden = hidden;
  for (int q = 0; q < panels; ++q) {
    float* panel = out.data() + std::size_t(q) * width * kTileCols;
    for (int l = 0; l < kTileCols; ++l) {
      const std::size_t j = std::size_t(q) * kBackwardUnits + std::size_t(l);
      if (j >= hid) {
        for (std::size_t k = 0; k < width; ++k) panel[k * kTileCols + std::size_t(l)] = 0.0f;
        continue;
      }
      const float* src = r + j * width;
      for (std::size_t k = 0; k < width; ++k) panel[k * kTileCols + std::size_t(l)] = src[k];
    }
  }
}

void lstm_recurrence_forward(const LstmRecurrence& s, const PackedRecurrent& r, const PackedRecurrent& w, int threads) {
  const Panels panels = forward_panels(r);
  const Panels input = s.fold_input ? Panels{} : forward_panels(w);
  const double flops = 8.0 * s.steps * double(s.batch) * s.hidden * (s.hidden + (s.fold_input ? 0 : s.input));
  for_row_blocks(s.batch, threads, flops, [&](int r0, int r1) {
    ForwardBlock block{s, panels, s.fold_input ? nullptr : &input, {}, {}};
    block.run(r0, r1);
  });
}

// The partial sums of threads 1 .. threads - 1, then a GEMM workspace per
// thread (allocated with the partials, before the threads start: an
// allocation that failed inside them would leave the others at the barrier).
std::size_t lstm_weight_partials_size(int threads, int input, int hidden) {
  const std::size_t hid = std::size_t(hidden), in = std::size_t(input), width = 4 * hid;
  return std::size_t(std::max(0, threads - 1)) * (hid + in + 1) * width +
         std::size_t(std::max(1, threads)) * gemm_workspace_stride() + kAlignFloats;
}

LstmBackwardTimes lstm_recurrence_backward(const LstmRecurrenceBackward& s, const PackedRecurrent& rt, int threads) {
  const std::size_t hid = std::size_t(s.hidden), in = std::size_t(s.input), width = 4 * hid;
  const Panels panels{rt.data(), width * kTileCols, kTileCols, kLanes, int(width)};
  const bool gradients = s.dr != nullptr;
  // With the weight gradients the split is decided by the whole backward's work.
  const double flops = 8.0 * (s.steps - 1) * double(s.batch) * s.hidden * s.hidden +
                       (gradients ? 2.0 * s.steps * double(s.batch) * double(width) * double(hid + 2 * in) : 0.0);
  const int used = row_threads(s.batch, threads, flops);
  std::barrier sync(used);
  const std::size_t part = (hid + in + 1) * width;
  LstmBackwardTimes times;
  run_row_blocks(s.batch, used, [&](int index, int r0, int r1) {
    const auto start = std::chrono::steady_clock::now();
    BackwardBlock block{s, panels, {}, {}};
    block.run(r0, r1);
    if (index == 0) times.recurrence_ms = ms_since(start);
    if (!gradients) return;
    // The weight gradients by steps: every thread's dgates first.
    if (used > 1) sync.arrive_and_wait();
    const auto middle = std::chrono::steady_clock::now();
    float* own = index > 0 ? s.partials + std::size_t(index - 1) * part : nullptr;
    GradientBlock sums{s, own ? own : s.dr, own ? own + hid * width : s.dw, own ? own + (hid + in) * width : s.db,
                       gemm_workspace(s.partials, std::size_t(std::max(0, threads - 1)) * part, index)};
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

}  // namespace nocturne::inline v0::cpu
