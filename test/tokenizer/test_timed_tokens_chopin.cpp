// Timed tokens on the Chopin corpus: tokenize -> decode -> MIDI bytes ->
// tokenize gives the same tokens for all 48 files, and every original note is
// decoded within one grid step. Exits 77 (skipped) where the corpus is absent.

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>
#include <string>

#include "nocturne/corpus.hpp"
#include "nocturne/timed_tokens.hpp"
#include "test_support.hpp"

using namespace nocturne;
using Tokens = std::vector<std::string>;

static const bool needs_corpus = nocturne::test::require_chopin();

namespace {

constexpr std::int64_t Q = kUnitsPerQuarter;

Tokens round_trip(const Tokens& tokens) {
  const std::vector<std::uint8_t> bytes = encode_midi(timed_tokens_to_midi(tokens));
  return tokenize_timed(read_midi_bytes(bytes, "decoded.mid"));
}

}  // namespace

namespace {
// How many of the original file's notes a decoded note of the same pitch
// (pitch class for chords, whose symbols hold no octave) matches within one
// grid step of onset and duration.
struct Closeness {
  std::int64_t notes = 0, within = 0;
};
Closeness compare_notes(const MidiFile& original, const std::vector<TimedEvent>& events) {
  Closeness c;
  const double step = 0.25;  // quarters: the coarser of the 1/4 and 1/3 grids' spacing between neighbours
  for (const MidiTrack& track : original.tracks)
    for (const Note& n : track.notes) {
      ++c.notes;
      const double on = double(n.on_tick) / original.ticks_per_quarter;
      const double dur = double(n.duration()) / original.ticks_per_quarter;
      // Events are in onset order: look from the first that may be close.
      const auto first = std::lower_bound(events.begin(), events.end(), (on - step) * Q,
                                          [](const TimedEvent& e, double units) { return double(e.offset) < units; });
      bool found = false;
      for (auto e = first; e != events.end() && double(e->offset) / Q <= on + step && !found; ++e) {
        const bool pitch_ok =
            is_chord_token(e->symbol)
                ? std::any_of(e->pitches.begin(), e->pitches.end(), [&](int p) { return p % 12 == n.pitch % 12; })
                : e->pitches[0] == n.pitch;
        found = pitch_ok && std::abs(double(e->duration) / Q - dur) <= step;
      }
      c.within += found;
    }
  return c;
}
}  // namespace

TEST_CASE("timed tokens: the Chopin corpus round-trips") {
  const auto paths = find_midi_files(*nocturne::test::chopin_dir());
  REQUIRE(paths.size() == 48);
  std::int64_t same = 0, notes = 0, within = 0;
  for (const auto& path : paths) {
    const MidiFile file = read_midi(path);
    const Tokens t = tokenize_timed(file);
    const Tokens again = round_trip(t);
    INFO(path.filename().string());
    CHECK(again == t);
    same += again == t;
    const Closeness c = compare_notes(file, decode_timed(t));
    notes += c.notes;
    within += c.within;
  }
  CHECK(same == 48);
  WARN("notes within one grid step of onset and duration: " << within << " of " << notes);
  CHECK(within == notes);
}
