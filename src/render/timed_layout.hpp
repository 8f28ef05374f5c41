#pragma once
// Timed music cut into the pieces a score writes (timed_score.cpp,
// timed_lilypond.cpp): time is cut at every onset, every end and every bar
// line of 4/4; each piece holds the pitches sounding in it, each marked as
// tied from the piece before or into the piece after where the note goes on.

#include <cstdint>
#include <span>
#include <vector>

#include "nocturne/timed_tokens.hpp"

namespace nocturne::inline v0::detail {

constexpr std::int64_t kBarUnits = 4 * kUnitsPerQuarter;  // 4/4

struct TimedTone {
  int pitch;
  bool tied_in, tied_on;
};

struct TimedPiece {
  std::int64_t from, to;
  std::vector<TimedTone> tones;  // by pitch, each pitch once; empty for a rest
};

struct TimedLayout {
  std::int64_t step;  // the coarsest step every cut lies on, in units
  std::int64_t end;   // whole bars, at least one
  std::vector<TimedPiece> pieces;
};

// Grace notes (duration 0) are left out. A pitch struck again while it is
// held sounds as the note that started last. The layout ends with the bar of
// the last end, or at `end_at_least` rounded up to a bar where that is later
// (staves of one score end together). Throws ConfigError for a pitch outside
// 0..127 or a negative onset or duration.
TimedLayout timed_layout(std::span<const TimedEvent> events, std::int64_t end_at_least = 0);

// A note value: its name as MusicXML types it, LilyPond's duration number,
// dots, and whether it is a triplet (3 in the time of 2).
struct NoteValue {
  std::int64_t units;
  const char* type;
  int lily;
  int dots;
  bool triplet;
};
// The value of exactly `units`, or nullptr where it is not a standard one.
const NoteValue* note_value(std::int64_t units);
// `units` as the fewest standard values that add up to it, longest first:
// tied notes or rests in a row. Every multiple of 8 units but 8 has one (the
// grid's 16, a 32nd triplet, and 24, a 32nd, among them); throws ConfigError
// for another length.
std::vector<const NoteValue*> note_values(std::int64_t units);

}  // namespace nocturne::detail
