#include "nocturne/optimizer.hpp"

#include <atomic>
#include <cmath>
#include <string>

#include "nocturne/error.hpp"

namespace nocturne::inline v0 {

void validate(const AdamaxParams& p) {
  auto bad = [](const char* field, double value, const char* rule) {
    throw ConfigError(std::string(field) + " must be " + rule + ", got " + std::to_string(value));
  };
  if (!(std::isfinite(p.learning_rate) && p.learning_rate > 0)) bad("learning rate", p.learning_rate, "finite and > 0");
  if (!(p.beta1 >= 0 && p.beta1 < 1)) bad("beta1", p.beta1, "in [0, 1)");
  if (!(p.beta2 >= 0 && p.beta2 < 1)) bad("beta2", p.beta2, "in [0, 1)");
  if (!(std::isfinite(p.epsilon) && p.epsilon >= 0)) bad("epsilon", p.epsilon, "finite and >= 0");
  if (!(std::isfinite(p.weight_decay) && p.weight_decay >= 0)) bad("weight decay", p.weight_decay, "finite and >= 0");
}

namespace {

std::uint64_t next_optimizer_id() {
  static std::atomic<std::uint64_t> next_id{1};
  return next_id++;
}

bool decays(const std::string& view) {
  return view.ends_with(".W") || view.ends_with(".R");
}

}  // namespace

template <typename T>
BasicAdamax<T>::BasicAdamax(BasicBackend<T>& backend, std::size_t size, const AdamaxParams& params)
    : backend_(backend), params_(params) {
  id_ = next_optimizer_id();
  validate(params);
  m_ = backend.template allocate<T>(size);
  u_ = backend.template allocate<T>(size);
  ranges_.push_back(Range{0, size, params.weight_decay > 0});
}

template <typename T>
BasicAdamax<T>::BasicAdamax(BasicModel<T>& model, const AdamaxParams& params)
    : BasicAdamax(model.backend(), model.parameters().size(), params) {
  model_ = &model;
  if (params.weight_decay == 0) return;
  // Runs of the buffer with and without decay (padding goes without).
  ranges_.clear();
  std::size_t at = 0;
  for (const ParameterView& v : model.layout().views()) {
    if (!decays(v.name)) continue;
    if (v.offset > at) ranges_.push_back(Range{at, v.offset - at, false});
    if (!ranges_.empty() && ranges_.back().decay && ranges_.back().offset + ranges_.back().count == v.offset)
      ranges_.back().count += v.size();
    else
      ranges_.push_back(Range{v.offset, v.size(), true});
    at = v.offset + v.size();
  }
  if (at < m_.size()) ranges_.push_back(Range{at, m_.size() - at, false});
}

template <typename T>
void BasicAdamax<T>::set_learning_rate(double learning_rate) {
  if (learning_rate == params_.learning_rate) return;
  AdamaxParams changed = params_;
  changed.learning_rate = learning_rate;
  validate(changed);
  params_ = changed;
  id_ = next_optimizer_id();  // a fused model's recorded update holds the old rate
}

template <typename T>
std::vector<T> BasicAdamax<T>::download_first_moment() {
  std::vector<T> m = backend_.download(m_);
  return model_ ? model_->to_keras_layout(m) : m;
}

template <typename T>
std::vector<T> BasicAdamax<T>::download_infinity_norm() {
  std::vector<T> u = backend_.download(u_);
  return model_ ? model_->to_keras_layout(u) : u;
}

template <typename T>
void BasicAdamax<T>::step(T* params, const T* grads) {
  ++steps_;
  for (const Range& r : ranges_) {
    AdamaxParams hp = params_;
    if (!r.decay) hp.weight_decay = 0;
    backend_.adamax(r.count, params + r.offset, grads + r.offset, m_.data() + r.offset, u_.data() + r.offset, hp,
                    steps_);
  }
}

template <typename T>
void BasicAdamax<T>::restore(std::int64_t steps_taken, std::span<const T> first_moment,
                             std::span<const T> infinity_norm) {
  if (first_moment.size() != m_.size() || infinity_norm.size() != u_.size())
    throw ShapeError("optimiser state: expected " + std::to_string(m_.size()) + " values per moment, got " +
                     std::to_string(first_moment.size()) + " and " + std::to_string(infinity_norm.size()));
  if (steps_taken < 0) throw ShapeError("optimiser state: negative step count");
  if (model_) {
    const std::vector<T> m = model_->to_backend_layout(first_moment), u = model_->to_backend_layout(infinity_norm);
    backend_.copy_to_device(m_.data(), m.data(), m.size() * sizeof(T));
    backend_.copy_to_device(u_.data(), u.data(), u.size() * sizeof(T));
  } else {
    backend_.copy_to_device(m_.data(), first_moment.data(), first_moment.size_bytes());
    backend_.copy_to_device(u_.data(), infinity_norm.data(), infinity_norm.size_bytes());
  }
  steps_ = steps_taken;
}

template class BasicAdamax<float>;
template class BasicAdamax<double>;

}  // namespace nocturne
