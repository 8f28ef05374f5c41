#include <numeric>

#include "nocturne/error.hpp"
#include "nocturne/model.hpp"

namespace nocturne::inline v0 {

namespace {
// Every view starts on a 128-byte boundary (32 floats) so device GEMMs see
// aligned matrices; the padding holds zeros that never change.
constexpr std::size_t kAlignElements = 32;
}  // namespace

ParameterLayout::ParameterLayout(const ModelConfig& config) {
  const ModelDims dims = model_dims(config);  // validates
  auto add = [&](std::string name, int rows, int cols) {
    views_.push_back(ParameterView{std::move(name), buffer_size_, rows, cols});
    const std::size_t size = views_.back().size();
    buffer_size_ += (size + kAlignElements - 1) / kAlignElements * kAlignElements;
  };
  if (config.input == InputMode::embedding) add("embedding", dims.vocab, dims.embedding_dim);
  add("lstm1.W", dims.input, 4 * dims.hidden1);
  add("lstm1.R", dims.hidden1, 4 * dims.hidden1);
  add("lstm1.b", 1, 4 * dims.hidden1);
  add("lstm2.W", dims.hidden1, 4 * dims.hidden2);
  add("lstm2.R", dims.hidden2, 4 * dims.hidden2);
  add("lstm2.b", 1, 4 * dims.hidden2);
  add("dense1.W", dims.hidden2, dims.dense);
  add("dense1.b", 1, dims.dense);
  add("dense2.W", dims.dense, dims.vocab);
  add("dense2.b", 1, dims.vocab);
}

const ParameterView& ParameterLayout::view(std::string_view name) const {
  for (const auto& v : views_)
    if (v.name == name) return v;
  throw ConfigError("no parameter named '" + std::string(name) + "'");
}

std::size_t ParameterLayout::parameter_count() const {
  return std::accumulate(views_.begin(), views_.end(), std::size_t{0},
                         [](std::size_t sum, const ParameterView& v) { return sum + v.size(); });
}

}  // namespace nocturne
