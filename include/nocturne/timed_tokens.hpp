#pragma once
// Timed tokens: the recipe's note and chord symbols with their rhythm, as
// separate events in one stream (docs/tokenizer.md, "Timed tokens"):
//
//   symbol  d<duration>...  s<shift>...   symbol  d<duration>...  ...
//
// A symbol is a recipe token ("C#4", "0.4.7"); the duration tokens after it
// add up to how long it sounds; the shift tokens after those add up to the
// time from its onset to the next symbol's (none: the next one starts with
// it). A rest is a shift past the end of every sounding note; shifts before
// the first symbol are the rest the piece opens with. Values are quarter
// notes as reduced fractions ("d1/3", "s3/4", "d2"), at most
// timed_max_quarters each: a longer value is several tokens ("d4 d1/2").
// The same model, window and head as the recipe's read this stream.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "nocturne/export.hpp"
#include "nocturne/corpus.hpp"
#include "nocturne/midi.hpp"
#include "nocturne/tokenizer.hpp"

namespace nocturne::inline v0 {

// TokenKind (nocturne/corpus.hpp) by name.
NOCTURNE_API std::string_view token_kind_name(TokenKind kind);  // "recipe", "timed"
// Throws ConfigError naming the value ("recipe" or "timed" expected).
NOCTURNE_API TokenKind parse_token_kind(std::string_view name);

// The largest value of one duration or shift token, in kUnitsPerQuarter units (4 quarters).
inline constexpr std::int64_t timed_max_units = 4 * kUnitsPerQuarter;

enum class TimedComponent { symbol, duration, shift };
// Which part of the stream a token belongs to; nullopt for a token that is
// neither a recipe symbol nor a duration or shift token.
NOCTURNE_API std::optional<TimedComponent> timed_component(std::string_view token);
// The value of a duration or shift token in kUnitsPerQuarter units. Throws
// ConfigError for anything else ("d0" is a grace note's duration).
NOCTURNE_API std::int64_t timed_token_units(std::string_view token);
// "d1/3", "s2" for units (0 <= units <= timed_max_units; 0 only for durations).
NOCTURNE_API std::string duration_token(std::int64_t units);
NOCTURNE_API std::string shift_token(std::int64_t units);

// The notes and chords of a file for the timed stream: every track's notes
// taken as one part (a piano piece is one instrument; the decoder writes one
// track), each pitch's note-ons and note-offs paired first in, first out;
// every onset and offset snapped to the nearer of the 1/4 and 1/3 grids
// (music21's grid, without its look-ahead, so that a decoded file snaps to
// itself); notes that then start and end together form a chord (the recipe's
// symbol). Not split at bar lines (a tie is notation: the score makes it
// again). A note the grid would shorten to nothing lasts to the next grid
// point; a zero-length note stays a grace note (duration 0). Ordered by
// onset, then the longer first, then by symbol. Throws ConfigError past the
// options' limits.
NOCTURNE_API std::vector<MusicElement> timed_elements(const MidiFile& file, const TokenizerOptions& options = {});
// The stream of those elements.
NOCTURNE_API std::vector<std::string> timed_tokens(std::span<const MusicElement> elements);
NOCTURNE_API std::vector<std::string> tokenize_timed(const MidiFile& file, const TokenizerOptions& options = {});
// read_midi, then tokenize_timed; every failure is a FileError naming the file.
NOCTURNE_API std::vector<std::string> tokenize_timed_file(const std::filesystem::path& path,
                                                       const TokenizerOptions& options = {});

// One decoded note or chord: onset and duration in kUnitsPerQuarter units.
struct NOCTURNE_API TimedEvent {
  std::int64_t offset = 0;
  std::int64_t duration = 0;
  std::vector<int> pitches;  // token_pitches of the symbol (chords in octave 4)
  std::string symbol;
};

// Reads a stream as written above, and any stream a model writes: a duration
// token with no symbol before it, since the last shift, is ignored; a symbol
// without a duration token keeps the previous symbol's duration (a quarter
// for the first). A chord's pitch classes go to octave 4, or the nearest
// octave where that pitch is not sounding already; a one-class chord (an
// octave doubling) to two octaves. Throws ConfigError for a token that is
// none of the three kinds.
NOCTURNE_API std::vector<TimedEvent> decode_timed(std::span<const std::string> tokens);
// The events as MIDI (format 1): track 0 tempo and 4/4, track 1 the notes of
// every event at its onset and duration. Zero durations (grace notes) stay zero.
NOCTURNE_API MidiFile timed_events_to_midi(std::span<const TimedEvent> events, const DecodeOptions& options = {});
NOCTURNE_API MidiFile timed_tokens_to_midi(std::span<const std::string> tokens, const DecodeOptions& options = {});

}  // namespace nocturne
