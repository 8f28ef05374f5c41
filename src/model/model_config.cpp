#include <cmath>
#include <string>
#include <utility>

#include "core/narrow_dim.hpp"
#include "nocturne/error.hpp"
#include "nocturne/model.hpp"

namespace nocturne::inline v0 {

const char* input_mode_name(InputMode mode) { return mode == InputMode::embedding ? "embedding" : "scalar"; }

InputMode parse_input_mode(std::string_view name) {
  if (name == "scalar") return InputMode::scalar;
  if (name == "embedding") return InputMode::embedding;
  throw ConfigError("input mode: unknown value '" + std::string(name) + "' (expected scalar or embedding)");
}

namespace {
// No model we can train comes near 2^20 in any dimension; the bound keeps
// every size product of the layout (4 x hidden in an int, say) far from overflow.
constexpr std::int64_t kMaxDimension = std::int64_t{1} << 20;

void require_positive(const char* field, std::int64_t value) {
  if (value <= 0) throw ConfigError(std::string(field) + " must be positive, got " + std::to_string(value));
  if (value > kMaxDimension)
    throw ConfigError(std::string(field) + " must be at most " + std::to_string(kMaxDimension) + ", got " +
                      std::to_string(value));
}
}  // namespace

void ModelConfig::validate() const {
  require_positive("vocabulary size", vocab);
  require_positive("window", window);
  require_positive("hidden1", hidden1);
  require_positive("hidden2", hidden2);
  require_positive("dense", dense);
  if (input == InputMode::embedding) require_positive("embedding_dim", embedding_dim);
  const std::pair<const char*, double> rates[] = {{"dropout", dropout},
                                                  {"input dropout", input_dropout},
                                                  {"recurrent dropout", recurrent_dropout},
                                                  {"label smoothing", label_smoothing}};
  for (const auto& [field, rate] : rates)
    if (!(rate >= 0.0 && rate < 1.0))
      throw ConfigError(std::string(field) + " must lie in [0, 1), got " + std::to_string(rate));
  if (input != InputMode::scalar && input != InputMode::embedding)
    throw ConfigError("input mode: unknown value " + std::to_string(int(input)));
}

ModelDims model_dims(const ModelConfig& config) {
  config.validate();
  ModelDims dims;
  dims.vocab = narrow_dim(config.vocab, "vocabulary size");
  dims.window = narrow_dim(config.window, "window");
  dims.hidden1 = narrow_dim(config.hidden1, "hidden1");
  dims.hidden2 = narrow_dim(config.hidden2, "hidden2");
  dims.dense = narrow_dim(config.dense, "dense");
  if (config.input == InputMode::embedding) dims.embedding_dim = narrow_dim(config.embedding_dim, "embedding_dim");
  dims.input = narrow_dim(config.input_size(), "input size");
  return dims;
}

}  // namespace nocturne
