#pragma once
// The LSTM cell on AVX-512 vectors, shared by the FP32 and BF16 recurrence
// kernels (cpu_lstm_fp32.cpp, cpu_lstm_bf16.cpp): the cells' math is FP32 in
// both, only the recurrent GEMM's operands differ.

#include <immintrin.h>

#include <cstddef>

#include "cpu/cpu_avx512.hpp"
#include "cpu/cpu_kernels.hpp"
#include "cpu/cpu_row_blocks.hpp"

namespace nocturne::inline v0::cpu {

// ---- the cells on vectors ---------------------------------------------------------------
// math::lstm_cell_forward and lstm_cell_backward on 16 cells at once. exp
// and tanh are computed here, without tables: between two tiles' cells the
// R panel streams through L1, and a table-driven expf (libmvec's) would find
// its tables evicted every time.

// e^x: x = n ln 2 + r, |r| <= ln 2 / 2, e^r by Cephes' expf polynomial (about
// 1 ulp), times 2^n by VSCALEFPS (inf and 0 beyond the float range, NaN kept).
NOCTURNE_AVX512_TARGET inline __m512 exp_ps(__m512 x) {
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
  return _mm512_scalef_ps(p, n);
}

// tanh: 1 - 2 / (e^{2|x|} + 1) with x's sign, and for |x| < 1/4, where that
// loses relative precision, the odd series to x^9 (next term below 1e-8 of it).
NOCTURNE_AVX512_TARGET inline __m512 tanh_ps(__m512 x) {
  const __m512 one = _mm512_set1_ps(1.0f);
  const __m512 sign = _mm512_set1_ps(-0.0f);
  const __m512 ax = _mm512_andnot_ps(sign, x);
  const __m512 e = exp_ps(_mm512_add_ps(ax, ax));
  const __m512 large = _mm512_or_ps(_mm512_and_ps(sign, x),
                                    _mm512_sub_ps(one, _mm512_div_ps(_mm512_set1_ps(2.0f), _mm512_add_ps(e, one))));
  const __m512 x2 = _mm512_mul_ps(x, x);
  __m512 p = _mm512_set1_ps(62.0f / 2835.0f);
  p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(-17.0f / 315.0f));
  p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(2.0f / 15.0f));
  p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(-1.0f / 3.0f));
  const __m512 small = _mm512_fmadd_ps(_mm512_mul_ps(p, x2), x, x);
  return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(ax, _mm512_set1_ps(0.25f), _CMP_LT_OQ), large, small);
}

NOCTURNE_AVX512_TARGET inline __m512 sigmoid(__m512 x) {
  const __m512 one = _mm512_set1_ps(1.0f);
  return _mm512_div_ps(one, _mm512_add_ps(one, exp_ps(_mm512_sub_ps(_mm512_setzero_ps(), x))));
}

struct CellOut {
  __m512 i, f, g, o, c, h;
};

NOCTURNE_AVX512_TARGET inline CellOut cell_forward(__m512 a_i, __m512 a_f, __m512 a_g, __m512 a_o, __m512 c_prev) {
  CellOut out;
  out.i = sigmoid(a_i);
  out.f = sigmoid(a_f);
  out.g = tanh_ps(a_g);
  out.o = sigmoid(a_o);
  out.c = _mm512_add_ps(_mm512_mul_ps(out.f, c_prev), _mm512_mul_ps(out.i, out.g));
  out.h = _mm512_mul_ps(out.o, tanh_ps(out.c));
  return out;
}

struct CellGrad {
  __m512 da_i, da_f, da_g, da_o, dc_prev;
};

NOCTURNE_AVX512_TARGET inline CellGrad cell_backward(__m512 i, __m512 f, __m512 g, __m512 o, __m512 c, __m512 c_prev,
                                                     __m512 dh, __m512 dc_next) {
  const __m512 one = _mm512_set1_ps(1.0f);
  const __m512 tanh_c = tanh_ps(c);
  const __m512 dc =
      _mm512_add_ps(dc_next, _mm512_mul_ps(_mm512_mul_ps(dh, o), _mm512_sub_ps(one, _mm512_mul_ps(tanh_c, tanh_c))));
  CellGrad out;
  out.da_i = _mm512_mul_ps(_mm512_mul_ps(_mm512_mul_ps(dc, g), i), _mm512_sub_ps(one, i));
  out.da_f = _mm512_mul_ps(_mm512_mul_ps(_mm512_mul_ps(dc, c_prev), f), _mm512_sub_ps(one, f));
  out.da_g = _mm512_mul_ps(_mm512_mul_ps(dc, i), _mm512_sub_ps(one, _mm512_mul_ps(g, g)));
  out.da_o = _mm512_mul_ps(_mm512_mul_ps(_mm512_mul_ps(dh, tanh_c), o), _mm512_sub_ps(one, o));
  out.dc_prev = _mm512_mul_ps(dc, f);
  return out;
}

