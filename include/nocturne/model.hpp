#pragma once
// The recipe's network:
//   tokens -> [scalar index / V | embedding] -> LSTM H1 (whole sequence)
//   -> Dropout -> LSTM H2 (last step) -> Dense D (no activation) -> Dropout
//   -> Dense V -> softmax
// All parameters live in one flat buffer with named views; gradients in a
// twin buffer; the optimiser is one op over both.
//
// The model runs the schedule its backend offers (lstm_schedule()): the
// classic one (whole-sequence LSTM ops), or the fused one (a step program of
// one op per layer and time step on gate-interleaved weights, the head in
// one op, the optimiser's update inside the recorded step). What goes in and
// out through the host (parameters, gradients, checkpoints) is in Keras'
// layout either way.

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "nocturne/backend.hpp"
#include "nocturne/export.hpp"

namespace nocturne::inline v0 {

enum class InputMode { scalar, embedding };

NOCTURNE_API const char* input_mode_name(InputMode mode);
// Throws ConfigError for anything but "scalar" or "embedding".
NOCTURNE_API InputMode parse_input_mode(std::string_view name);

// Sizes and counts are std::int64_t, as everywhere in the high-level API; the
// model narrows them once, checked, to the ops' int dimensions (ModelDims).
struct NOCTURNE_API ModelConfig {
  std::int64_t vocab = 0;      // V: output classes (and input symbols)
  std::int64_t window = 40;    // T: steps per input window
  std::int64_t hidden1 = 512;  // H1
  std::int64_t hidden2 = 256;  // H2
  std::int64_t dense = 256;    // D
  double dropout = 0.1;
  InputMode input = InputMode::scalar;
  std::int64_t embedding_dim = 64;  // used when input == embedding
  // Training-only regularisers, all off in the recipe. Variational dropout
  // (one mask per window for all its steps, redrawn every batch) on the
  // LSTM inputs (layer 1's where it is an embedding, and layer 2's) and on
  // each layer's recurrent state; the classic schedule only.
  double input_dropout = 0;
  double recurrent_dropout = 0;
  // Training targets (1 - eps) onehot + eps / V (evaluation stays plain cross-entropy).
  double label_smoothing = 0;
  bool variational_dropout() const { return input_dropout > 0 || recurrent_dropout > 0; }

  std::int64_t input_size() const { return input == InputMode::embedding ? embedding_dim : 1; }
  // Throws ConfigError naming the first bad field and its value (sizes above
  // 2^20 included: no such model trains, and every product of the layout
  // stays far from int overflow).
  void validate() const;
};

// ADVANCED (op level): a valid ModelConfig's sizes as the ops take them, int
// kernel dimensions (backend.hpp). model_dims validates the config and
// narrows each size once, checked: a ConfigError names a size the ops cannot
// take.
struct NOCTURNE_API ModelDims {
  int vocab = 0, window = 0, input = 0, hidden1 = 0, hidden2 = 0, dense = 0, embedding_dim = 0;
};
NOCTURNE_API ModelDims model_dims(const ModelConfig& config);

// One named parameter tensor inside the flat buffer: `rows` x `cols`,
// row-major, starting at `offset` elements.
struct NOCTURNE_API ParameterView {
  std::string name;
  std::size_t offset = 0;
  int rows = 0;
  int cols = 0;
  std::size_t size() const { return std::size_t(rows) * std::size_t(cols); }
};

class NOCTURNE_API ParameterLayout {
 public:
  explicit ParameterLayout(const ModelConfig& config);

  const std::vector<ParameterView>& views() const { return views_; }
  // Throws ConfigError for an unknown name.
  const ParameterView& view(std::string_view name) const;
  // Elements of the flat buffer, alignment padding included.
  std::size_t buffer_size() const { return buffer_size_; }
  // Trainable parameters (padding excluded): 1,938,559 for the recipe at V = 127.
  std::size_t parameter_count() const;

