// The fused LSTM path's ops on the CPU (nocturne/fused_ops.hpp), by
// composition of the classic ops' pieces: the same input projection, GEMMs
// and cell loops as lstm_step and lstm_backward, run on gate-interleaved
// columns. The cell loops take their gates in Keras' blocks, so each step
// copies its rows into that order and back; the arithmetic is then the
// classic path's, term for term, and a fused step in double agrees with the
// classic one to the last bits the column order of the GEMMs leaves.
// Differences from the GPU's kernels: the sums' order (b + x W first, then
// h_prev R, as lstm_step adds them) and the partial blocks' size.

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "cpu/cpu_backend.hpp"
#include "core/fused_op_checks.hpp"
#include "cpu/cpu_kernels.hpp"
#include "math/gate_layout.hpp"
#include "math/sampling.hpp"
#include "nocturne/generate.hpp"

namespace nocturne::inline v0::cpu {
namespace {

// Rows per block of lstm_step_backward's partial sums.
constexpr int kPartialRows = 64;

// The mask index of element 0: the key's offset, the value its device
// pointer (host memory here) holds when the op runs, and the op's own index.
std::uint64_t mask_offset(const DropoutKey& key, std::uint64_t index) {
  return key.offset + (key.offset_on_device ? *key.offset_on_device : 0) + index;
}

// out = in masked and scaled as dropout_forward(key) does at element `index` on; p == 0 or no key: a copy.
template <typename T>
void masked_copy(const DropoutKey* key, T p, std::uint64_t index, std::size_t n, const T* in, T* out) {
  if (!key || p == T(0)) {
    if (in != out) std::memcpy(out, in, n * sizeof(T));
    return;
  }
  dropout_apply(key->seed, key->stream, mask_offset(*key, index), float(p), T(1) / (T(1) - p), n, in, out,
                cpu_threads());
}

}  // namespace

template <typename T>
void CpuBackend<T>::lstm_step_forward(const LstmStepForward<T>& s) {
  checks::lstm_step_forward(s);
  const int n = s.batch, hidden = s.hidden, width = 4 * hidden;
  const std::size_t cells = std::size_t(n) * std::size_t(hidden), gate_count = 4 * cells;

  // Pre-activations, interleaved: b + x W (unrounded for F == 1), then + h_prev R.
  input_projection(n, s.input, width, s.x, s.w, s.b, s.gates);
  if (s.h_prev) weight_gemm(n, width, hidden, s.h_prev, s.r, T(1), s.gates);
  T* blocked = scratch(gate_count);
  math::deinterleave_gates<T>({s.gates, gate_count}, {blocked, gate_count}, std::size_t(n), std::size_t(hidden));
  lstm_cells_forward(n, hidden, blocked, s.h_prev ? s.c_prev : nullptr, s.c, s.h);
  math::interleave_gates<T>({blocked, gate_count}, {s.gates, gate_count}, std::size_t(n), std::size_t(hidden));
  if (s.h_dropped) masked_copy(s.dropout, s.dropout_p, s.dropout_index, cells, s.h, s.h_dropped);
}

template <typename T>
void CpuBackend<T>::lstm_step_backward(const LstmStepBackward<T>& s) {
  checks::lstm_step_backward(s, lstm_partial_blocks(s.batch));
  weights_may_change();
  const int n = s.batch, hidden = s.hidden, width = 4 * hidden;
  const std::size_t cells = std::size_t(n) * std::size_t(hidden), gate_count = 4 * cells;
  T* recurrent = scratch(2 * cells + 2 * gate_count);
  T* dh = recurrent + cells;
  T* blocked = dh + cells;
  T* dblocked = blocked + gate_count;

  // h_t's gradient: from above (masked where the output was dropped) plus,
  // except at the last step, dgates_{t+1} R^T; c_t's from step t + 1 in dc.
  if (s.dgates_next) {
    gemm(Transpose::no, Transpose::yes, n, hidden, width, T(1), s.dgates_next, width, s.r, width, T(0), recurrent,
         hidden);
  } else {
    std::fill(recurrent, recurrent + cells, T(0));
    std::fill(s.dc, s.dc + cells, T(0));
  }
  if (s.dh)
    masked_copy(s.dropout, s.dropout_p, s.dropout_index, cells, s.dh, dh);
  else
    std::fill(dh, dh + cells, T(0));
  math::deinterleave_gates<T>({s.gates, gate_count}, {blocked, gate_count}, std::size_t(n), std::size_t(hidden));
  lstm_cells_backward(n, hidden, blocked, s.c, s.c_prev, dh, recurrent, s.dc, dblocked);
  math::interleave_gates<T>({dblocked, gate_count}, {s.dgates, gate_count}, std::size_t(n), std::size_t(hidden));

  // Per block of rows, in increasing row order: db and (F == 1) dW partial sums.
  const int blocks = lstm_partial_blocks(n);
  const std::size_t w = std::size_t(width);
  for (int p = 0; p < blocks; ++p) {
    const int first = p * kPartialRows, last = std::min(n, first + kPartialRows);
    T* db = s.db_partial + std::size_t(p) * w;
    T* dw = s.x ? s.dw_partial + std::size_t(p) * w : nullptr;
    std::fill(db, db + w, T(0));
    if (dw) std::fill(dw, dw + w, T(0));
    for (int row = first; row < last; ++row) {
      const T* da = s.dgates + std::size_t(row) * w;
      for (std::size_t j = 0; j < w; ++j) db[j] += da[j];
      if (!dw) continue;
      const T xv = s.x[row];
      for (std::size_t j = 0; j < w; ++j) dw[j] += xv * da[j];
    }
  }
}

template <typename T>
int CpuBackend<T>::lstm_partial_blocks(int batch) const {
  checks::require_positive("lstm_partial_blocks", "batch", batch);
  return (batch + kPartialRows - 1) / kPartialRows;
}

template <typename T>
void CpuBackend<T>::lstm_partials_reduce(int steps, int blocks, int cols, const T* partials, T* out) {
  checks::lstm_partials_reduce(steps, blocks, cols, partials, out);
  const std::size_t c = std::size_t(cols), rows = std::size_t(steps) * std::size_t(blocks);
  std::fill(out, out + c, T(0));
  for (std::size_t row = 0; row < rows; ++row)  // (t, p) in lexicographic order
    for (std::size_t j = 0; j < c; ++j) out[j] += partials[row * c + j];
}

template <typename T>
void CpuBackend<T>::head_train_step(const HeadTrainStep<T>& h) {
  checks::head_train_step(h);
  const int n = h.batch;
  const std::size_t dense_values = std::size_t(n) * std::size_t(h.dense);
  // The classic path's ops in its order: the same values, bit for bit.
  dense_forward(n, h.input, h.dense, h.x, h.w1, h.b1, h.y1);
  masked_copy(h.dropout, h.dropout_p, 0, dense_values, h.y1, h.y1_dropped);
  dense_forward(n, h.dense, h.vocab, h.y1_dropped, h.w2, h.b2, h.logits);
  softmax_cross_entropy_smoothed(n, h.vocab, h.logits, h.targets, h.label_smoothing, h.grad_scale, h.dlogits,
                                 h.stats);
  dense_backward(n, h.dense, h.vocab, h.y1_dropped, h.w2, h.dlogits, h.dy1, h.dw2, h.db2);
  masked_copy(h.dropout, h.dropout_p, 0, dense_values, h.dy1, h.dy1);
  dense_backward(n, h.input, h.dense, h.x, h.w1, h.dy1, h.dx, h.dw1, h.db1);
}

template <typename T>
void CpuBackend<T>::head_predict(int n, int input, int dense, int vocab, const T* x, const T* w1, const T* b1,
                                 const T* w2, const T* b2, T* y1, T* logits, T* probs) {
  checks::head_predict(n, input, dense, vocab, {x, w1, b1, w2, b2, y1, logits, probs});
  dense_forward(n, input, dense, x, w1, b1, y1);
  dense_forward(n, dense, vocab, y1, w2, b2, logits);
  softmax(n, vocab, logits, probs);
}

template <typename T>
void CpuBackend<T>::adamax_device_step(std::size_t n, T* params, const T* grads, T* m, T* u, const AdamaxParams& hp,
                                       const std::int64_t* step_on_device) {
  if (!checks::adamax_device_step(n, params, grads, m, u, hp, step_on_device)) return;
  adamax(n, params, grads, m, u, hp, *step_on_device);
}

template <typename T>
void CpuBackend<T>::sample_tokens(const SampleTokens<T>& r) {
  checks::sample_tokens(r);
  const math::SamplingRule rule{r.greedy, r.temperature, r.top_k, r.top_p};
  const std::uint64_t note = *r.note;
  const std::size_t streams = std::size_t(r.streams), vocab = std::size_t(r.vocab);
  std::vector<float> row(vocab);  // the steps rank float rows (the model's)
  std::vector<double> weight(vocab);
  std::vector<std::int32_t> order(vocab);
  for (std::size_t s = 0; s < streams; ++s) {
    const T* p = r.probs + s * vocab;
    std::copy(p, p + vocab, row.begin());
    const std::int32_t chosen = math::choose_token_row(row.data(), r.vocab, rule, r.seed,
                                                       r.first_stream + std::uint32_t(s), note, weight.data(),
                                                       order.data());
    r.chosen[s] = chosen;
    // A row without a candidate (kNoToken) still leaves a valid next input.
    const std::int32_t next = chosen == math::kNoToken ? 0 : chosen;
    for (std::size_t k = 0; r.tokens && k < std::size_t(r.slots); ++k) r.tokens[k * streams + s] = next;
    if (r.history && note < std::uint64_t(r.history_notes)) r.history[note * streams + s] = chosen;
  }
  *r.note = note + 1;
}

#define NOCTURNE_CPU_FUSED_INSTANTIATE(T)                                                                          \
  template void CpuBackend<T>::lstm_step_forward(const LstmStepForward<T>&);                                      \
  template void CpuBackend<T>::lstm_step_backward(const LstmStepBackward<T>&);                                    \
  template int CpuBackend<T>::lstm_partial_blocks(int) const;                                                      \
  template void CpuBackend<T>::lstm_partials_reduce(int, int, int, const T*, T*);                                  \
  template void CpuBackend<T>::head_train_step(const HeadTrainStep<T>&);                                           \
  template void CpuBackend<T>::head_predict(int, int, int, int, const T*, const T*, const T*, const T*, const T*,  \
                                            T*, T*, T*);                                                           \
  template void CpuBackend<T>::adamax_device_step(std::size_t, T*, const T*, T*, T*, const AdamaxParams&,          \
                                                  const std::int64_t*);                                            \
  template void CpuBackend<T>::sample_tokens(const SampleTokens<T>&);                                              \

NOCTURNE_CPU_FUSED_INSTANTIATE(float)
NOCTURNE_CPU_FUSED_INSTANTIATE(double)
#undef NOCTURNE_CPU_FUSED_INSTANTIATE

}  // namespace nocturne::cpu