// ---- the backward's epilogue ----------------------------------------------------------
// Both kernels end a backward tile alike: its sums (the block's acc,
// kTileRows x kTileCols) are dh_{t-1}, and the cells' backward of step t - 1
// follows. Templates on the kernel's BackwardBlock (its s, acc and lines),
// read through the block as its own members read them: each kernel's run()
// compiles exactly as before. The epilogue needs no more than AVX-512F/VL/DQ
// and FMA, a subset of the BF16 kernel's target. Internal linkage as in
// cpu_avx512.hpp.
namespace {

// The lines of step t - 1 that the epilogue reads, then those it writes.
template <typename Block>
inline void backward_epilogue_lines(Block& block, int t, int i, int rows, int j0, int units) {
  const LstmRecurrenceBackward& s = block.s;
  Lines& lines = block.lines;
  const std::size_t n = std::size_t(s.batch), hid = std::size_t(s.hidden), width = 4 * hid;
  const std::size_t step = std::size_t(t - 1);
  lines.count = 0;
  for (int pass = 0; pass < 2; ++pass)
    for (int r = 0; r < rows; ++r)
      for (int v = 0; v * kLanes < units; ++v) {
        const std::size_t row = std::size_t(i + r), unit = std::size_t(j0 + v * kLanes);
        const std::size_t own = row * hid + unit, state = step * n * hid + own;
        const std::size_t gate = (step * n + row) * width + unit;
        if (pass == 1) {
          for (int g = 0; g < 4; ++g) lines.add(s.dgates + gate + std::size_t(g) * hid);
          continue;
        }
        for (int g = 0; g < 4; ++g) lines.add(s.gates + gate + std::size_t(g) * hid);
        lines.add(s.c + state);
        if (step > 0) lines.add(s.c + state - n * hid);
        lines.add(s.dh + state);
        lines.add(s.dc_carry + own);
        if (s.mask) lines.add(s.mask + own);
      }
}

// dh_{t-1} of tile rows [i, i + rows), units [j0, j0 + units) is the sums
// (masked) plus dh from above; with it the cells' backward of step t - 1.
template <typename Block>
NOCTURNE_AVX512_TARGET inline void backward_epilogue(Block& block, int t, int i, int rows, int j0, int units) {
  const LstmRecurrenceBackward& s = block.s;
  float* acc = block.acc;
  const std::size_t n = std::size_t(s.batch), hid = std::size_t(s.hidden), width = 4 * hid;
  const std::size_t step = std::size_t(t - 1);
  for (int r = 0; r < rows; ++r) {
    const std::size_t row = std::size_t(i + r);
    for (int v = 0; v < 4 && v * kLanes < units; ++v) {
      const __mmask16 mask = first(units - v * kLanes);
      const std::size_t unit = std::size_t(j0 + v * kLanes);
      const std::size_t own = row * hid + unit, state = step * n * hid + own;
      __m512 dh_next = _mm512_load_ps(acc + r * kTileCols + v * kLanes);
      if (s.mask) dh_next = _mm512_mul_ps(dh_next, _mm512_maskz_loadu_ps(mask, s.mask + own));
      const float* g_row = s.gates + (step * n + row) * width + unit;
      const CellGrad grad =
          cell_backward(_mm512_maskz_loadu_ps(mask, g_row), _mm512_maskz_loadu_ps(mask, g_row + hid),
                        _mm512_maskz_loadu_ps(mask, g_row + 2 * hid), _mm512_maskz_loadu_ps(mask, g_row + 3 * hid),
                        _mm512_maskz_loadu_ps(mask, s.c + state),
                        step > 0 ? _mm512_maskz_loadu_ps(mask, s.c + state - n * hid) : _mm512_setzero_ps(),
                        _mm512_add_ps(_mm512_maskz_loadu_ps(mask, s.dh + state), dh_next),
                        _mm512_maskz_loadu_ps(mask, s.dc_carry + own));
      float* d_row = s.dgates + (step * n + row) * width + unit;
      store(d_row, mask, grad.da_i);
      store(d_row + hid, mask, grad.da_f);
      store(d_row + 2 * hid, mask, grad.da_g);
      store(d_row + 3 * hid, mask, grad.da_o);
      store(s.dc_carry + own, mask, grad.dc_prev);
    }
  }
}

}  // namespace

}  // namespace nocturne::cpu
