// A run's training pieces in every key they may be drawn in (transposed_epochs.hpp).

#include "run/transposed_epochs.hpp"

#include <algorithm>

#include "nocturne/error.hpp"
#include "nocturne/timed_tokens.hpp"
#include "nocturne/tokenizer.hpp"

namespace nocturne::inline v0 {

std::vector<TransposedPiece> transpose_training_pieces(const Dataset& dataset, const std::filesystem::path& folder,
                                                       TransposeRange range, TokenKind kind,
                                                       const TokenizerOptions& options) {
  std::vector<TransposedPiece> pieces;
  for (const PieceRange& p : dataset.pieces) {
    const auto held = std::lower_bound(dataset.heldout_starts.begin(), dataset.heldout_starts.end(), p.begin);
    if (held != dataset.heldout_starts.end() && *held < p.end) continue;  // held-out pieces stay as written
    const std::filesystem::path path = folder / p.name;
    const MidiFile file = read_midi(path);
    TransposedPiece piece;
    piece.shifts = piano_range_shifts(file, range);
    for (const int shift : piece.shifts) {
      if (shift == 0) {  // the dataset's own tokens: the same vocabulary rule, without tokenizing again
        piece.versions.emplace_back(dataset.tokens.begin() + p.begin, dataset.tokens.begin() + p.end);
        continue;
      }
      try {
        const MidiFile shifted = transpose_midi(file, shift);
        const std::vector<std::string> tokens =
            kind == TokenKind::timed ? tokenize_timed(shifted, options) : tokenize(shifted, options);
        piece.versions.push_back(vocabulary_indices(tokens, dataset.vocab));
        piece.transposed_tokens += std::int64_t(tokens.size());
        piece.dropped += std::int64_t(tokens.size() - piece.versions.back().size());
      } catch (const ConfigError& e) {
        throw FileError(path.string() + ": transposed by " + std::to_string(shift) + ": " + e.what());
      }
    }
    pieces.push_back(std::move(piece));
  }
  return pieces;
}

}  // namespace nocturne
