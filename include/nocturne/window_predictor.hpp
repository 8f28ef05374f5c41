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
//
// On the fused path (the model's backend has it) the slots shift instead:
// every note moves each window's state one slot on, from one state buffer
// into the other, and slot 0 of both stays zero, so the window that begins
// reads zeros and the window that completes lands in slot W. Every pointer
// of a note's work is then fixed, and generate() records that work once per
// direction (with the sampling op) and replays it note after note, the
// chosen tokens staying on the device until they are read back. Where the
// backend has a generation kernel (generate_notes: the CUDA backend's
// persistent path), many notes are one launch instead.

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "nocturne/export.hpp"
#include "nocturne/generate.hpp"
#include "nocturne/model.hpp"

namespace nocturne::inline v0 {

template <typename T>
class NOCTURNE_API BasicWindowPredictor {
 public:
  // Predicts for `streams` independent token streams at a time (for example
  // one per generated piece). Allocates its own state on the model's backend;
  // reads the model's parameters whenever it runs.
  BasicWindowPredictor(BasicModel<T>& model, std::int64_t streams);
  ~BasicWindowPredictor();
  BasicWindowPredictor(const BasicWindowPredictor&) = delete;
  BasicWindowPredictor& operator=(const BasicWindowPredictor&) = delete;

  std::int64_t streams() const { return streams_; }

  // Starts every stream over on its window: windows holds streams x W tokens,
  // stream-major. Returns the probabilities [streams, V] of the symbol after
  // each window (what BasicModel::predict gives for the same windows).
  std::vector<T> start(std::span<const std::int32_t> windows);
  // Appends one token to each stream (tokens [streams]); returns the
  // probabilities [streams, V] of the symbol after each stream's new window.
  std::vector<T> push(std::span<const std::int32_t> tokens);

  // True where generate() samples on the device (the model runs the fused
  // path); elsewhere it loops on the host.
  bool samples_on_device() const;
  // Starts every stream on its window (as start) and generates `notes`
  // tokens per stream: note k of stream s is choose_token(prediction,
  // sampling, seed, first_stream + s, k), which is then pushed. Returns them
  // note-major ([notes, streams]). On the device the chosen tokens are read
  // back every `read_every` notes and at the end; on_read(notes done) is
  // called after each read (after every note on the host).
  std::vector<std::int32_t> generate(std::span<const std::int32_t> windows, std::int64_t notes,
                                     const SamplingOptions& sampling, std::uint64_t seed,
                                     std::uint32_t first_stream,
                                     const std::function<void(std::int64_t)>& on_read = {},
                                     std::int64_t read_every = 32);

 private:
  struct State;
  void check_start(std::span<const std::int32_t> windows) const;
  void prime(std::span<const std::int32_t> windows);
  void advance(std::span<const std::int32_t> tokens);
  std::vector<T> read_prediction();
  // The fused path's work as ops: every slot one step on from state buffer
  // `from` into the other; the prediction from the slot that completed.
  void add_step_ops(std::vector<ProgramOp>& ops, int from);
  void add_head_op(std::vector<ProgramOp>& ops, int at);
  void run_now(const std::vector<ProgramOp>& ops);
  bool generate_in_launches(std::int64_t notes, const SamplingOptions& sampling, std::uint64_t seed,
                            std::uint32_t first_stream, std::int64_t read_every,
                            const std::function<void(std::int64_t)>& read_back);

  BasicModel<T>& model_;
  int streams_ = 0;           // op-level dimensions, narrowed once (core/narrow_dim.hpp)
  int rows_ = 0;              // W slots x streams, slot-major: row = slot * streams + stream
  std::uint64_t pushed_ = 0;  // tokens pushed since start
  std::unique_ptr<State> state_;
};

using WindowPredictor = BasicWindowPredictor<float>;

}  // namespace nocturne
