// One time step of LSTM cells, forward and backward, over all batch rows.
// This file is compiled with -ffast-math (see CMakeLists.txt) so that GCC
// replaces expf/tanhf in math::lstm_cell_* by glibc's vector versions
// (libmvec): the loops below are the bulk of the non-GEMM time of a
// training step. Nothing here tests for NaN or relies on signed zeros.

#include <cstddef>

#include "cpu/cpu_kernels.hpp"
#include "cpu/cpu_simd.hpp"
#include "math/lstm_cell.hpp"

namespace nocturne::inline v0::cpu {
namespace {

template <typename T, bool kHasPrev>
[[gnu::always_inline]] inline void forward_rows(int n, int hidden, T* __restrict gates, const T* __restrict c_prev,
                                                T* __restrict c, T* __restrict h) {
  const std::size_t hs = std::size_t(hidden);
  for (std::size_t row = 0; row < std::size_t(n); ++row) {
    T* __restrict gi = gates + row * 4 * hs;
    T* __restrict gf = gi + hs;
    T* __restrict gg = gf + hs;
    T* __restrict go = gg + hs;
    const T* __restrict cp = kHasPrev ? c_prev + row * hs : nullptr;
    T* __restrict cr = c + row * hs;
    T* __restrict hr = h + row * hs;
#pragma omp simd
    for (std::size_t j = 0; j < hs; ++j) {
      const auto cell = math::lstm_cell_forward(gi[j], gf[j], gg[j], go[j], kHasPrev ? cp[j] : T(0));
      gi[j] = cell.i;
      gf[j] = cell.f;
      gg[j] = cell.g;
      go[j] = cell.o;
      cr[j] = cell.c;
      hr[j] = cell.h;
    }
  }
}

template <typename T, bool kHasPrev>
[[gnu::always_inline]] inline void backward_rows(int n, int hidden, const T* __restrict gates, const T* __restrict c,
                                                 const T* __restrict c_prev, const T* __restrict dh,
                                                 const T* __restrict dh_next, T* __restrict dc_carry,
                                                 T* __restrict dgates) {
  const std::size_t hs = std::size_t(hidden);
  for (std::size_t row = 0; row < std::size_t(n); ++row) {
    const T* __restrict gi = gates + row * 4 * hs;
    const T* __restrict gf = gi + hs;
    const T* __restrict gg = gf + hs;
    const T* __restrict go = gg + hs;
    T* __restrict di = dgates + row * 4 * hs;
    T* __restrict df = di + hs;
    T* __restrict dg = df + hs;
    T* __restrict dout = dg + hs;
    const T* __restrict cr = c + row * hs;
    const T* __restrict cp = kHasPrev ? c_prev + row * hs : nullptr;
    const T* __restrict dhr = dh + row * hs;
    const T* __restrict dhn = dh_next + row * hs;
    T* __restrict dcr = dc_carry + row * hs;
#pragma omp simd
    for (std::size_t j = 0; j < hs; ++j) {
      const auto grad = math::lstm_cell_backward(gi[j], gf[j], gg[j], go[j], cr[j], kHasPrev ? cp[j] : T(0),
                                                 dhr[j] + dhn[j], dcr[j]);
      di[j] = grad.da_i;
      df[j] = grad.da_f;
      dg[j] = grad.da_g;
      dout[j] = grad.da_o;
      dcr[j] = grad.dc_prev;
    }
  }
}

template <typename T>
[[gnu::always_inline]] inline void forward_step(int n, int hidden, T* gates, const T* c_prev, T* c, T* h) {
  if (c_prev)
    forward_rows<T, true>(n, hidden, gates, c_prev, c, h);
  else
    forward_rows<T, false>(n, hidden, gates, nullptr, c, h);
}

template <typename T>
[[gnu::always_inline]] inline void backward_step(int n, int hidden, const T* gates, const T* c, const T* c_prev,
                                                 const T* dh, const T* dh_next, T* dc_carry, T* dgates) {
  if (c_prev)
    backward_rows<T, true>(n, hidden, gates, c, c_prev, dh, dh_next, dc_carry, dgates);
  else
    backward_rows<T, false>(n, hidden, gates, c, nullptr, dh, dh_next, dc_carry, dgates);
}

// The clones have internal linkage: GCC (12) exports the resolver of a
// target_clones function whatever -fvisibility says, so the functions of
// cpu_kernels.hpp are plain ones that jump to them.
NOCTURNE_CPU_CLONES void forward_cells(int n, int hidden, float* gates, const float* c_prev, float* c, float* h) {
  forward_step(n, hidden, gates, c_prev, c, h);
}
NOCTURNE_CPU_CLONES void forward_cells(int n, int hidden, double* gates, const double* c_prev, double* c,
                                       double* h) {
  forward_step(n, hidden, gates, c_prev, c, h);
}
NOCTURNE_CPU_CLONES void backward_cells(int n, int hidden, const float* gates, const float* c, const float* c_prev,
                                        const float* dh, const float* dh_next, float* dc_carry, float* dgates) {
  backward_step(n, hidden, gates, c, c_prev, dh, dh_next, dc_carry, dgates);
}
NOCTURNE_CPU_CLONES void backward_cells(int n, int hidden, const double* gates, const double* c,
                                        const double* c_prev, const double* dh, const double* dh_next,
                                        double* dc_carry, double* dgates) {
  backward_step(n, hidden, gates, c, c_prev, dh, dh_next, dc_carry, dgates);
}

}  // namespace

void lstm_cells_forward(int n, int hidden, float* gates, const float* c_prev, float* c, float* h) {
  forward_cells(n, hidden, gates, c_prev, c, h);
}
void lstm_cells_forward(int n, int hidden, double* gates, const double* c_prev, double* c, double* h) {
  forward_cells(n, hidden, gates, c_prev, c, h);
}
void lstm_cells_backward(int n, int hidden, const float* gates, const float* c, const float* c_prev, const float* dh,
                         const float* dh_next, float* dc_carry, float* dgates) {
  backward_cells(n, hidden, gates, c, c_prev, dh, dh_next, dc_carry, dgates);
}
void lstm_cells_backward(int n, int hidden, const double* gates, const double* c, const double* c_prev,
                         const double* dh, const double* dh_next, double* dc_carry, double* dgates) {
  backward_cells(n, hidden, gates, c, c_prev, dh, dh_next, dc_carry, dgates);
}

}  // namespace nocturne::cpu