 private:
  std::vector<ParameterView> views_;
  std::size_t buffer_size_ = 0;
};

// Running sums of one pass over windows.
struct NOCTURNE_API BatchStats {
  double loss_sum = 0;  // sum over windows of -log p(target)
  double correct = 0;   // windows whose most likely symbol is the target
};

template <typename T>
class BasicAdamax;

template <typename T>
class NOCTURNE_API BasicModel {
 public:
  // Buffers are sized for batches of up to max_batch windows. The model keeps
  // a reference to `backend`, which must outlive it; one thread at a time.
  BasicModel(BasicBackend<T>& backend, const ModelConfig& config, std::int64_t max_batch);
  // The bytes of the buffers the constructor allocates (parameters,
  // gradients, activations, workspace), computed without allocating, so a
  // size too large for the machine can be refused before it is tried.
  // Saturates at UINT64_MAX.
  static std::uint64_t memory_bytes(const ModelConfig& config, std::int64_t max_batch);
  ~BasicModel();
  BasicModel(const BasicModel&) = delete;
  BasicModel& operator=(const BasicModel&) = delete;

  const ModelConfig& config() const { return config_; }
  // The config's sizes as op-level int dimensions (for code that calls ops).
  const ModelDims& dims() const { return dims_; }
  const ParameterLayout& layout() const { return layout_; }
  BasicBackend<T>& backend() { return backend_; }
  std::int64_t max_batch() const { return max_batch_; }

  // Keras' initialisation drawn from `seed`: glorot-uniform input and dense
  // kernels, orthogonal recurrent kernels, zero biases with forget bias 1,
  // embedding uniform in [-0.05, 0.05].
  void initialize(std::uint64_t seed);

  // True where the backend runs the fused schedule (fused_steps or persistent_sequences).
  bool fused() const { return fused_; }

  // The buffers on the device, in the backend's layout: on the fused path
  // the lstm1 and lstm2 views hold their [*, 4H] columns gate-interleaved
  // (math/gate_layout.hpp). parameter() points into it (a device pointer).
  Buffer<T>& parameters() { return params_; }
  // Throws ConfigError for an unknown name.
  const T* parameter(std::string_view name) const;
  Buffer<T>& gradients() { return grads_; }
  // Host copies in Keras' layout (as checkpoints hold them), converted from
  // and to the backend's layout.
  std::vector<T> download_parameters();
  void upload_parameters(std::span<const T> values);  // throws ShapeError on a size mismatch
  std::vector<T> download_gradients();
  // A flat buffer's host copy from Keras' layout into the backend's, and
  // back (the optimiser's moments convert as the parameters do). Identity on
  // the classic path; a pure permutation on the fused one (exact both ways).
  std::vector<T> to_backend_layout(std::span<const T> keras) const;
  std::vector<T> to_keras_layout(std::span<const T> backend) const;

  // Stages a batch on the device: tokens time-major [window, n] as vocabulary
  // indices, targets [n] (may be empty for predict()). n <= max_batch.
  void set_batch(std::span<const std::int32_t> tokens, std::span<const std::int32_t> targets);
  std::int64_t batch() const { return batch_; }

  // Forward with dropout drawn for `step`, backward into gradients(), and the
  // batch's loss and accuracy added to the running stats. Recorded once per
  // batch size and replayed afterwards (a CUDA graph on the GPU).
  void train_step(std::uint64_t dropout_seed, std::uint64_t step);
  // train_step with dropout drawn for step optimizer.steps_taken(), then the
  // optimiser's update: after the replay on the classic path, inside the
  // recorded program on the fused one (its step count uploaded with the
  // batch). Either way optimizer.steps_taken() grows by one. The optimiser
  // must be over this model's buffers (BasicAdamax(model, ...)).
  void train_step(std::uint64_t dropout_seed, BasicAdamax<T>& optimizer);
  // The fused path's training program for the staged batch (what
  // train_step records), optimizer null for the one without the update: for
  // the schedule checker (src/model/step_program.hpp) and its tests. Throws
  // ConfigError on the classic path.
  std::vector<ProgramOp> training_program(std::uint64_t dropout_seed, BasicAdamax<T>* optimizer);
  // Forward without dropout; adds loss and accuracy to the running stats.
  void evaluate_step();
  // Forward without dropout; returns the probabilities [n, V] on the host.
  std::vector<T> predict();

