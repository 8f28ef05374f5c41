#pragma once
// oneDNN's LSTM primitive (dnnl::lstm_forward / lstm_backward, f32, one layer,
// left to right, zero initial state), the second CPU anchor of bench_lstm.
// Compiled only where oneDNN is found (NOCTURNE_BENCH_WITH_ONEDNN); this
// header keeps oneDNN's own headers out of the rest of the suite.
//
// Layouts: our Keras layout W [F,4H], R [H,4H], b [4H] with gates i, f, g, o
// is oneDNN's ldigo / ldgo with gates i, f, c~, o (its documented order), so
// the weights map over element for element. Sequences are time-major [T,N,C]
// on both sides (oneDNN's tnc).

#include <memory>
#include <string>
#include <vector>

#include "nocturne/backend.hpp"

namespace nocturne::inline v0::bench {

// "2.6.3 (git hash ...), CPU runtime OpenMP".
std::string onednn_version();

// Sets the threads oneDNN's OpenMP runtime uses (0 leaves its default) and
// returns the count in effect, or 0 where the runtime is not OpenMP.
int set_onednn_threads(int threads);

class OneDnnLstm {
 public:
  // The weights are copied and reordered into the layouts oneDNN picks.
  OneDnnLstm(const LstmShape& shape, const float* w, const float* r, const float* b);
  ~OneDnnLstm();
  OneDnnLstm(const OneDnnLstm&) = delete;
  OneDnnLstm& operator=(const OneDnnLstm&) = delete;

  // x [T,N,F] -> h [T,N,H], keeping nothing for a backward pass.
  void forward_inference(const float* x, float* h);
  // x [T,N,F] -> h [T,N,H], keeping the workspace backward needs.
  void forward_training(const float* x, float* h);
  // After forward_training on the same x and h: dh [T,N,H] -> dx [T,N,F] and
  // the weight gradients, which stay in oneDNN's layout (zeroed first:
  // oneDNN 2.x adds to them).
  void backward(const float* x, const float* h, const float* dh, float* dx);
  // The last backward's weight gradients in our layout: dw [F,4H], dr [H,4H], db [4H].
  void weight_gradients(std::vector<float>& dw, std::vector<float>& dr, std::vector<float>& db);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace nocturne::bench
