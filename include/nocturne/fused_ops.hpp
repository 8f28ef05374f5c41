#pragma once
// Arguments of the backend ops of the fused LSTM path (backend.hpp): a layer's
// recurrent GEMM and its cell in one op per time step, the network's head in
// one op, Adamax with its step count on the device, and token sampling on the
// device. The CPU backend implements them by composition (the reference); the
// CUDA backend with fused kernels (kernels/fused_kernels.hpp).
//
// Every [*, 4H] tensor of a layer on this path (W, R, b, their gradients, the
// saved gates and their gradients) is gate-interleaved: gate g of unit u at
// column 4 u + g (src/math/gate_layout.hpp). Pointers are device pointers of
// the backend; matrices are row-major; outputs are overwritten. Dimensions
// are `int` kernel dimensions, narrowed once and checked from the model's
// std::int64_t sizes (backend.hpp).

#include <cstdint>

#include "nocturne/export.hpp"

namespace nocturne::inline v0 {

// Which dropout mask to draw (see backend.hpp); defined there.
struct DropoutKey;

// One forward time step of one LSTM layer:
//   a[n, :] = x[n, :] W + h_prev[n, :] R + b          (interleaved columns)
//   i, f, g, o, c, h = math::lstm_cell_forward(a[n, 4u .. 4u+3], c_prev[n, u])
// With input == 1 the x W term is the rank-one x[n] * W[0, :], added in the
// epilogue in FP32 (never through reduced-precision operands).
template <typename T>
struct NOCTURNE_API LstmStepForward {
  int batch = 0;   // N
  int input = 0;   // F
  int hidden = 0;  // H
  const T* x = nullptr;       // [N, F]
  const T* w = nullptr;       // [F, 4H]
  const T* r = nullptr;       // [H, 4H]
  const T* b = nullptr;       // [4H]
  const T* h_prev = nullptr;  // [N, H]; null: the zero state (c_prev is then ignored)
  const T* c_prev = nullptr;  // [N, H]
  T* h = nullptr;             // [N, H] out
  T* c = nullptr;             // [N, H] out
  T* gates = nullptr;         // [N, 4H] out: the activated i, f, g, o
  // Optional inverted dropout of h (the next layer's input): h_dropped[n, u] =
  // h[n, u] * (keep ? 1 / (1 - p) : 0), keep = math::dropout_keep at element
  // index `dropout_index + n * H + u` of `dropout` (offset and offset_on_device
  // added as for dropout_forward). dropout_index = t * N * H draws exactly the
  // mask dropout_forward draws over the whole [T, N, H] sequence. Without a
  // key h_dropped is a copy of h.
  T* h_dropped = nullptr;  // [N, H] out, or null for none
  const DropoutKey* dropout = nullptr;
  T dropout_p = 0;
  std::uint64_t dropout_index = 0;
};

// All T forward steps of one LSTM layer from the zero state, as one op:
// exactly lstm_step_forward for t = 0 .. T - 1 with x_t = x + t N F, h_{t-1}
// and c_{t-1} the previous step's outputs (none at t = 0), outputs at
// h + t N H, c + t N H, gates + t N 4H, h_dropped + t N H, and dropout_index
// = t N H (the mask dropout_forward draws over the whole sequence). The
// default implementation is that loop of step ops (the reference); the CUDA
// backend's persistent path runs it as one kernel where the layer fits.
template <typename T>
struct NOCTURNE_API LstmSequenceForward {
  int steps = 0;   // T
  int batch = 0;   // N
  int input = 0;   // F
  int hidden = 0;  // H
  const T* x = nullptr;  // [T, N, F]
  const T* w = nullptr;  // [F, 4H]
  const T* r = nullptr;  // [H, 4H]
  const T* b = nullptr;  // [4H]
  T* h = nullptr;        // [T, N, H] out
  T* c = nullptr;        // [T, N, H] out
  T* gates = nullptr;    // [T, N, 4H] out
  T* h_dropped = nullptr;  // [T, N, H] out, or null for none
  const DropoutKey* dropout = nullptr;
  T dropout_p = 0;
};

// One backward time step of one LSTM layer (t from T - 1 down to 0):
//   dh_total[n, u] = dh[n, u] (* the dropout mask and scale, where given)
//                    + sum_j dgates_next[n, j] R[u, j]
//   da, dc_prev = math::lstm_cell_backward(gates[n, 4u .. 4u+3], c, c_prev, dh_total, dc)
// dgates_next == null marks the last step: no recurrent term and a zero
// incoming cell gradient (dc is then only written).
// Partial sums for the parameter gradients that need no GEMM, in a fixed
// order (deterministic): the backend splits the N rows into
// lstm_partial_blocks(N) blocks of consecutive rows and writes, for block p,
// db_partial[p, j] = sum over its rows of da[n, j] and, where x is given
// (input == 1), dw_partial[p, j] = sum over its rows of x[n] da[n, j].
// lstm_partials_reduce adds them over steps and blocks.
template <typename T>
struct NOCTURNE_API LstmStepBackward {
  int batch = 0;   // N
  int hidden = 0;  // H
  const T* r = nullptr;            // [H, 4H]
  const T* dgates_next = nullptr;  // [N, 4H] step t + 1's da; null at the last step
  const T* dh = nullptr;           // [N, H] the gradient from above; null: zero
  // Where the layer's output went through dropout before the layer above: dh
  // is the gradient of the dropped values and is masked here with the forward
  // step's key and index (LstmStepForward::h_dropped).
  const DropoutKey* dropout = nullptr;
  T dropout_p = 0;
  std::uint64_t dropout_index = 0;
  const T* gates = nullptr;   // [N, 4H] this step's activated gates
  const T* c = nullptr;       // [N, H] c_t
  const T* c_prev = nullptr;  // [N, H] c_{t-1}; null at t = 0 (zero state)
  T* dc = nullptr;            // [N, H] in: c_t's gradient from step t + 1; out: c_{t-1}'s
  T* dgates = nullptr;        // [N, 4H] out: da
  T* db_partial = nullptr;    // [P, 4H] out
  const T* x = nullptr;       // [N] this step's scalar input (input == 1), or null
  T* dw_partial = nullptr;    // [P, 4H] out where x is given
};

// All T backward steps of one LSTM layer, t = T - 1 down to 0, as one op:
// exactly lstm_step_backward for each t with gates + t N 4H, c + t N H,
// c_prev = c + (t - 1) N H (none at t = 0), dgates_next = dgates + (t + 1) N 4H
// (none at t = T - 1), dgates + t N 4H, db_partial + t P 4H (P =
// lstm_partial_blocks(N)), x + t N and dw_partial + t P 4H where x is given,
// the dropout mask at dropout_index = t N H (the forward's), and dh: dh + t N H
// where dh is given, else dh_last at the last step alone (a head that reads
// only h_{T-1}), else none. dc is the carry between the steps (its final
// value is c_{-1}'s gradient, of no use). The default implementation is that
// loop of step ops (the reference); the CUDA backend's persistent path runs
// it as one kernel where the layer fits.
template <typename T>
struct NOCTURNE_API LstmSequenceBackward {
  int steps = 0;   // T
  int batch = 0;   // N
  int hidden = 0;  // H
  const T* r = nullptr;        // [H, 4H]
  const T* dh = nullptr;       // [T, N, H] the gradient from above, or null
  const T* dh_last = nullptr;  // [N, H] the last step's, where dh is null; null: zero
  const DropoutKey* dropout = nullptr;  // masks dh (or dh_last) as LstmStepBackward::dropout
  T dropout_p = 0;
  const T* gates = nullptr;  // [T, N, 4H] the forward's activated gates
  const T* c = nullptr;      // [T, N, H] the forward's c
  T* dc = nullptr;           // [N, H] scratch: the cell-gradient carry
  T* dgates = nullptr;       // [T, N, 4H] out: da
  T* db_partial = nullptr;   // [T, P, 4H] out
  const T* x = nullptr;      // [T, N] the scalar inputs (input == 1), or null
  T* dw_partial = nullptr;   // [T, P, 4H] out where x is given
};

// The head of the recipe's network for a training step, forward and backward:
//   y1 = x W1 + b1;  y1_dropped = dropout(y1);  logits = y1_dropped W2 + b2
//   dlogits = (softmax(logits) - onehot(target)) * grad_scale
//   stats[0] += sum of -log softmax[target]; stats[1] += rows whose first maximum is the target
//   dW2 = y1_dropped^T dlogits, db2 = column sums of dlogits,
//   dy1 = dropout_backward(dlogits W2^T), dW1 = x^T dy1, db1 = column sums of dy1, dx = dy1 W1^T.
// y1, y1_dropped, logits, dlogits and dy1 are the caller's scratch, left
// holding those values (the GPU hands them from one kernel to the next).
template <typename T>
struct NOCTURNE_API HeadTrainStep {
  int batch = 0;  // N
  int input = 0;  // K: layer 2's hidden size
  int dense = 0;  // D
  int vocab = 0;  // V
  const T* x = nullptr;   // [N, K]: layer 2's last h
  const T* w1 = nullptr;  // [K, D]
  const T* b1 = nullptr;  // [D]
  const T* w2 = nullptr;  // [D, V]
  const T* b2 = nullptr;  // [V]
  const std::int32_t* targets = nullptr;  // [N]
  const DropoutKey* dropout = nullptr;    // the mask of y1 (element n * D + d); null or p == 0: none
  T dropout_p = 0;
  T grad_scale = 1;
  T label_smoothing = 0;    // as softmax_cross_entropy_smoothed
  T* y1 = nullptr;          // [N, D] scratch
  T* y1_dropped = nullptr;  // [N, D] scratch
  T* logits = nullptr;      // [N, V] scratch
  T* dlogits = nullptr;     // [N, V] scratch
  T* dy1 = nullptr;         // [N, D] scratch
  T* dx = nullptr;          // [N, K] out
  T* dw1 = nullptr;         // [K, D] out
  T* db1 = nullptr;         // [D] out
  T* dw2 = nullptr;         // [D, V] out
  T* db2 = nullptr;         // [V] out
  double* stats = nullptr;  // [2] added to
};

// Token sampling on the device, as choose_token (nocturne/generate.hpp) does
// it on the host: the same ranking, the same uniform
// random_uniform(seed, first_stream + s, *note) for stream s, the same choice
// (the steps of src/math/sampling.hpp). A row without a positive finite
// probability, where choose_token throws, gives math::kNoToken (-1) in chosen
// and history and token 0 in tokens (so the next step's input stays in
// range); the host reports it when it reads the tokens back.
template <typename T>
struct NOCTURNE_API SampleTokens {
  int streams = 0;  // S
  int vocab = 0;    // V
  const T* probs = nullptr;  // [S, V]: each stream's probabilities (any non-negative weights)
  bool greedy = true;
  double temperature = 1.0;
  int top_k = 0;
  double top_p = 1.0;
  std::uint64_t seed = 0;
  std::uint32_t first_stream = 0;
  // The note being chosen (index of the uniform), read when the op runs and
  // incremented by one after the choice.
  std::uint64_t* note = nullptr;
  std::int32_t* chosen = nullptr;  // [S] out
  // Optional: the choice also written for every slot, tokens[k * S + s] for
  // k < slots (the window predictor's next input), and appended to
  // history[*note * S + s] (history holds history_notes rows; a note past it
  // is not recorded).
  std::int32_t* tokens = nullptr;
  int slots = 0;
  std::int32_t* history = nullptr;
  std::int64_t history_notes = 0;
};

// Several notes of the window predictor's generation (window_predictor.hpp)
// in one op, where the backend has a kernel for it (the CUDA backend's
// persistent path): for each of `notes` notes, note n = first_note + k of
// stream s is chosen from the current prediction as SampleTokens chooses it
// (uniform random_uniform(seed, first_stream + s, n)), written to
// history[n S + s] (kNoToken for a row without a positive finite
// probability), and pushed: every slot one step on from state buffer
// `current` into the other (slot 0 of both zero), then the head on slot W,
// which leaves the next prediction's logits. The last note is only chosen
// where push_last is false. The model's input is scalar (token / V).
template <typename T>
struct NOCTURNE_API GenerateNotes {
  int streams = 0;  // S
  int window = 0;   // W
  int hidden1 = 0, hidden2 = 0, dense = 0, vocab = 0;
  const T *w1 = nullptr, *r1 = nullptr, *b1 = nullptr;  // layer 1, gate-interleaved: [1, 4 H1], [H1, 4 H1], [4 H1]
  const T *w2 = nullptr, *r2 = nullptr, *b2 = nullptr;  // layer 2: [H1, 4 H2], [H2, 4 H2], [4 H2]
  const T *dense1_w = nullptr, *dense1_b = nullptr;     // [H2, D], [D]
  const T *dense2_w = nullptr, *dense2_b = nullptr;     // [D, V], [V]
  T* h1[2] = {nullptr, nullptr};  // [(W + 1) S, H1]: the state buffers, slot-major (row = slot S + stream)
  T* c1[2] = {nullptr, nullptr};
  T* h2[2] = {nullptr, nullptr};  // [(W + 1) S, H2]
  T* c2[2] = {nullptr, nullptr};
  int current = 0;       // the buffer that holds the state on entry
  T* y1 = nullptr;       // [S, D] scratch
  T* logits = nullptr;   // [S, V] in: the current prediction's logits (head_predict's); out: the last push's
  T* probs = nullptr;    // [S, V] out: the probabilities of the last note chosen
  bool greedy = true;
  double temperature = 1.0;
  int top_k = 0;
  double top_p = 1.0;
  std::uint64_t seed = 0;
  std::uint32_t first_stream = 0;
  std::int64_t first_note = 0;
  int notes = 0;
  bool push_last = true;
  std::int32_t* history = nullptr;  // [history_notes, S]
  std::int64_t history_notes = 0;
};

// ---- both layers' forward sequences in one op ------------------------------
// Layer 1's and layer 2's whole forward sequences, layer 2's input being
// layer 1's output: layer2.x == layer1.h_dropped where layer 1 drops, else
// layer1.h, with layer2.input == layer1.hidden and the same steps and batch
// (a ShapeError otherwise). Exactly lstm_sequence_forward(layer1), then
// lstm_sequence_forward(layer2): the default implementation, so every
// backend gives those results; the CUDA backend's persistent path runs both
// in one cooperative launch where they fit (strict FP32: layer 2's step t
// beside layer 1's later steps, a wavefront), else those two ops.
template <typename T>
struct NOCTURNE_API LstmSequencesForward {
  LstmSequenceForward<T> layer1;
  LstmSequenceForward<T> layer2;
};

}  // namespace nocturne
