#pragma once
// A small corpus of piano pieces generated in code, so that training can be
// tried without downloading anything: chord progressions, arpeggios and
// melodies in a few major and minor keys. Every file's track is named
// "Nocturne demo corpus, generated: ...". With --min-count 1 the corpus
// pipeline gives a vocabulary of a few dozen symbols and a few thousand windows.

#include <filesystem>
#include <vector>

#include "nocturne/export.hpp"
#include "nocturne/midi.hpp"

namespace nocturne::inline v0 {

// The track-name prefix of every demo piece.
inline constexpr const char* demo_corpus_label = "Nocturne demo corpus, generated";

// Piece `index` (0-based) of the demo corpus; the same index always gives the same piece.
NOCTURNE_API MidiFile demo_piece(int index);

// Writes pieces 0..count-1 as demo-NN.mid into `folder` (created when absent)
// and returns their paths. Throws ConfigError for count < 1, FileError when a
// file cannot be written.
NOCTURNE_API std::vector<std::filesystem::path> write_demo_corpus(const std::filesystem::path& folder, int count = 16);

}  // namespace nocturne
