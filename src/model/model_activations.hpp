#pragma once
// The model's device buffers for one batch of up to max_batch windows,
// allocated once (model.cpp), and read by the classic path (model.cpp) and
// the fused path's step programs (model_fused.cpp). Buffers one path does
// not use stay empty.

#include "nocturne/model.hpp"

namespace nocturne::inline v0 {

template <typename T>
struct BasicModel<T>::Activations {
  Buffer<std::int32_t> tokens, targets;
  Buffer<std::uint64_t> dropout_offset;  // read by the dropout ops when they run
  Buffer<T> x1;                          // [W, N, F] layer-1 input
  Buffer<T> h1, c1, g1;                  // layer 1: [W, N, H1] x2, [W, N, 4 H1]
  Buffer<T> drop1;                       // dropout of h1: layer-2 input
  Buffer<T> h2, c2, g2;                  // layer 2
  Buffer<T> y1, drop2;                   // dense 1 output [N, D] and its dropout
  Buffer<T> logits, probs;               // [N, V]
  Buffer<T> d_logits, d_drop2, d_y1;     // backward through the head
  Buffer<T> d_drop1, d_x1;               // [W, N, H1] layer 2's dx; [W, N, F] (embedding only)
  Buffer<double> stats;                  // [2]: loss sum, correct count

  // Classic path only.
  Buffer<T> d_h2;       // [W, N, H2]: zero except the last step
  Buffer<T> d_h1;       // [W, N, H1]
  Buffer<T> workspace;  // lstm_backward's
  // Variational dropout (classic path): the masks of this step ([N, F],
  // [N, H1] for the inputs of layers 1 and 2; [N, H1], [N, H2] for their
  // recurrent states), drawn from `ones`; the masked inputs; the masked states.
  Buffer<T> ones, in_mask1, in_mask2, rec_mask1, rec_mask2;
  Buffer<T> x1_masked, in2_masked;  // [W, N, F], [W, N, H1]
  Buffer<T> h1_masked, h2_masked;   // [W, N, H1], [W, N, H2]

  // Fused path only: each layer's own backward buffers, so that the two
  // branches of a step program never share one.
  Buffer<T> d_h2_last;          // [N, H2] the head's dx
  Buffer<T> dg1, dg2;           // [W, N, 4 H] gate gradients of every step (interleaved)
  Buffer<T> dc1, dc2;           // [N, H] the cell gradient carried from step to step
  Buffer<T> db1_partial, dw1_partial, db2_partial;  // [W, P, 4 H]
  Buffer<std::int64_t> adamax_step;  // the step count adamax_device_step reads
};

}  // namespace nocturne
