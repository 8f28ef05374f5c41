#pragma once
// A training run's complete state in one file: what a model needs to
// generate, and what training needs to resume exactly. The byte layout is
// documented in docs/checkpoint-format.md.
//
// Random state: every random draw comes from the counter-based generator
// (rng.hpp) keyed by the seed, so the seed, epochs_done and optimizer_steps
// are the whole generator state; nothing else needs saving.

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "nocturne/export.hpp"
#include "nocturne/model.hpp"
#include "nocturne/trainer.hpp"

namespace nocturne::inline v0 {

inline constexpr std::uint32_t checkpoint_format_version = 1;
// The first eight bytes of every checkpoint.
inline constexpr char checkpoint_magic[8] = {'N', 'O', 'C', 'T', 'C', 'K', 'P', 'T'};

struct NOCTURNE_API Checkpoint {
  ModelConfig model;
  TrainerConfig trainer;                // seed, batch, Adamax settings
  std::vector<std::string> vocabulary;  // symbol of each index; size == model.vocab
  int epochs_total = 0;                 // the epochs the run plans in all (0: not said)
  int epochs_done = 0;
  std::int64_t optimizer_steps = 0;
  std::vector<float> parameters;     // the flat buffer, ParameterLayout(model).buffer_size() values
  std::vector<float> first_moment;   // Adamax m, same size (may be empty: generation only)
  std::vector<float> infinity_norm;  // Adamax u, same size (may be empty)
  std::string metadata;              // JSON text: data folder, split, history..., not interpreted here
};

// Writes to a temporary file beside `path`, flushes it to disk and renames it
// into place, so a reader never sees half a checkpoint (a link at `path` is
// followed, docs/cli.md "Output files"). Throws FileError.
NOCTURNE_API void save_checkpoint(const std::filesystem::path& path, const Checkpoint& checkpoint);

// Validates magic, version, sizes, offsets and checksum before allocating or
// trusting anything; then that every vocabulary symbol is a note or chord
// token, none repeated, and that every parameter (and moment) is finite.
// Throws FileError naming the file and what is wrong (the symbol, the tensor).
NOCTURNE_API Checkpoint load_checkpoint(const std::filesystem::path& path);

// The bytes save_checkpoint writes. Throws ConfigError when the checkpoint is
// inconsistent (a vocabulary or buffer of the wrong size, a symbol that is
// not a token or repeats).
NOCTURNE_API std::vector<std::uint8_t> encode_checkpoint(const Checkpoint& checkpoint);
// Parses and validates bytes held in memory; `name` only appears in messages.
NOCTURNE_API Checkpoint decode_checkpoint(std::span<const std::uint8_t> bytes, std::string_view name);

}  // namespace nocturne
