#pragma once
// The per-element epilogues of the fused LSTM step (nocturne/fused_ops.hpp),
// shared by the CUDA kernels (kernels/lstm_step_*.cu), their host simulation
// and the CPU backend, on top of lstm_cell.hpp.
//
// Forward, one unit of one row: the GEMM's four sums (h_prev R, plus x W when
// F > 1; interleaved columns 4u .. 4u + 3) get the bias and, when F == 1, the
// rank-one input term x w in FP32 with one rounding (never through
// reduced-precision operands): a = fma(x, w, sum + b). Then the cell, and the
// optional dropout of h for the next layer.
// Backward: h_t's gradient is the masked gradient from above plus the
// recurrent sum dgates_next R^T; the cell gives da and the carry dc.
// Parameter-gradient partial sums add rows in increasing order: db += da,
// dw = fma(x, da, dw).

#include <cstdint>

#include "math/host_device.hpp"
#include "math/lstm_cell.hpp"
#include "math/philox.hpp"

namespace nocturne::inline v0::math {

// One unit's pre-activation of gate k: sum + bias (F > 1 or no input term)...
template <typename T>
NOCTURNE_HD T fused_preactivation(T sum, T bias) {
  return sum + bias;
}
// ... and with the rank-one input term of F == 1.
template <typename T>
NOCTURNE_HD T fused_preactivation(T sum, T bias, T x, T w) {
  return fma_of(x, w, sum + bias);
}

// Forward cell of one unit from its four GEMM sums (i, f, g, o), its biases,
// and, where w is given, the scalar input x with the unit's four input
// weights. c_prev is 0 for the zero state.
template <typename T>
NOCTURNE_HD CellForward<T> lstm_fused_forward(const T* sum, const T* bias, T x, const T* w, T c_prev) {
  if (w)
    return lstm_cell_forward(
        fused_preactivation(sum[0], bias[0], x, w[0]), fused_preactivation(sum[1], bias[1], x, w[1]),
        fused_preactivation(sum[2], bias[2], x, w[2]), fused_preactivation(sum[3], bias[3], x, w[3]), c_prev);
  return lstm_cell_forward(fused_preactivation(sum[0], bias[0]), fused_preactivation(sum[1], bias[1]),
                           fused_preactivation(sum[2], bias[2]), fused_preactivation(sum[3], bias[3]), c_prev);
}

// Inverted dropout's factor of element `index` of a mask: 1 / (1 - p) where
// kept (scale, computed once by the caller as T(1) / (T(1) - p)), else 0.
template <typename T>
NOCTURNE_HD T dropout_factor(std::uint64_t seed, std::uint32_t stream, std::uint64_t index, float p, T scale) {
  return dropout_keep(seed, stream, index, p) ? scale : T(0);
}

// h_t's total gradient: the (masked) gradient from above plus the recurrent sum.
template <typename T>
NOCTURNE_HD T fused_dh_total(T dh_above, T recurrent) {
  return dh_above + recurrent;
}

// One row's share of the partial sums of one gate column.
template <typename T>
NOCTURNE_HD void add_bias_partial(T& db, T da) {
  db = db + da;
}
template <typename T>
NOCTURNE_HD void add_input_partial(T& dw, T x, T da) {
  dw = fma_of(x, da, dw);
}

}  // namespace nocturne::math
