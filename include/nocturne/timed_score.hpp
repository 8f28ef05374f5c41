#pragma once
// The score of timed music (timed_tokens.hpp): real durations, rests, ties
// across bar lines, in 4/4, as MusicXML and as LilyPond (engraved to PNG).
// Part of the render library.

#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "nocturne/export.hpp"
#include "nocturne/timed_tokens.hpp"

namespace nocturne::inline v0 {

// A MusicXML 3.1 partwise score: one piano part, 4/4, treble clef, pitches
// spelled with sharps. Time is cut at every onset, every end and every bar
// line; each piece is a chord of the pitches sounding in it (tied to the
// piece before or after where a note goes on) or a rest. Durations are in
// divisions of the smallest step the music needs; standard values get their
// note type (dotted, or a triplet with its time modification). Grace notes
// (duration 0) are left out. Throws ConfigError for a pitch outside 0..127 or
// a negative onset or duration.
NOCTURNE_API std::string timed_musicxml_text(std::span<const TimedEvent> events, const std::string& title);
NOCTURNE_API void write_timed_musicxml(const std::filesystem::path& path, std::span<const TimedEvent> events,
                          const std::string& title);

// The same music for LilyPond, on a piano staff (treble from middle C up,
// bass below), each staff cut at its own onsets, ends and bar lines: chords,
// ties and rests as in the MusicXML; a piece of no single note value is
// written as tied values, triplets as \tuplet 3/2, and a bar check ends every
// bar. Throws as timed_musicxml_text.
NOCTURNE_API std::string timed_lilypond_text(std::span<const TimedEvent> events, const std::string& title);
// Engraves timed_lilypond_text to `png` as write_lilypond_png (nocturne/render.hpp)
// does the recipe's score: the .ly beside it, the pages it returns, the log
// and the errors; nothing where LilyPond is not installed.
NOCTURNE_API std::vector<std::filesystem::path> write_timed_lilypond_png(const std::filesystem::path& png,
                                                                         std::span<const TimedEvent> events,
                                                                         const std::string& title);

}  // namespace nocturne
