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
  config.validate();
  const int f = config.input_size();
  auto add = [&](std::string name, int rows, int cols) {
    views_.push_back(ParameterView{std::move(name), buffer_size_, rows, cols});
    const std::size_t size = views_.back().size();
    buffer_size_ += (size + kAlignElements - 1) / kAlignElements * kAlignElements;
  };
  if (config.input == InputMode::embedding) add("embedding", config.vocab, config.embedding_dim);
  add("lstm1.W", f, 4 * config.hidden1);
  add("lstm1.R", config.hidden1, 4 * config.hidden1);
  add("lstm1.b", 1, 4 * config.hidden1);
  add("lstm2.W", config.hidden1, 4 * config.hidden2);
  add("lstm2.R", config.hidden2, 4 * config.hidden2);
  add("lstm2.b", 1, 4 * config.hidden2);
  add("dense1.W", config.hidden2, config.dense);
  add("dense1.b", 1, config.dense);
  add("dense2.W", config.dense, config.vocab);
  add("dense2.b", 1, config.vocab);
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
