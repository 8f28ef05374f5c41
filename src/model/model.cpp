#include "nocturne/model.hpp"

#include <algorithm>
#include <limits>
#include <string>

#include "math/gate_layout.hpp"
#include "core/narrow_dim.hpp"
#include "model/initialization.hpp"
#include "model/model_activations.hpp"
#include "nocturne/error.hpp"
#include "nocturne/optimizer.hpp"
#include "nocturne/rng.hpp"
#include "core/rng_streams.hpp"

namespace nocturne::inline v0 {

namespace {
std::int64_t positive_batch(std::int64_t batch) {
  if (batch <= 0) throw ConfigError("batch size must be positive, got " + std::to_string(batch));
  return batch;
}
}  // namespace

template <typename T>
BasicModel<T>::BasicModel(BasicBackend<T>& backend, const ModelConfig& config, std::int64_t max_batch)
    : backend_(backend),
      config_(config),
      dims_(model_dims(config)),
      layout_(config),
      max_batch_(narrow_dim(positive_batch(max_batch), "batch size")),
      fused_(backend.lstm_schedule() != LstmSchedule::whole_sequence) {
  if (fused_ && config.variational_dropout())
    throw ConfigError("input and recurrent dropout run on the classic LSTM schedule only; the " + backend.name() +
                      " backend runs the fused one (use --lstm-impl classic)");
  params_ = backend.template allocate<T>(layout_.buffer_size());
  grads_ = backend.template allocate<T>(layout_.buffer_size());
  allocate_activations();
}

template <typename T>
void BasicModel<T>::allocate_activations() {
  const ModelConfig& config = config_;
  const std::size_t n = std::size_t(max_batch_), w = std::size_t(dims_.window);
  const std::size_t f = std::size_t(dims_.input), h1 = std::size_t(dims_.hidden1),
                    h2 = std::size_t(dims_.hidden2), d = std::size_t(dims_.dense), v = std::size_t(dims_.vocab);
  act_ = std::make_unique<Activations>();
  Activations& a = *act_;
  auto alloc = [&](std::size_t count) { return backend_.template allocate<T>(count); };
  a.tokens = backend_.template allocate<std::int32_t>(w * n);
  a.targets = backend_.template allocate<std::int32_t>(n);
  a.dropout_offset = backend_.template allocate<std::uint64_t>(1);
  a.x1 = alloc(w * n * f);
  a.h1 = alloc(w * n * h1);
  a.c1 = alloc(w * n * h1);
  a.g1 = alloc(w * n * h1 * 4);
  a.drop1 = alloc(w * n * h1);
  a.h2 = alloc(w * n * h2);
  a.c2 = alloc(w * n * h2);
  a.g2 = alloc(w * n * h2 * 4);
  a.y1 = alloc(n * d);
  a.drop2 = alloc(n * d);
  a.logits = alloc(n * v);
  a.probs = alloc(n * v);
  a.d_logits = alloc(n * v);
  a.d_drop2 = alloc(n * d);
  a.d_y1 = alloc(n * d);
  a.d_drop1 = alloc(w * n * h1);
  if (config.input == InputMode::embedding) a.d_x1 = alloc(w * n * f);
  a.stats = backend_.template allocate<double>(2);
  if (!fused_) {
    a.d_h2 = alloc(w * n * h2);
    a.d_h1 = alloc(w * n * h1);
    const LstmShape s1{dims_.window, max_batch_, dims_.input, dims_.hidden1};
    const LstmShape s2{dims_.window, max_batch_, dims_.hidden1, dims_.hidden2};
    a.workspace =
        alloc(std::max(BasicBackend<T>::lstm_workspace_size(s1), BasicBackend<T>::lstm_workspace_size(s2)));
    if (config.input_dropout > 0) {
      a.in_mask1 = alloc(n * f);
      a.in_mask2 = alloc(n * h1);
      a.x1_masked = alloc(w * n * f);
      a.in2_masked = alloc(w * n * h1);
    }
    if (config.recurrent_dropout > 0) {
      a.rec_mask1 = alloc(n * h1);
      a.rec_mask2 = alloc(n * h2);
      a.h1_masked = alloc(w * n * h1);
      a.h2_masked = alloc(w * n * h2);
    }
    if (config.variational_dropout()) {
      a.ones = alloc(n * std::max({f, h1, h2}));
      backend_.fill(a.ones.data(), a.ones.size(), T(1));
    }
    return;
  }
  const std::size_t blocks = std::size_t(backend_.lstm_partial_blocks(max_batch_));
  a.d_h2_last = alloc(n * h2);
  a.dg1 = alloc(w * n * h1 * 4);
  a.dg2 = alloc(w * n * h2 * 4);
  a.dc1 = alloc(n * h1);
  a.dc2 = alloc(n * h2);
  a.db1_partial = alloc(w * blocks * h1 * 4);
  if (dims_.input == 1) a.dw1_partial = alloc(w * blocks * h1 * 4);
  a.db2_partial = alloc(w * blocks * h2 * 4);
  a.adamax_step = backend_.template allocate<std::int64_t>(1);
}

template <typename T>
std::uint64_t BasicModel<T>::memory_bytes(const ModelConfig& config, std::int64_t max_batch) {
  const ParameterLayout layout(config);
  const ModelDims dims = model_dims(config);
  // Element counts in long double: no product of valid sizes overflows it.
  const long double n = static_cast<long double>(std::max<std::int64_t>(max_batch, 0)), w = dims.window,
                    f = dims.input, h1 = dims.hidden1, h2 = dims.hidden2, d = dims.dense, v = dims.vocab;
  const LstmShape s1{dims.window, 1, dims.input, dims.hidden1};
  const LstmShape s2{dims.window, 1, dims.hidden1, dims.hidden2};
  const long double workspace_per_window =
      static_cast<long double>(std::max(BasicBackend<T>::lstm_workspace_size(s1), BasicBackend<T>::lstm_workspace_size(s2)));
  // As the constructor: h1, c1, drop1, d_drop1, d_h1 and g1 (4 H1); h2, c2,
  // d_h2 and g2 (4 H2); x1 (and d_x1 with an embedding); the head's
  // y1, drop2, d_drop2, d_y1 (D) and logits, probs, d_logits (V).
  const long double per_window = w * (f * (config.input == InputMode::embedding ? 2 : 1) + h1 * 9 + h2 * 7) +
                                 4 * d + 3 * v + workspace_per_window;
  // Variational dropout: the masked inputs and states, the masks and their ones.
  const long double variational = (config.input_dropout > 0 ? w * (f + h1) + f + h1 : 0) +
                                  (config.recurrent_dropout > 0 ? w * (h1 + h2) + h1 + h2 : 0) +
                                  (config.variational_dropout() ? std::max({f, h1, h2}) : 0);
  const long double scalars = 2.0L * static_cast<long double>(layout.buffer_size()) + n * (per_window + variational);
  const long double bytes = scalars * sizeof(T) + n * (w + 1) * sizeof(std::int32_t) + 64;
  if (bytes >= static_cast<long double>(std::numeric_limits<std::uint64_t>::max()))
    return std::numeric_limits<std::uint64_t>::max();
  return std::uint64_t(bytes);
}

template <typename T>
BasicModel<T>::~BasicModel() = default;

template <typename T>
void BasicModel<T>::initialize(std::uint64_t seed) {
  std::vector<double> values;
  initialize_parameters(layout_, seed, values);
  upload_parameters(std::vector<T>(values.begin(), values.end()));
}

template <typename T>
std::vector<T> BasicModel<T>::download_parameters() {
  return to_keras_layout(backend_.download(params_));
}

template <typename T>
std::vector<T> BasicModel<T>::download_gradients() {
  return to_keras_layout(backend_.download(grads_));
}

template <typename T>
void BasicModel<T>::upload_parameters(std::span<const T> values) {
  if (values.size() != params_.size())
    throw ShapeError("parameters: expected " + std::to_string(params_.size()) + " values, got " +
                     std::to_string(values.size()));
  const std::vector<T> staged = to_backend_layout(values);
  backend_.copy_to_device(params_.data(), staged.data(), staged.size() * sizeof(T));
}

namespace {

void require_flat_size(std::size_t got, std::size_t expected) {
  if (got != expected)
    throw ShapeError("layout conversion: expected a flat buffer of " + std::to_string(expected) + " values, got " +
                     std::to_string(got));
}

// The views whose [rows, 4H] columns the fused path keeps gate-interleaved, with their H.
template <typename F>
void for_each_gate_view(const ParameterLayout& layout, const ModelConfig& config, F&& f) {
  for (const char* name : {"lstm1.W", "lstm1.R", "lstm1.b"}) f(layout.view(name), std::size_t(config.hidden1));
  for (const char* name : {"lstm2.W", "lstm2.R", "lstm2.b"}) f(layout.view(name), std::size_t(config.hidden2));
}

}  // namespace

template <typename T>
std::vector<T> BasicModel<T>::to_backend_layout(std::span<const T> keras) const {
  require_flat_size(keras.size(), layout_.buffer_size());
  std::vector<T> out(keras.begin(), keras.end());
  if (!fused_) return out;
  for_each_gate_view(layout_, config_, [&](const ParameterView& v, std::size_t hidden) {
    math::interleave_gates<T>(keras.subspan(v.offset, v.size()), std::span<T>(out).subspan(v.offset, v.size()),
                              std::size_t(v.rows), hidden);
  });
  return out;
}

template <typename T>
std::vector<T> BasicModel<T>::to_keras_layout(std::span<const T> backend) const {
  require_flat_size(backend.size(), layout_.buffer_size());
  std::vector<T> out(backend.begin(), backend.end());
  if (!fused_) return out;
  for_each_gate_view(layout_, config_, [&](const ParameterView& v, std::size_t hidden) {
    math::deinterleave_gates<T>(backend.subspan(v.offset, v.size()), std::span<T>(out).subspan(v.offset, v.size()),
                                std::size_t(v.rows), hidden);
  });
  return out;
}

template <typename T>
void BasicModel<T>::set_batch(std::span<const std::int32_t> tokens, std::span<const std::int32_t> targets) {
  const std::size_t w = std::size_t(dims_.window);
  if (tokens.empty() || tokens.size() % w != 0)
    throw ShapeError("batch: " + std::to_string(tokens.size()) + " tokens is not a whole number of " +
                     std::to_string(w) + "-step windows");
  const std::size_t n = tokens.size() / w;
  if (n > std::size_t(max_batch_))
    throw ShapeError("batch: " + std::to_string(n) + " windows exceeds the model's maximum batch " +
                     std::to_string(max_batch_));
  if (!targets.empty() && targets.size() != n)
    throw ShapeError("batch: " + std::to_string(targets.size()) + " targets for " + std::to_string(n) + " windows");
  for (std::int32_t t : tokens)
    if (t < 0 || t >= dims_.vocab)
      throw ShapeError("batch: token index " + std::to_string(t) + " outside the vocabulary of " +
                       std::to_string(dims_.vocab));
  for (std::int32_t t : targets)
    if (t < 0 || t >= dims_.vocab)
      throw ShapeError("batch: target index " + std::to_string(t) + " outside the vocabulary of " +
                       std::to_string(dims_.vocab));
  backend_.copy_to_device(act_->tokens.data(), tokens.data(), tokens.size_bytes());
  if (!targets.empty()) backend_.copy_to_device(act_->targets.data(), targets.data(), targets.size_bytes());
  batch_ = int(n);
  has_targets_ = !targets.empty();
}

template <typename T>
const T* BasicModel<T>::parameter(std::string_view name) const {
  return params_.data() + layout_.view(name).offset;
}

template <typename T>
T* BasicModel<T>::grad(std::string_view name) {
  return grads_.data() + layout_.view(name).offset;
}

template <typename T>
void BasicModel<T>::forward(bool training, const DropoutKey& key) {
  Activations& a = *act_;
  const ModelConfig& c = config_;
  const int n = batch_, w = dims_.window;
  const std::size_t steps = std::size_t(w) * std::size_t(n);
  const bool dropout = training && c.dropout > 0;
  const T p = T(c.dropout);

  // Phase marks: where a benchmark's phase timing cuts the step (the fused
  // path's op names, so the two paths' tables line up).
  backend_.mark_phase("input");
  if (c.input == InputMode::embedding)
    backend_.embedding_forward(a.tokens.data(), steps, dims_.embedding_dim, parameter("embedding"), a.x1.data());
  else
    backend_.scalar_input(a.tokens.data(), steps, dims_.vocab, a.x1.data());

  const Variational v = variational(training);
  const std::size_t nf = std::size_t(n) * std::size_t(dims_.input), nh1 = std::size_t(n) * std::size_t(dims_.hidden1);
  const T* in1 = a.x1.data();
  if (v.input1) {
    draw_mask(key, kSiteInput1, c.input_dropout, nf, a.in_mask1.data());
    backend_.mask_steps(w, nf, a.in_mask1.data(), a.x1.data(), a.x1_masked.data());
    in1 = a.x1_masked.data();
  }
  backend_.mark_phase("lstm1 forward");
  lstm_forward_layer({w, n, dims_.input, dims_.hidden1}, in1, "lstm1", v.recurrent, kSiteRecurrent1, key, a.rec_mask1,
                     a.h1_masked, a.h1, a.c1, a.g1);
  const T* in2 = a.h1.data();
  if (dropout) {
    backend_.mark_phase("dropout");
    backend_.dropout_forward(site_key(key, 0), p, steps * std::size_t(dims_.hidden1), a.h1.data(), a.drop1.data());
    in2 = a.drop1.data();
  }
  if (v.input2) {
    draw_mask(key, kSiteInput2, c.input_dropout, nh1, a.in_mask2.data());
    backend_.mask_steps(w, nh1, a.in_mask2.data(), in2, a.in2_masked.data());
    in2 = a.in2_masked.data();
  }
  last_lstm_input_[0] = in1;
  last_lstm_input_[1] = in2;
  last_recurrent_masked_ = v.recurrent;
  backend_.mark_phase("lstm2 forward");
  lstm_forward_layer({w, n, dims_.hidden1, dims_.hidden2}, in2, "lstm2", v.recurrent, kSiteRecurrent2, key, a.rec_mask2,
                     a.h2_masked, a.h2, a.c2, a.g2);
  const T* last = a.h2.data() + std::size_t(w - 1) * std::size_t(n) * std::size_t(dims_.hidden2);
  backend_.mark_phase("head");
  backend_.dense_forward(n, dims_.hidden2, dims_.dense, last, parameter("dense1.W"), parameter("dense1.b"),
                         a.y1.data());
  const T* in4 = a.y1.data();
  if (dropout) {
    backend_.dropout_forward(site_key(key, 1), p, std::size_t(n) * std::size_t(dims_.dense), a.y1.data(),
                             a.drop2.data());
    in4 = a.drop2.data();
  }
  backend_.dense_forward(n, dims_.dense, dims_.vocab, in4, parameter("dense2.W"), parameter("dense2.b"),
                         a.logits.data());
}

template <typename T>
void BasicModel<T>::backward(const DropoutKey& key) {
  Activations& a = *act_;
  const ModelConfig& c = config_;
  const int n = batch_, w = dims_.window;
  const std::size_t steps = std::size_t(w) * std::size_t(n);
  const bool dropout = c.dropout > 0;
  const T p = T(c.dropout);

  const T* in4 = dropout ? a.drop2.data() : a.y1.data();
  backend_.dense_backward(n, dims_.dense, dims_.vocab, in4, parameter("dense2.W"), a.d_logits.data(), a.d_drop2.data(),
                          grad("dense2.W"), grad("dense2.b"));
  const T* d_y1 = a.d_drop2.data();
  if (dropout) {
    backend_.dropout_backward(site_key(key, 1), p, std::size_t(n) * std::size_t(dims_.dense), a.d_drop2.data(),
                              a.d_y1.data());
    d_y1 = a.d_y1.data();
  }
  // Only the last step of layer 2 feeds the head: the other steps get zero.
  const std::size_t last_offset = std::size_t(w - 1) * std::size_t(n) * std::size_t(dims_.hidden2);
  backend_.fill(a.d_h2.data(), last_offset, T(0));
  backend_.dense_backward(n, dims_.hidden2, dims_.dense, a.h2.data() + last_offset, parameter("dense1.W"), d_y1,
                          a.d_h2.data() + last_offset, grad("dense1.W"), grad("dense1.b"));
  const Variational v = variational(true);
  const std::size_t nf = std::size_t(n) * std::size_t(dims_.input), nh1 = std::size_t(n) * std::size_t(dims_.hidden1);
  const T* in2 = v.input2 ? a.in2_masked.data() : dropout ? a.drop1.data() : a.h1.data();
  backend_.mark_phase("lstm2 backward");
  lstm_backward_layer({w, n, dims_.hidden1, dims_.hidden2}, in2, "lstm2", v.recurrent, a.rec_mask2, a.h2_masked, a.h2,
                      a.c2, a.g2, a.d_h2.data(), a.d_drop1.data());
  if (v.input2) backend_.mask_steps(w, nh1, a.in_mask2.data(), a.d_drop1.data(), a.d_drop1.data());
  const T* d_h1 = a.d_drop1.data();
  if (dropout) {
    backend_.mark_phase("dropout");
    backend_.dropout_backward(site_key(key, 0), p, steps * std::size_t(dims_.hidden1), a.d_drop1.data(),
                              a.d_h1.data());
    d_h1 = a.d_h1.data();
  }
  const bool embedding = c.input == InputMode::embedding;
  backend_.mark_phase("lstm1 backward");
  lstm_backward_layer({w, n, dims_.input, dims_.hidden1}, v.input1 ? a.x1_masked.data() : a.x1.data(), "lstm1",
                      v.recurrent, a.rec_mask1, a.h1_masked, a.h1, a.c1, a.g1, d_h1,
                      embedding ? a.d_x1.data() : nullptr);
  if (embedding) {
    if (v.input1) backend_.mask_steps(w, nf, a.in_mask1.data(), a.d_x1.data(), a.d_x1.data());
    backend_.mark_phase("input");
    backend_.embedding_backward(a.tokens.data(), steps, dims_.vocab, dims_.embedding_dim, a.d_x1.data(),
                                grad("embedding"));
  }
  backend_.mark_phase("");
}

template <typename T>
typename BasicModel<T>::Variational BasicModel<T>::variational(bool training) const {
  Variational v;
  if (!training) return v;
  v.input2 = config_.input_dropout > 0;
  v.input1 = v.input2 && config_.input == InputMode::embedding;  // a scalar input would vanish whole
  v.recurrent = config_.recurrent_dropout > 0;
  return v;
}

// A variational mask [count]: the ones buffer through the dropout op, so
// each element is 0 or 1 / (1 - p), drawn at (seed, site, step's offset + i).
template <typename T>
void BasicModel<T>::draw_mask(const DropoutKey& key, std::uint32_t site, double p, std::size_t count, T* mask) {
  backend_.dropout_forward(site_key(key, site), T(p), count, act_->ones.data(), mask);
}

template <typename T>
void BasicModel<T>::lstm_forward_layer(const LstmShape& shape, const T* x, const char* layer, bool recurrent,
                                       std::uint32_t site, const DropoutKey& key, Buffer<T>& mask,
                                       Buffer<T>& h_masked, Buffer<T>& h, Buffer<T>& c, Buffer<T>& gates) {
  const std::string name(layer);
  const T* w = parameter(name + ".W");
  const T* r = parameter(name + ".R");
  const T* b = parameter(name + ".b");
  if (!recurrent) return backend_.lstm_forward(shape, x, w, r, b, h.data(), c.data(), gates.data());
  draw_mask(key, site, config_.recurrent_dropout, std::size_t(shape.batch) * std::size_t(shape.hidden), mask.data());
  backend_.lstm_forward_masked(shape, x, w, r, b, mask.data(), h_masked.data(), h.data(), c.data(), gates.data());
}

template <typename T>
void BasicModel<T>::lstm_backward_layer(const LstmShape& shape, const T* x, const char* layer, bool recurrent,
                                        const Buffer<T>& mask, const Buffer<T>& h_masked, const Buffer<T>& h,
                                        const Buffer<T>& c, const Buffer<T>& gates, const T* dh, T* dx) {
  const std::string name(layer);
  const T* w = parameter(name + ".W");
  const T* r = parameter(name + ".R");
  T* dw = grad(name + ".W");
  T* dr = grad(name + ".R");
  T* db = grad(name + ".b");
  T* workspace = act_->workspace.data();
  if (!recurrent)
    return backend_.lstm_backward(shape, x, w, r, h.data(), c.data(), gates.data(), dh, dx, dw, dr, db, workspace);
  backend_.lstm_backward_masked(shape, x, w, r, mask.data(), h_masked.data(), h.data(), c.data(), gates.data(), dh,
                                dx, dw, dr, db, workspace);
}

template <typename T>
DropoutKey BasicModel<T>::site_key(const DropoutKey& key, std::uint32_t site) {
  DropoutKey k = key;
  k.stream += site;
  return k;
}

template <typename T>
void BasicModel<T>::require_targets(const char* what) const {
  if (batch_ == 0) throw ShapeError(std::string(what) + ": no batch was set");
  if (!has_targets_) throw ShapeError(std::string(what) + ": the batch has no targets");
}

template <typename T>
void BasicModel<T>::stage_dropout_offset(std::uint64_t step) {
  // The step's masks start at step << 32: a site never draws more than 2^32 values a step.
  const std::uint64_t offset = step << 32;
  backend_.copy_to_device(act_->dropout_offset.data(), &offset, sizeof offset);
}

template <typename T>
void BasicModel<T>::train_step(std::uint64_t dropout_seed, std::uint64_t step) {
  require_targets("train_step");
  stage_dropout_offset(step);
  if (dropout_seed != recorded_seed_) {
    recorded_steps_.clear();
    recorded_programs_.clear();
    recorded_seed_ = dropout_seed;
  }
  const DropoutKey key{dropout_seed, rng_stream::dropout, 0, act_->dropout_offset.data()};
  if (fused_) return run_fused(Program::training, key, nullptr);
  auto& recorded = recorded_steps_[batch_];
  if (!recorded) {
    const T grad_scale = T(1) / T(batch_);
    recorded = backend_.record([this, key, grad_scale] {
      forward(true, key);
      if (config_.label_smoothing > 0)
        backend_.softmax_cross_entropy_smoothed(batch_, dims_.vocab, act_->logits.data(), act_->targets.data(),
                                                T(config_.label_smoothing), grad_scale, act_->d_logits.data(),
                                                act_->stats.data());
      else
        backend_.softmax_cross_entropy(batch_, dims_.vocab, act_->logits.data(), act_->targets.data(), grad_scale,
                                       act_->d_logits.data(), act_->stats.data());
      backward(key);
    });
  }
  recorded->replay();
}

template <typename T>
void BasicModel<T>::train_step(std::uint64_t dropout_seed, BasicAdamax<T>& optimizer) {
  if (optimizer.size() != params_.size())
    throw ShapeError("train_step: the optimiser holds " + std::to_string(optimizer.size()) +
                     " moments for a model of " + std::to_string(params_.size()) + " parameters");
  const std::uint64_t step = std::uint64_t(optimizer.steps_taken());
  if (!fused_) {
    train_step(dropout_seed, step);
    backend_.mark_phase("adamax");
    optimizer.step(params_.data(), grads_.data());
    backend_.mark_phase("");
    return;
  }
  require_targets("train_step");
  stage_dropout_offset(step);
  const std::int64_t update = optimizer.steps_taken() + 1;  // Adamax counts steps from 1
  backend_.copy_to_device(act_->adamax_step.data(), &update, sizeof update);
  if (dropout_seed != recorded_seed_) {
    recorded_steps_.clear();
    recorded_programs_.clear();
    recorded_seed_ = dropout_seed;
  }
  run_fused(Program::training, DropoutKey{dropout_seed, rng_stream::dropout, 0, act_->dropout_offset.data()},
            &optimizer);
  ++optimizer.steps_;  // the update ran inside the program
}

template <typename T>
std::vector<ProgramOp> BasicModel<T>::training_program(std::uint64_t dropout_seed, BasicAdamax<T>* optimizer) {
  if (!fused_) throw ConfigError("training_program: the " + backend_.name() + " backend runs the classic schedule");
  require_targets("training_program");
  return fused_program(Program::training, DropoutKey{dropout_seed, rng_stream::dropout, 0, act_->dropout_offset.data()},
                       optimizer);
}

template <typename T>
void BasicModel<T>::evaluate_step() {
  require_targets("evaluate_step");
  if (fused_) return run_fused(Program::evaluation, DropoutKey{}, nullptr);
  forward(false, DropoutKey{});
  backend_.softmax_cross_entropy(batch_, dims_.vocab, act_->logits.data(), act_->targets.data(), T(0), nullptr,
                                 act_->stats.data());
}

template <typename T>
std::vector<T> BasicModel<T>::predict() {
  if (batch_ == 0) throw ShapeError("predict: no batch was set");
  if (fused_) {
    run_fused(Program::prediction, DropoutKey{}, nullptr);
  } else {
    forward(false, DropoutKey{});
    backend_.softmax(batch_, dims_.vocab, act_->logits.data(), act_->probs.data());
  }
  std::vector<T> probs(std::size_t(batch_) * std::size_t(dims_.vocab));
  backend_.copy_to_host(probs.data(), act_->probs.data(), probs.size() * sizeof(T));
  return probs;
}

template <typename T>
std::vector<T> BasicModel<T>::download_activation(std::string_view name) {
  const Activations& a = *act_;
  const std::size_t steps = std::size_t(dims_.window) * std::size_t(batch_);
  const T* source = nullptr;
  std::size_t width = 0;
  if (name == "lstm1.x" || name == "lstm2.x") {
    const int layer = name == "lstm1.x" ? 0 : 1;
    source = last_lstm_input_[layer];
    width = std::size_t(layer == 0 ? dims_.input : dims_.hidden1);
  } else if (name == "lstm1.h" || name == "lstm1.h_masked") {
    source = name == "lstm1.h" ? a.h1.data() : last_recurrent_masked_ ? a.h1_masked.data() : nullptr;
    width = std::size_t(dims_.hidden1);
  } else if (name == "lstm2.h" || name == "lstm2.h_masked") {
    source = name == "lstm2.h" ? a.h2.data() : last_recurrent_masked_ ? a.h2_masked.data() : nullptr;
    width = std::size_t(dims_.hidden2);
  } else {
    throw ConfigError("download_activation: unknown buffer '" + std::string(name) + "'");
  }
  if (fused_ || !source || batch_ == 0)
    throw ConfigError("download_activation: the last forward wrote no '" + std::string(name) + "'");
  std::vector<T> host(steps * width);
  backend_.copy_to_host(host.data(), source, host.size() * sizeof(T));
  return host;
}

template <typename T>
void BasicModel<T>::reset_stats() {
  const double zeros[2] = {0.0, 0.0};
  backend_.copy_to_device(act_->stats.data(), zeros, sizeof zeros);
}

template <typename T>
BatchStats BasicModel<T>::read_stats() {
  double host[2];
  backend_.copy_to_host(host, act_->stats.data(), sizeof host);
  return BatchStats{host[0], host[1]};
}

template class BasicModel<float>;
template class BasicModel<double>;

}  // namespace nocturne
