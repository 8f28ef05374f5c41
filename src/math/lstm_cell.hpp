#pragma once
// One LSTM cell element, forward and backward (gate order i, f, g, o).
//   i = s(a_i)  f = s(a_f)  g = tanh(a_g)  o = s(a_o)
//   c = f * c_prev + i * g          h = o * tanh(c)

#include "math/host_device.hpp"

namespace nocturne::inline v0::math {

template <typename T>
struct CellForward {
  T i, f, g, o;  // activated gates (saved for backward)
  T c, h;
};

// a_*: pre-activations (x W + h_prev R + b) of one element's four gates.
template <typename T>
NOCTURNE_HD CellForward<T> lstm_cell_forward(T a_i, T a_f, T a_g, T a_o, T c_prev) {
  CellForward<T> out;
  out.i = sigmoid(a_i);
  out.f = sigmoid(a_f);
  out.g = tanh_of(a_g);
  out.o = sigmoid(a_o);
  out.c = out.f * c_prev + out.i * out.g;
  out.h = out.o * tanh_of(out.c);
  return out;
}

template <typename T>
struct CellBackward {
  T da_i, da_f, da_g, da_o;  // gradients of the pre-activations
  T dc_prev;                 // gradient flowing to the previous cell state
};

// dh: total gradient of h_t (from the layer above and from step t + 1);
// dc_next: gradient of c_t arriving from step t + 1. tanh(c) is recomputed
// rather than stored: one transcendental is cheaper than the memory.
template <typename T>
NOCTURNE_HD CellBackward<T> lstm_cell_backward(T i, T f, T g, T o, T c, T c_prev, T dh, T dc_next) {
  const T tanh_c = tanh_of(c);
  const T dc = dc_next + dh * o * (T(1) - tanh_c * tanh_c);
  CellBackward<T> out;
  out.da_i = dc * g * i * (T(1) - i);
  out.da_f = dc * c_prev * f * (T(1) - f);
  out.da_g = dc * i * (T(1) - g * g);
  out.da_o = dh * tanh_c * o * (T(1) - o);
  out.dc_prev = dc * f;
  return out;
}

}  // namespace nocturne::math
