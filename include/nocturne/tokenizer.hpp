#pragma once
// MIDI -> tokens, reproducing the tokens music21 (9.3 and later) gives the
// recipe: a single note is its spelled name with octave ("C#4", "E-2"), a chord
// is the pitch classes of its Forte normal order joined by '.' ("0.4.7").
// docs/tokenizer.md lists the rules and the measured parity with music21.

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "nocturne/export.hpp"
#include "nocturne/midi.hpp"

namespace nocturne::inline v0 {

// Positions and lengths after quantization, in 1/192 of a quarter note: every
// point of the 1/4 and 1/3 grids and every bar length up to x/64 is whole.
inline constexpr std::int64_t kUnitsPerQuarter = 192;

struct NOCTURNE_API TokenizerOptions {
  // Split notes and chords that cross a barline into one token per bar, as
  // music21 does when it makes measures (bars from the conductor's time signatures).
  bool split_at_barlines = true;
  // Chord window: notes whose onsets lie closer than ticks_per_quarter / chord_window_divisor
  // to the first note's onset (and whose offsets lie within it) form a chord.
  // 4 = music21 >= 7 with the default quantization; older music21 used 16.
  int chord_window_divisor = 4;
  // Limits that only a damaged file reaches (the whole Chopin corpus is 57,886
  // tokens): past them tokenize throws ConfigError instead of running out of
  // memory on, say, one note that a corrupt delta time stretched over a
  // million bars.
  std::int64_t max_bars = 1 << 20;
  std::int64_t max_tokens = 1 << 20;
};

// One note or chord as music21 would place it in a measure (a tied piece of a
// longer element is an element of its own).
struct NOCTURNE_API MusicElement {
  std::int64_t offset = 0;    // kUnitsPerQuarter units from the start
  std::int64_t duration = 0;  // kUnitsPerQuarter units; 0 for a grace note
  std::vector<int> pitches;   // MIDI numbers in creation order; size 1 = a single note
  bool is_chord = false;
  bool tied_from_previous_bar = false;
  int track = 0;
  std::string token;
};

// MIDI note number -> spelled name with octave: 60 -> "C4", 70 -> "B-4", 0 -> "C-1".
NOCTURNE_API std::string pitch_name(int midi_pitch);
// Inverse of pitch_name (also accepts "Db4", "C##4" spellings); throws ConfigError when malformed.
NOCTURNE_API int parse_pitch_name(std::string_view name);

// Forte normal order of a set of pitch classes (music21 >= 9.3 Chord.normalOrder).
NOCTURNE_API std::vector<int> normal_order(std::span<const int> pitch_classes);
// The token of a chord made of these MIDI pitches: normal order joined by '.'.
NOCTURNE_API std::string chord_token(std::span<const int> midi_pitches);

// All notes and chords of a file, in music21's output order. Throws ConfigError
// past the options' limits.
NOCTURNE_API std::vector<MusicElement> tokenize_elements(const MidiFile& file, const TokenizerOptions& options = {});
// The token strings of tokenize_elements.
NOCTURNE_API std::vector<std::string> tokenize(const MidiFile& file, const TokenizerOptions& options = {});
// read_midi, then tokenize; every failure is a FileError naming the file.
NOCTURNE_API std::vector<std::string> tokenize_file(const std::filesystem::path& path,
                                                    const TokenizerOptions& options = {});

// Decoding as the recipe does: a note token -> its MIDI pitch; a chord token ->
// 60 + each pitch class (octave 4). Throws ConfigError for a malformed token.
NOCTURNE_API std::vector<int> token_pitches(std::string_view token);
NOCTURNE_API bool is_chord_token(std::string_view token);

}  // namespace nocturne
