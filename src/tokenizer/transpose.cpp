// Transposed copies of training pieces (transpose.hpp).

#include "tokenizer/transpose.hpp"

#include <algorithm>
#include <charconv>

#include "core/rng_streams.hpp"
#include "nocturne/error.hpp"
#include "nocturne/rng.hpp"

namespace nocturne::inline v0 {

namespace {

[[noreturn]] void bad_spec(std::string_view spec, const std::string& why) {
  throw ConfigError("--transpose: '" + std::string(spec) + "' " + why +
                    " (expected 0, n for -n..n, a..b with a <= 0 <= b, or all)");
}

int parse_shift(std::string_view spec, std::string_view text) {
  int value = 0;
  const char* first = text.data();
  const char* last = text.data() + text.size();
  if (!text.empty() && text.front() == '+') ++first;
  const auto [end, error] = std::from_chars(first, last, value);
  if (error != std::errc() || end != last || first == last) bad_spec(spec, "is not a shift in semitones");
  if (value < -12 || value > 12) bad_spec(spec, "goes beyond an octave");
  return value;
}

}  // namespace

TransposeRange parse_transpose(std::string_view spec) {
  if (spec == "off") return {};
  if (spec == "all") return {-5, 6};
  const std::size_t dots = spec.find("..");
  if (dots == std::string_view::npos) {
    const int n = parse_shift(spec, spec);
    if (n < 0) bad_spec(spec, "is negative");
    return {-n, n};
  }
  const TransposeRange r{parse_shift(spec, spec.substr(0, dots)), parse_shift(spec, spec.substr(dots + 2))};
  if (r.lowest > 0 || r.highest < 0) bad_spec(spec, "leaves out 0 (the piece as written)");
  return r;
}

MidiFile transpose_midi(const MidiFile& file, int semitones) {
  MidiFile shifted = file;
  for (MidiTrack& track : shifted.tracks)
    for (Note& note : track.notes) {
      const int pitch = note.pitch + semitones;
      if (pitch < 0 || pitch > 127)
        throw ConfigError("transpose by " + std::to_string(semitones) + ": MIDI pitch " + std::to_string(note.pitch) +
                          " would leave 0..127");
      note.pitch = pitch;
    }
  return shifted;
}

std::vector<int> piano_range_shifts(const MidiFile& file, TransposeRange range) {
  int lowest = 127, highest = 0;
  for (const MidiTrack& track : file.tracks)
    for (const Note& note : track.notes) {
      lowest = std::min(lowest, note.pitch);
      highest = std::max(highest, note.pitch);
    }
  std::vector<int> shifts;
  for (int k = range.lowest; k <= range.highest; ++k)
    if (k == 0 || (lowest + k >= kPianoLowest && highest + k <= kPianoHighest)) shifts.push_back(k);
  return shifts;
}

std::vector<std::int32_t> vocabulary_indices(std::span<const std::string> tokens, const Vocabulary& vocab) {
  std::vector<std::int32_t> indices;
  indices.reserve(tokens.size());
  for (const std::string& t : tokens)
    if (const auto i = vocab.find(t)) indices.push_back(*i);
  return indices;
}

TransposedEpoch draw_transposed_epoch(std::span<const TransposedPiece> pieces, std::int64_t window, std::uint64_t seed,
                                      int epoch) {
  TransposedEpoch e;
  for (std::size_t p = 0; p < pieces.size(); ++p) {
    const TransposedPiece& piece = pieces[p];
    if (piece.shifts.empty() || piece.versions.size() != piece.shifts.size())
      throw ConfigError("transposed piece " + std::to_string(p) + ": its shifts and versions do not match");
    const std::uint64_t k = random_below(piece.shifts.size(), seed, rng_stream::transpose,
                                         (std::uint64_t(epoch) << 32) + std::uint64_t(p));
    const std::vector<std::int32_t>& version = piece.versions[k];
    const auto begin = std::int64_t(e.tokens.size());
    e.tokens.insert(e.tokens.end(), version.begin(), version.end());
    for (std::int64_t s = begin; s + window < std::int64_t(e.tokens.size()); ++s) e.starts.push_back(s);
    e.shifts.push_back(piece.shifts[k]);
  }
  return e;
}

}  // namespace nocturne
