#pragma once
// Where the four gates of an LSTM unit live in a [rows, 4H] tensor.
//
// Keras' layout (checkpoints, the classic path, the CPU reference): four
// blocks of H columns, gate g of unit u at column g * H + u (g = 0..3 for i,
// f, g, o). The fused path stores the gates of a unit side by side instead:
// gate g of unit u at column 4 u + g, so a tile of units holds every gate its
// cells need and the cell runs in the GEMM's epilogue. The fused path keeps
// W, R, b, their gradients, the saved gates and their gradients interleaved;
// the model converts at every upload and download, so checkpoints and the
// optimiser state keep Keras' layout. Adamax is elementwise: it does not care.

#include <cstddef>
#include <span>

#include "math/host_device.hpp"

namespace nocturne::inline v0::math {

inline constexpr int kGates = 4;

// Column of (gate, unit) in each layout.
NOCTURNE_HD constexpr std::size_t keras_gate_column(std::size_t gate, std::size_t unit, std::size_t hidden) {
  return gate * hidden + unit;
}
NOCTURNE_HD constexpr std::size_t interleaved_gate_column(std::size_t gate, std::size_t unit) {
  return unit * kGates + gate;
}

// The interleaved column that holds Keras column `column` (< 4 hidden), and back.
NOCTURNE_HD constexpr std::size_t interleaved_from_keras(std::size_t column, std::size_t hidden) {
  return interleaved_gate_column(column / hidden, column % hidden);
}
NOCTURNE_HD constexpr std::size_t keras_from_interleaved(std::size_t column, std::size_t hidden) {
  return keras_gate_column(column % kGates, column / kGates, hidden);
}

// out [rows, 4H] interleaved from in [rows, 4H] in Keras' layout. in and out
// must not overlap. Pure data movement: the round trip is exact.
template <typename T>
void interleave_gates(std::span<const T> in, std::span<T> out, std::size_t rows, std::size_t hidden) {
  const std::size_t cols = kGates * hidden;
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t c = 0; c < cols; ++c) out[r * cols + interleaved_from_keras(c, hidden)] = in[r * cols + c];
}

// out [rows, 4H] in Keras' layout from in [rows, 4H] interleaved.
template <typename T>
void deinterleave_gates(std::span<const T> in, std::span<T> out, std::size_t rows, std::size_t hidden) {
  const std::size_t cols = kGates * hidden;
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t c = 0; c < cols; ++c) out[r * cols + keras_from_interleaved(c, hidden)] = in[r * cols + c];
}

}  // namespace nocturne::math
