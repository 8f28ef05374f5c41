#pragma once
// Adamax (the recipe's optimiser) over one flat parameter buffer.

#include <cstdint>
#include <span>
#include <vector>

#include "nocturne/backend.hpp"

namespace nocturne {

// Throws ConfigError naming a learning rate, beta or epsilon that cannot work.
void validate(const AdamaxParams& params);

template <typename T>
class BasicAdamax {
 public:
  BasicAdamax(BasicBackend<T>& backend, std::size_t size, const AdamaxParams& params);

  // One update of params from grads (both `size` elements on the device).
  void step(T* params, const T* grads);

  const AdamaxParams& params() const { return params_; }
  std::int64_t steps_taken() const { return steps_; }
  std::size_t size() const { return m_.size(); }

  // The moment buffers, for checkpoints.
  std::vector<T> download_first_moment() { return backend_.download(m_); }
  std::vector<T> download_infinity_norm() { return backend_.download(u_); }
  // Throws ShapeError on a size mismatch.
  void restore(std::int64_t steps_taken, std::span<const T> first_moment, std::span<const T> infinity_norm);

 private:
  BasicBackend<T>& backend_;
  AdamaxParams params_;
  Buffer<T> m_, u_;
  std::int64_t steps_ = 0;
};

using Adamax = BasicAdamax<float>;

}  // namespace nocturne
