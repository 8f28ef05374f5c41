#pragma once
// Adamax (the recipe's optimiser) over one flat parameter buffer, with
// optional decoupled weight decay (AdamaxParams::weight_decay). Over a model,
// the decay applies to the weight matrices (lstm*.W, lstm*.R, dense*.W)
// only: not to biases (a shift, not a scale, of a unit's input) nor to the
// embedding (a row learns only where its symbol occurs; decay would pull
// the rows of rare symbols to zero between their occurrences).

#include <cstdint>
#include <span>
#include <vector>

#include "nocturne/backend.hpp"
#include "nocturne/export.hpp"
#include "nocturne/model.hpp"

namespace nocturne::inline v0 {

// Throws ConfigError naming a learning rate, beta, epsilon or weight decay that cannot work.
NOCTURNE_API void validate(const AdamaxParams& params);

template <typename T>
class NOCTURNE_API BasicAdamax {
 public:
  // Over `size` elements of any buffers.
  BasicAdamax(BasicBackend<T>& backend, std::size_t size, const AdamaxParams& params);
  // Over a model's parameter buffer: the moments keep the backend's layout on
  // the device and Keras' layout on the host (download_*, restore), as the
  // parameters do; BasicModel::train_step(seed, optimizer) takes it.
  BasicAdamax(BasicModel<T>& model, const AdamaxParams& params);

  // One update of params from grads (both `size` elements on the device).
  void step(T* params, const T* grads);

  const AdamaxParams& params() const { return params_; }
  // For a learning-rate schedule: the rate of the updates from now on.
  // Throws ConfigError for a rate validate() refuses.
  void set_learning_rate(double learning_rate);
  // A range of the flat buffer and whether weight decay applies to it.
  struct Range {
    std::size_t offset = 0, count = 0;
    bool decay = false;
  };
  // The ranges one update covers, in order (one range without weight decay).
  const std::vector<Range>& ranges() const { return ranges_; }
  std::int64_t steps_taken() const { return steps_; }
  std::size_t size() const { return m_.size(); }

  // The moment buffers, for checkpoints.
  std::vector<T> download_first_moment();
  std::vector<T> download_infinity_norm();
  // Throws ShapeError on a size mismatch.
  void restore(std::int64_t steps_taken, std::span<const T> first_moment, std::span<const T> infinity_norm);

 private:
  // A fused training step runs the update inside its program (on m_ and u_)
  // and counts it here.
  friend class BasicModel<T>;

  BasicBackend<T>& backend_;
  const BasicModel<T>* model_ = nullptr;  // whose layout the moments follow, where given
  AdamaxParams params_;
  Buffer<T> m_, u_;
  std::vector<Range> ranges_;
  std::int64_t steps_ = 0;
  std::uint64_t id_ = 0;  // distinct per optimiser: the model's recordings are kept per optimiser
};

using Adamax = BasicAdamax<float>;

}  // namespace nocturne
