// LSTM over a whole sequence: the GEMM-per-step design, or the AVX-512
// kernels (cpu_lstm_fp32.cpp, cpu_lstm_bf16.cpp) where the mode has them.
// Forward: the input projection of all steps at once, then per step one
// recurrent GEMM and one fused cell loop. Backward: per step the cell loop
// and the GEMM that carries dh to the previous step; the weight gradients
// are batched over all steps after the loop (three large GEMMs).

#include <chrono>
#include <cstddef>

#include "cpu/cpu_backend.hpp"
#include "cpu/cpu_kernels.hpp"

namespace nocturne::inline v0::cpu {
namespace {

// Below this input width the input projection is a plain loop: a GEMM with
// K = 1 (the recipe's scalar input) wastes most of its time packing.
constexpr int kLoopInputWidth = 8;
// From this many rows (steps x batch) a sequence runs on the FP32 (or BF16) kernels.
// Below, packing R and W would cost about as much as the sequence, and with R
// as stored the kernels ran the recipe's 40-step pass at batch 1 at half the
// SGEMM path's speed (its GEMVs stream R's rows whole).
constexpr int kKernelRows = 256;

}  // namespace

// The loop adds x W unrounded; in a reduced math mode only the rank-one
// input (F == 1) takes it, as the GPU folds that term into its epilogue in
// FP32: wider inputs are a GEMM's operands and rounded like any other.
template <typename T>
void CpuBackend<T>::input_projection(int rows, int input, int width, const T* x, const T* w, const T* b, T* gates) {
  broadcast_rows(std::size_t(rows), std::size_t(width), b, gates);
  if (input >= kLoopInputWidth || (input > 1 && options_.math != MathMode::strict_fp32)) {
    weight_gemm(rows, width, input, x, w, T(1), gates);
    return;
  }
  for (std::size_t r = 0; r < std::size_t(rows); ++r) {
    T* out = gates + r * width;
    for (std::size_t f = 0; f < std::size_t(input); ++f) {
      const T xv = x[r * input + f];
      const T* wf = w + f * width;
      for (std::size_t j = 0; j < std::size_t(width); ++j) out[j] += xv * wf[j];
    }
  }
}

template <typename T>
bool CpuBackend<T>::pack_recurrent(Transpose trans_r, int k, int n, const T* r) {
  if constexpr (sizeof(T) == sizeof(float)) {
    if (bf16_kernels_) {
      bf16_pack_b(trans_r, k, n, r, trans_r == Transpose::no ? n : k, packed_r_);
      return true;
    }
  }
  return false;
}

template <typename T>
void CpuBackend<T>::recurrent_gemm(bool packed, Transpose trans_r, int m, int n, int k, const T* a, const T* r,
                                   T beta, T* c) {
  if constexpr (sizeof(T) == sizeof(float)) {
    if (packed) return bf16_gemm_packed(bf16_packing_, Transpose::no, m, 1.0f, a, k, packed_r_, beta, c, n);
  }
  gemm(Transpose::no, trans_r, m, n, k, T(1), a, k, r, trans_r == Transpose::no ? n : k, beta, c, n);
}

template <typename T>
void CpuBackend<T>::lstm_forward(const LstmShape& s, const T* x, const T* w, const T* r, const T* b, T* h, T* c,
                                 T* gates) {
  checks::lstm_forward(s, {x, w, r, b, h, c, gates});
  lstm_forward_masked(s, x, w, r, b, nullptr, nullptr, h, c, gates);
}

// Variational dropout of the recurrent state: step t's recurrent GEMM takes
// h_{t-1} * mask, kept in h_masked for the backward's dR.
template <typename T>
void CpuBackend<T>::lstm_forward_masked(const LstmShape& s, const T* x, const T* w, const T* r, const T* b,
                                        const T* mask, T* h_masked, T* h, T* c, T* gates) {
  checks::lstm_forward(s, {x, w, r, b, h, c, gates});
  if (mask) checks::require_pointers("lstm_forward_masked", "h_masked", {h_masked});
  weights_may_change();  // a training op
  const int n = s.batch, hidden = s.hidden, width = 4 * s.hidden;
  const std::size_t step_h = std::size_t(n) * hidden, step_g = std::size_t(n) * width;

  if constexpr (sizeof(T) == sizeof(float)) {
    if ((fp32_kernels_ || bf16_lstm_kernels_) && s.steps * n >= kKernelRows) {
      const bool bf16 = !fp32_kernels_;
      LstmRecurrence seq;
      seq.steps = s.steps;
      seq.batch = n;
      seq.input = s.input;
      seq.hidden = hidden;
      seq.x = x;
      seq.w = w;
      seq.b = b;
      // BF16: x W in FP32 for the rank-one input only, as input_projection adds it in this mode.
      seq.fold_input = bf16 ? s.input == 1 : s.input < kLoopInputWidth;
      seq.mask = mask;
      seq.h_masked = h_masked;
      seq.h = h;
      seq.c = c;
      seq.gates = gates;
      auto span = phases_.span(kPartRecurrentFused);
      if (bf16) {
        pack_recurrent_forward_bf16(hidden, hidden, r, packed_bf16_r_);
        if (!seq.fold_input) pack_recurrent_forward_bf16(s.input, hidden, w, packed_bf16_w_);
        lstm_recurrence_forward_bf16(seq, packed_bf16_r_, packed_bf16_w_, kernel_threads());
      } else {
        pack_recurrent_forward(hidden, hidden, r, packed_fp32_);
        if (!seq.fold_input) pack_recurrent_forward(s.input, hidden, w, packed_w_);
        lstm_recurrence_forward(seq, packed_fp32_, packed_w_, kernel_threads());
      }
      return;
    }
  }
  {
    auto span = phases_.span(kPartInputProjection);
    input_projection(s.steps * n, s.input, width, x, w, b, gates);
  }
  bool packed = false;
  if (s.steps > 1) {
    auto span = phases_.span(kPartRecurrentGemm);
    packed = pack_recurrent(Transpose::no, hidden, width, r);
  }
  for (int t = 0; t < s.steps; ++t) {
    T* gates_t = gates + t * step_g;
    const T* h_prev = t > 0 ? (mask ? h_masked : h) + (t - 1) * step_h : nullptr;
    const T* c_prev = t > 0 ? c + (t - 1) * step_h : nullptr;
    if (h_prev) {
      auto span = phases_.span(kPartRecurrentGemm);
      recurrent_gemm(packed, Transpose::no, n, width, hidden, h_prev, r, T(1), gates_t);
    }
    auto span = phases_.span(kPartCells);
    lstm_cells_forward(n, hidden, gates_t, c_prev, c + t * step_h, h + t * step_h);
    if (mask) mask_steps(1, step_h, mask, h + t * step_h, h_masked + t * step_h);
  }
}

template <typename T>
void CpuBackend<T>::lstm_backward(const LstmShape& s, const T* x, const T* w, const T* r, const T* h, const T* c,
                                  const T* gates, const T* dh, T* dx, T* dw, T* dr, T* db, T* workspace) {
  lstm_backward_masked(s, x, w, r, nullptr, nullptr, h, c, gates, dh, dx, dw, dr, db, workspace);
}

// With a recurrent mask: h_{t-1}'s gradient from the recurrence is
// (dgates_t R^T) * mask, and dR sums h_masked_{t-1}^T dgates_t.
template <typename T>
void CpuBackend<T>::lstm_backward_masked(const LstmShape& s, const T* x, const T* w, const T* r, const T* mask,
                                         const T* h_masked, const T* h, const T* c, const T* gates, const T* dh,
                                         T* dx, T* dw, T* dr, T* db, T* workspace) {
  checks::lstm_backward(s, {x, w, r, h, c, gates, dh, dw, dr, db, workspace});
  if (mask) checks::require_pointers("lstm_backward_masked", "h_masked", {h_masked});
  weights_may_change();
  const int n = s.batch, hidden = s.hidden, width = 4 * s.hidden, input = s.input;
  const int rows = s.steps * n;
  const std::size_t step_h = std::size_t(n) * hidden, step_g = std::size_t(n) * width;

  // Workspace: dgates [T, N, 4H], then dh_next [N, H] and dc_carry [N, H].
  T* dgates = workspace;
  T* dh_next = workspace + s.steps * step_g;
  T* dc_carry = dh_next + step_h;
  for (std::size_t i = 0; i < 2 * step_h; ++i) dh_next[i] = T(0);

  bool fused = false;
  if constexpr (sizeof(T) == sizeof(float)) {
    if ((fp32_kernels_ || bf16_lstm_kernels_) && s.steps * n >= kKernelRows) {
      const bool bf16 = !fp32_kernels_;
      LstmRecurrenceBackward seq;
      seq.steps = s.steps;
      seq.batch = n;
      seq.hidden = hidden;
      seq.gates = gates;
      seq.c = c;
      seq.dh = dh;
      seq.mask = mask;
      seq.dgates = dgates;
      seq.dh_next = dh_next;
      seq.dc_carry = dc_carry;
      if (bf16 || options_.fp32_thread_weight_gradients) {
        // The weight gradients in the kernels' threads, each on a block of steps.
        seq.input = input;
        seq.x = x;
        seq.w = w;
        seq.h_prev = mask ? h_masked : h;
        seq.dw = dw;
        seq.dr = dr;
        seq.db = db;
        seq.dx = dx;
        weight_partials_.resize(lstm_weight_partials_size(kernel_threads(), input, hidden));
        seq.partials = weight_partials_.data();
        const auto start = PhaseClock::Clock::now();
        if (s.steps > 1) {
          if (bf16) pack_recurrent_backward_bf16(hidden, r, packed_bf16_r_);
          else pack_recurrent_backward(hidden, r, packed_fp32_);
        }
        const double pack_ms = std::chrono::duration<double, std::milli>(PhaseClock::Clock::now() - start).count();
        const LstmBackwardTimes times =
            bf16 ? lstm_recurrence_backward_bf16(seq, packed_bf16_r_, bf16_lstm_scratch_, kernel_threads())
                 : lstm_recurrence_backward(seq, packed_fp32_, kernel_threads());
        phases_.record(kPartRecurrentFused, pack_ms + times.recurrence_ms);
        phases_.record(kPartWeightGradients, times.weight_gradients_ms);
        return;
      }
      auto span = phases_.span(kPartRecurrentFused);
      if (s.steps > 1) pack_recurrent_backward(hidden, r, packed_fp32_);
      lstm_recurrence_backward(seq, packed_fp32_, kernel_threads());
      fused = true;
    }
  }
  bool packed = false;
  if (s.steps > 1 && !fused) {
    auto span = phases_.span(kPartRecurrentGemm);
    packed = pack_recurrent(Transpose::yes, width, hidden, r);
  }
  for (int t = fused ? -1 : s.steps - 1; t >= 0; --t) {
    T* dgates_t = dgates + t * step_g;
    const T* c_prev = t > 0 ? c + (t - 1) * step_h : nullptr;
    {
      auto span = phases_.span(kPartCells);
      lstm_cells_backward(n, hidden, gates + t * step_g, c + t * step_h, c_prev, dh + t * step_h, dh_next, dc_carry,
                          dgates_t);
    }
    // dh_{t-1} from the recurrence: dgates_t R^T.
    auto span = phases_.span(kPartRecurrentGemm);
    if (t > 0) recurrent_gemm(packed, Transpose::yes, n, hidden, width, dgates_t, r, T(0), dh_next);
    if (t > 0 && mask) mask_steps(1, step_h, mask, dh_next, dh_next);
  }

  auto span = phases_.span(kPartWeightGradients);
  // dW = x^T dgates over all steps; for F == 1 this is a GEMV.
  gemm(Transpose::yes, Transpose::no, input, width, rows, T(1), x, input, dgates, width, T(0), dw, width);
  // dR = sum over t >= 1 of h_{t-1}^T dgates_t: h rows of steps 0..T-2 against
  // dgates rows of steps 1..T-1, one GEMM.
  if (s.steps > 1)
    gemm(Transpose::yes, Transpose::no, hidden, width, rows - n, T(1), mask ? h_masked : h, hidden, dgates + step_g,
         width, T(0), dr, width);
  else
    for (std::size_t i = 0; i < std::size_t(hidden) * width; ++i) dr[i] = T(0);
  column_sums(std::size_t(rows), std::size_t(width), dgates, db);
  // dx = dgates W^T; for F == 1 a GEMV.
  if (dx) gemm(Transpose::no, Transpose::yes, rows, input, width, T(1), dgates, width, w, width, T(0), dx, input);
}

template <typename T>
void CpuBackend<T>::mask_steps(int steps, std::size_t n, const T* mask, const T* x, T* y) {
  checks::require_pointers("mask_steps", "a mask, input or output", {mask, x, y});
  for (std::size_t t = 0; t < std::size_t(steps); ++t)
    for (std::size_t i = 0; i < n; ++i) y[t * n + i] = x[t * n + i] * mask[i];
}

template <typename T>
void CpuBackend<T>::lstm_step(int batch, int input, int hidden, const T* x, const T* w, const T* r, const T* b,
                              const T* h_prev, const T* c_prev, T* h, T* c, T* gates) {
  checks::lstm_step(batch, input, hidden, {x, w, r, b, h_prev, c_prev, h, c, gates});
  const int width = 4 * hidden;
  input_projection(batch, input, width, x, w, b, gates);
  weight_gemm(batch, width, hidden, h_prev, r, T(1), gates);
  lstm_cells_forward(batch, hidden, gates, c_prev, c, h);
}

template bool CpuBackend<float>::pack_recurrent(Transpose, int, int, const float*);
template bool CpuBackend<double>::pack_recurrent(Transpose, int, int, const double*);
template void CpuBackend<float>::recurrent_gemm(bool, Transpose, int, int, int, const float*, const float*, float,
                                                float*);
template void CpuBackend<double>::recurrent_gemm(bool, Transpose, int, int, int, const double*, const double*, double,
                                                 double*);
template void CpuBackend<float>::input_projection(int, int, int, const float*, const float*, const float*, float*);
template void CpuBackend<double>::input_projection(int, int, int, const double*, const double*, const double*,
                                                   double*);
template void CpuBackend<float>::lstm_step(int, int, int, const float*, const float*, const float*, const float*,
                                           const float*, const float*, float*, float*, float*);
template void CpuBackend<double>::lstm_step(int, int, int, const double*, const double*, const double*,
                                            const double*, const double*, const double*, double*, double*, double*);
template void CpuBackend<float>::mask_steps(int, std::size_t, const float*, const float*, float*);
template void CpuBackend<double>::mask_steps(int, std::size_t, const double*, const double*, double*);
template void CpuBackend<float>::lstm_forward_masked(const LstmShape&, const float*, const float*, const float*,
                                                     const float*, const float*, float*, float*, float*, float*);
template void CpuBackend<double>::lstm_forward_masked(const LstmShape&, const double*, const double*, const double*,
                                                      const double*, const double*, double*, double*, double*,
                                                      double*);
template void CpuBackend<float>::lstm_backward_masked(const LstmShape&, const float*, const float*, const float*,
                                                      const float*, const float*, const float*, const float*,
                                                      const float*, const float*, float*, float*, float*, float*,
                                                      float*);
template void CpuBackend<double>::lstm_backward_masked(const LstmShape&, const double*, const double*,
                                                       const double*, const double*, const double*, const double*,
                                                       const double*, const double*, const double*, double*,
                                                       double*, double*, double*, double*);
template void CpuBackend<float>::lstm_forward(const LstmShape&, const float*, const float*, const float*,
                                              const float*, float*, float*, float*);
template void CpuBackend<double>::lstm_forward(const LstmShape&, const double*, const double*, const double*,
                                               const double*, double*, double*, double*);
template void CpuBackend<float>::lstm_backward(const LstmShape&, const float*, const float*, const float*,
                                               const float*, const float*, const float*, const float*, float*,
                                               float*, float*, float*, float*);
template void CpuBackend<double>::lstm_backward(const LstmShape&, const double*, const double*, const double*,
                                                const double*, const double*, const double*, const double*, double*,
                                                double*, double*, double*, double*);

}  // namespace nocturne::cpu
