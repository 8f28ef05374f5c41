#pragma once
// Fine-tuning (train --init-from, docs/quality.md): a new run starts from
// another model's weights. Vocabularies are merged by symbol: the run keeps
// its own vocabulary; a symbol the source knows keeps the source's rows
// (embedding row, output column and bias), the others keep the fresh model's.

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "nocturne/checkpoint.hpp"

namespace nocturne::inline v0 {

// For each symbol of `target`, its index in `source`, or -1.
std::vector<std::int32_t> map_vocabulary(std::span<const std::string> target, std::span<const std::string> source);

// Throws ConfigError naming the first layer size (or the input encoding)
// that differs, and refusing scalar input with another vocabulary: index / V
// means another symbol when V or the order changes. `source_name` leads the message.
void check_init_from(const ModelConfig& source, const ModelConfig& target, bool same_vocabulary,
                     const std::string& source_name);

// `fresh` (the target model's initialisation, Keras layout) with every
// tensor that does not depend on the vocabulary taken whole from the source,
// and the vocabulary's rows of the symbols the source knows taken from their
// source rows. Throws ShapeError for buffers of the wrong size.
std::vector<float> merge_parameters(const ModelConfig& target, std::span<const float> fresh, const Checkpoint& source,
                                    std::span<const std::int32_t> mapping);

// What the run records in its metadata ("init_from"): the source's path, run
// id and epoch, and the mapping (source index per target symbol, -1 = new).
nlohmann::json init_from_record(const std::string& path, const Checkpoint& source,
                                std::span<const std::int32_t> mapping);

}  // namespace nocturne
