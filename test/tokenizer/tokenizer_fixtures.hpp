#pragma once
// Small MIDI files built in memory for the tokenizer rules.

#include <vector>

#include "nocturne/midi.hpp"

namespace nocturne::inline v0::test {

// A conductor track (time signatures, no notes) followed by one track per note list.
inline MidiFile make_file(std::vector<std::vector<Note>> tracks, std::vector<TimeSignature> signatures = {{}},
                          int ticks_per_quarter = 480) {
  MidiFile f;
  f.ticks_per_quarter = ticks_per_quarter;
  MidiTrack conductor;
  conductor.time_signatures = std::move(signatures);
  f.tracks.push_back(conductor);
  for (auto& notes : tracks) {
    MidiTrack t;
    t.track_names = {{0, "Piano"}};
    t.programs = {{0, 0, 0}};
    t.notes = std::move(notes);
    f.tracks.push_back(std::move(t));
  }
  return f;
}

inline Note note(int pitch, std::int64_t on, std::int64_t off) { return Note{pitch, 80, 0, on, off}; }

}  // namespace nocturne::test
