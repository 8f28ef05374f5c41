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
}

template <typename T>
BasicAdamax<T>::BasicAdamax(BasicBackend<T>& backend, std::size_t size, const AdamaxParams& params)
    : backend_(backend), params_(params) {
  static std::atomic<std::uint64_t> next_id{1};
  id_ = next_id++;
  validate(params);
  m_ = backend.template allocate<T>(size);
  u_ = backend.template allocate<T>(size);
}

template <typename T>
BasicAdamax<T>::BasicAdamax(BasicModel<T>& model, const AdamaxParams& params)
    : BasicAdamax(model.backend(), model.parameters().size(), params) {
  model_ = &model;
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
  backend_.adamax(m_.size(), params, grads, m_.data(), u_.data(), params_, steps_);
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
