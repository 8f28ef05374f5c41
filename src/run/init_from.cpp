// Starting a run from another model's weights (init_from.hpp).

#include "run/init_from.hpp"

#include <algorithm>

#include "nocturne/error.hpp"

namespace nocturne::inline v0 {

std::vector<std::int32_t> map_vocabulary(std::span<const std::string> target, std::span<const std::string> source) {
  std::vector<std::int32_t> mapping;
  mapping.reserve(target.size());
  for (const std::string& symbol : target) {
    const auto it = std::find(source.begin(), source.end(), symbol);
    mapping.push_back(it == source.end() ? -1 : std::int32_t(it - source.begin()));
  }
  return mapping;
}

void check_init_from(const ModelConfig& source, const ModelConfig& target, bool same_vocabulary,
                     const std::string& source_name) {
  const std::pair<const char*, std::pair<int, int>> sizes[] = {{"hidden1", {source.hidden1, target.hidden1}},
                                                               {"hidden2", {source.hidden2, target.hidden2}},
                                                               {"dense", {source.dense, target.dense}}};
  for (const auto& [name, values] : sizes)
    if (values.first != values.second)
      throw ConfigError("--init-from " + source_name + ": its " + name + " is " + std::to_string(values.first) +
                        ", this run's " + std::to_string(values.second) + " (the layer sizes must match)");
  if (source.input != target.input)
    throw ConfigError("--init-from " + source_name + ": its input is " + input_mode_name(source.input) +
                      ", this run's " + input_mode_name(target.input) + " (the input encodings must match)");
  if (target.input == InputMode::embedding && source.embedding_dim != target.embedding_dim)
    throw ConfigError("--init-from " + source_name + ": its embedding_dim is " + std::to_string(source.embedding_dim) +
                      ", this run's " + std::to_string(target.embedding_dim) + " (the layer sizes must match)");
  if (target.input == InputMode::scalar && !same_vocabulary)
    throw ConfigError("--init-from " + source_name +
                      ": its vocabulary differs from this run's, and with --input scalar the input index / V would "
                      "name other symbols; use --input embedding (for both models) to fine-tune across vocabularies");
}

std::vector<float> merge_parameters(const ModelConfig& target, std::span<const float> fresh, const Checkpoint& source,
                                    std::span<const std::int32_t> mapping) {
  const ParameterLayout to(target), from(source.model);
  if (fresh.size() != to.buffer_size() || source.parameters.size() != from.buffer_size() ||
      mapping.size() != std::size_t(target.vocab))
    throw ShapeError("init-from: parameter buffers or vocabulary mapping of the wrong size");
  std::vector<float> merged(fresh.begin(), fresh.end());
  const std::vector<float>& src = source.parameters;
  for (const ParameterView& v : to.views()) {
    const ParameterView& s = from.view(v.name);
    float* out = merged.data() + v.offset;
    const float* in = src.data() + s.offset;
    if (v.name == "embedding") {  // [V, E]: one row per symbol
      for (int r = 0; r < v.rows; ++r)
        if (mapping[std::size_t(r)] >= 0)
          std::copy_n(in + std::size_t(mapping[std::size_t(r)]) * std::size_t(s.cols), v.cols,
                      out + std::size_t(r) * std::size_t(v.cols));
    } else if (v.name == "dense2.W" || v.name == "dense2.b") {  // [D, V] and [1, V]: one column per symbol
      for (int r = 0; r < v.rows; ++r)
        for (int c = 0; c < v.cols; ++c)
          if (mapping[std::size_t(c)] >= 0)
            out[std::size_t(r) * std::size_t(v.cols) + std::size_t(c)] =
                in[std::size_t(r) * std::size_t(s.cols) + std::size_t(mapping[std::size_t(c)])];
    } else {
      if (v.rows != s.rows || v.cols != s.cols)
        throw ShapeError("init-from: " + v.name + " is [" + std::to_string(s.rows) + ", " + std::to_string(s.cols) +
                         "] in the source, [" + std::to_string(v.rows) + ", " + std::to_string(v.cols) + "] here");
      std::copy_n(in, v.size(), out);
    }
  }
  return merged;
}

nlohmann::json init_from_record(const std::string& path, const Checkpoint& source,
                                std::span<const std::int32_t> mapping) {
  const auto shared = std::count_if(mapping.begin(), mapping.end(), [](std::int32_t i) { return i >= 0; });
  nlohmann::json record = {{"checkpoint", path},
                           {"epochs_done", source.epochs_done},
                           {"vocabulary_size", source.vocabulary.size()},
                           {"shared_symbols", shared},
                           {"mapping", std::vector<std::int32_t>(mapping.begin(), mapping.end())}};
  try {
    const nlohmann::json meta = nlohmann::json::parse(source.metadata);
    if (meta.is_object() && meta.contains("run_id")) record["run_id"] = meta.at("run_id");
  } catch (const nlohmann::json::exception&) {
    // metadata that is not a run's: the path and epoch identify the source
  }
  return record;
}

}  // namespace nocturne
