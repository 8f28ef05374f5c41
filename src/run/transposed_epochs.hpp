#pragma once
// A run's training pieces in the keys --transpose allows (docs/quality.md):
// each piece read again from its MIDI file, shifted and tokenized into the
// run's stream (recipe or timed), its symbols mapped through the run's
// vocabulary (the untransposed corpus's).

#include <filesystem>
#include <vector>

#include "nocturne/corpus.hpp"
#include "tokenizer/transpose.hpp"

namespace nocturne::inline v0 {

// The pieces of `dataset` that hold no held-out window, in dataset order,
// from the MIDI files named by their piece names under `folder`. Throws
// FileError for a file that cannot be read again.
std::vector<TransposedPiece> transpose_training_pieces(const Dataset& dataset, const std::filesystem::path& folder,
                                                       TransposeRange range, TokenKind kind = TokenKind::recipe,
                                                       const TokenizerOptions& options = {});

}  // namespace nocturne
