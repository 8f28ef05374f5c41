#pragma once
// Transposition for training (docs/tokenizer.md, "Transposition"): a parsed
// piece's MIDI pitches shifted by semitones, then tokenized as any piece is,
// so note names and chord normal orders come out as the tokenizer writes them.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "nocturne/corpus.hpp"
#include "nocturne/midi.hpp"

namespace nocturne::inline v0 {

// The piano's keys (A0..C8): a shift that would take a piece outside them is not used for it.
inline constexpr int kPianoLowest = 21, kPianoHighest = 108;

// The shifts a training piece may be drawn in, `lowest..highest` semitones (0 = off).
struct TransposeRange {
  int lowest = 0, highest = 0;
  bool off() const { return lowest == 0 && highest == 0; }
};

// "0" or "off" (no transposition), "n" (-n..n), "a..b" (a <= 0 <= b) or "all"
// (-5..6: every key once). Shifts beyond an octave are refused. Throws
// ConfigError naming --transpose.
TransposeRange parse_transpose(std::string_view spec);

// Every note of every track shifted by `semitones`; throws ConfigError when
// a pitch would leave 0..127.
MidiFile transpose_midi(const MidiFile& file, int semitones);

// The shifts of `range` that keep every note of `file` within the piano
// (kPianoLowest..kPianoHighest), ascending; 0 always (the piece as written).
std::vector<int> piano_range_shifts(const MidiFile& file, TransposeRange range);

// `tokens` as indices of `vocab`; a symbol outside it is dropped, as
// build_dataset drops the symbols rarer than min_count.
std::vector<std::int32_t> vocabulary_indices(std::span<const std::string> tokens, const Vocabulary& vocab);

// One training piece in each of the keys it may be drawn in.
struct TransposedPiece {
  std::vector<int> shifts;                           // ascending, 0 included
  std::vector<std::vector<std::int32_t>> versions;   // versions[k]: the piece shifted by shifts[k]
  std::int64_t transposed_tokens = 0, dropped = 0;   // over the shifted versions: tokens made, outside the vocabulary
};

// An epoch's training windows when every piece is drawn in one of its keys:
// piece p in epoch e (counted from 1) takes shifts[random_below(shifts, seed,
// transpose stream, (e << 32) + p)], so an epoch keeps its size and a resumed
// run draws what it would have drawn. Windows lie inside one piece.
struct TransposedEpoch {
  std::vector<std::int32_t> tokens;
  std::vector<std::int64_t> starts;  // ascending
  std::vector<int> shifts;           // the shift drawn for each piece
};
TransposedEpoch draw_transposed_epoch(std::span<const TransposedPiece> pieces, std::int64_t window,
                                      std::uint64_t seed, int epoch);

}  // namespace nocturne
