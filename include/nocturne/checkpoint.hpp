#pragma once
// A training run's complete state in one file: what a model needs to
// generate, and what training needs to resume exactly. The byte layout is
// documented in docs/checkpoint-format.md.

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "nocturne/model.hpp"
#include "nocturne/trainer.hpp"

namespace nocturne {

inline constexpr std::uint32_t checkpoint_format_version = 1;

struct Checkpoint {
  ModelConfig model;
  TrainerConfig trainer;                // seed, batch, epochs, Adamax settings
  std::vector<std::string> vocabulary;  // symbol of each index; size == model.vocab
  int epochs_done = 0;
  std::int64_t optimizer_steps = 0;
  std::vector<float> parameters;     // the flat buffer, ParameterLayout(model).buffer_size() values
  std::vector<float> first_moment;   // Adamax m, same size (may be empty: generation only)
  std::vector<float> infinity_norm;  // Adamax u, same size (may be empty)
  std::string metadata;              // JSON text: data folder, split, history..., not interpreted here
};

// Writes to a temporary file beside `path` and renames it into place, so a
// reader never sees half a checkpoint. Throws FileError.
void save_checkpoint(const std::filesystem::path& path, const Checkpoint& checkpoint);

// Validates magic, version, sizes, offsets and checksum before allocating or
// trusting anything. Throws FileError naming the file and what is wrong.
Checkpoint load_checkpoint(const std::filesystem::path& path);

}  // namespace nocturne