  void reset_stats();
  BatchStats read_stats();  // synchronises

  // A buffer of the classic path's last forward, on the host (for tests and
  // inspection): "lstm1.x", "lstm2.x" (each layer's input as it ran, after
  // dropout and variational masks, [W, N, F]), "lstm1.h", "lstm2.h"
  // ([W, N, H]) and "lstm1.h_masked", "lstm2.h_masked" (what the recurrent
  // GEMM took with recurrent dropout). Throws ConfigError for another name,
  // one the last forward did not write, or the fused path.
  std::vector<T> download_activation(std::string_view name);

 private:
  struct Activations;
  // What a fused step program computes.
  enum class Program { training, evaluation, prediction };
  void forward(bool training, const DropoutKey& key);
  void backward(const DropoutKey& key);
  T* grad(std::string_view name);
  static DropoutKey site_key(const DropoutKey& key, std::uint32_t site);
  // Variational dropout's mask sites (0 and 1 are the recipe's dropouts) and what a step masks.
  static constexpr std::uint32_t kSiteInput1 = 2, kSiteInput2 = 3, kSiteRecurrent1 = 4, kSiteRecurrent2 = 5;
  struct Variational {
    bool input1 = false, input2 = false, recurrent = false;
  };
  Variational variational(bool training) const;
  void draw_mask(const DropoutKey& key, std::uint32_t site, double p, std::size_t count, T* mask);
  void lstm_forward_layer(const LstmShape& shape, const T* x, const char* layer, bool recurrent, std::uint32_t site,
                          const DropoutKey& key, Buffer<T>& mask, Buffer<T>& h_masked, Buffer<T>& h, Buffer<T>& c,
                          Buffer<T>& gates);
  void lstm_backward_layer(const LstmShape& shape, const T* x, const char* layer, bool recurrent,
                           const Buffer<T>& mask, const Buffer<T>& h_masked, const Buffer<T>& h, const Buffer<T>& c,
                           const Buffer<T>& gates, const T* dh, T* dx);
  void require_targets(const char* what) const;
  void allocate_activations();
  void stage_dropout_offset(std::uint64_t step);
  // model_fused.cpp: the step programs of the fused path.
  std::vector<ProgramOp> fused_program(Program kind, const DropoutKey& key, BasicAdamax<T>* optimizer);
  void add_fused_forward(std::vector<ProgramOp>& ops, bool dropout, const DropoutKey& key);
  void add_fused_backward(std::vector<ProgramOp>& ops, bool dropout, const DropoutKey& key);
  // Records (once per kind, batch size and optimiser) and replays a fused program.
  void run_fused(Program kind, const DropoutKey& key, BasicAdamax<T>* optimizer);

  BasicBackend<T>& backend_;
  ModelConfig config_;
  ModelDims dims_;
  ParameterLayout layout_;
  int max_batch_ = 0;
  int batch_ = 0;
  bool has_targets_ = false;
  bool fused_ = false;
  Buffer<T> params_, grads_;
  std::unique_ptr<Activations> act_;
  const T* last_lstm_input_[2] = {nullptr, nullptr};  // what the last classic forward fed each layer
  bool last_recurrent_masked_ = false;
  std::map<int, std::unique_ptr<Replayable>> recorded_steps_;  // by batch size
  std::uint64_t recorded_seed_ = 0;
  // The fused path's recordings, by (kind, batch size, optimiser id).
  std::map<std::tuple<int, int, std::uint64_t>, std::unique_ptr<Replayable>> recorded_programs_;
};

using Model = BasicModel<float>;

}  // namespace nocturne
