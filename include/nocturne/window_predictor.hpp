#pragma once
// Next-symbol probabilities for sliding windows, as the recipe generates: every
// prediction runs the model over the last W tokens from a zero state. Windows
// that follow each other share W - 1 tokens but not their states (each starts
// from zero at a different token), so no state carries over. What they do
// share is the newest token: the W windows that contain it all consume it at
// once. The predictor keeps those W windows in flight as "slots" and, for each
// token pushed, advances every slot one step on it: the slot whose window
// begins at that token starts from a zero state, and the slot whose window
// ends there gives the prediction.
//
// The result is the model's forward pass over each window (the same
// arithmetic, up to BLAS rounding between batch sizes), but one push is one
// LSTM step of W rows instead of W steps of one row: GEMMs instead of GEMVs,
// each weight matrix read once per note instead of W times, and on a GPU a
// dozen launches per note instead of a few hundred.

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "nocturne/model.hpp"

namespace nocturne {

template <typename T>
class BasicWindowPredictor {
 public:
  // Predicts for `streams` independent token streams at a time (for example
  // one per generated piece). Allocates its own state on the model's backend;
  // reads the model's parameters whenever it runs.
  BasicWindowPredictor(BasicModel<T>& model, int streams);
  ~BasicWindowPredictor();
  BasicWindowPredictor(const BasicWindowPredictor&) = delete;
  BasicWindowPredictor& operator=(const BasicWindowPredictor&) = delete;

  int streams() const { return streams_; }

  // Starts every stream over on its window: windows holds streams x W tokens,
  // stream-major. Returns the probabilities [streams, V] of the symbol after
  // each window (what BasicModel::predict gives for the same windows).
  std::vector<T> start(std::span<const std::int32_t> windows);
  // Appends one token to each stream (tokens [streams]); returns the
  // probabilities [streams, V] of the symbol after each stream's new window.
  std::vector<T> push(std::span<const std::int32_t> tokens);

 private:
  struct State;
  void advance(std::span<const std::int32_t> tokens);
  std::vector<T> read_prediction();

  BasicModel<T>& model_;
  int streams_ = 0;
  int rows_ = 0;              // W slots x streams, slot-major: row = slot * streams + stream
  std::uint64_t pushed_ = 0;  // tokens pushed since start
  std::unique_ptr<State> state_;
};

using WindowPredictor = BasicWindowPredictor<float>;

}  // namespace nocturne
