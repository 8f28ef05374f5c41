#pragma once
// `nocturne evaluate --generated`: generated pieces (tokens JSON or MIDI
// files) read, and measured against the corpus the model trained on.

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "nocturne/trained_model.hpp"

namespace nocturne::inline v0::cli {

struct GeneratedPiece {
  std::string name;
  std::vector<std::string> tokens;
};

// Folders (their .tokens.json files, else their MIDI files) or files. Throws FileError.
// MIDI files are tokenized into the model's stream (`tokens`).
std::vector<GeneratedPiece> read_generated(const std::vector<std::string>& inputs,
                                           TokenKind tokens = TokenKind::recipe);

// Puts each piece's statistics into report["generated"] (and the corpus's
// pitch range), printing the table as well when `table`.
void add_generated_statistics(nlohmann::json& report, const std::vector<GeneratedPiece>& pieces,
                              const std::vector<std::string>& vocab, const HeldoutWindows& held, bool table);

}  // namespace nocturne::cli
