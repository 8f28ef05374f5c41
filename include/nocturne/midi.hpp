#pragma once
// Standard MIDI Files: reading (formats 0 and 1) and writing (format 1).
//
// The reader keeps what the tokenizer and the decoder need: notes paired from
// note-on/note-off events, tempo, time and key signatures, track and instrument
// names and program changes, all at absolute ticks. Malformed input throws
// nocturne::FileError naming the file, the byte offset and what was wrong.

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "nocturne/export.hpp"

namespace nocturne::inline v0 {

// One sounding note. Ticks are absolute, counted from the start of the track.
struct NOCTURNE_API Note {
  int pitch = 60;     // MIDI note number 0..127
  int velocity = 64;  // 1..127
  int channel = 0;    // 0..15
  std::int64_t on_tick = 0;
  std::int64_t off_tick = 0;

  std::int64_t duration() const { return off_tick - on_tick; }
  friend bool operator==(const Note&, const Note&) = default;
};

struct NOCTURNE_API TempoChange {
  std::int64_t tick = 0;
  int microseconds_per_quarter = 500000;  // 120 beats per minute
  friend bool operator==(const TempoChange&, const TempoChange&) = default;
};

struct NOCTURNE_API TimeSignature {
  std::int64_t tick = 0;
  int numerator = 4;
  int denominator = 4;  // a power of two
  int clocks_per_click = 24;
  int thirty_seconds_per_quarter = 8;

  // Length of one bar in quarter notes, as numerator * 4 / denominator.
  double bar_quarters() const { return numerator * 4.0 / denominator; }
  friend bool operator==(const TimeSignature&, const TimeSignature&) = default;
};

struct NOCTURNE_API KeySignature {
  std::int64_t tick = 0;
  int sharps = 0;  // negative: flats
  bool minor = false;
  friend bool operator==(const KeySignature&, const KeySignature&) = default;
};

struct NOCTURNE_API ProgramChange {
  std::int64_t tick = 0;
  int channel = 0;
  int program = 0;  // 0..127, 0 = acoustic grand piano
  friend bool operator==(const ProgramChange&, const ProgramChange&) = default;
};

// A track-name or instrument-name meta event.
struct NOCTURNE_API TextEvent {
  std::int64_t tick = 0;
  std::string text;
  friend bool operator==(const TextEvent&, const TextEvent&) = default;
};

struct NOCTURNE_API MidiTrack {
  // Notes in the order of their note-ons. Each note-on is paired with the first
  // later unused note-off of the same pitch and channel (first in, first out);
  // a note-on with velocity 0 is a note-off; note-ons never closed are dropped.
  std::vector<Note> notes;
  std::vector<TextEvent> track_names;
  std::vector<TextEvent> instrument_names;
  std::vector<ProgramChange> programs;
  std::vector<TempoChange> tempos;
  std::vector<TimeSignature> time_signatures;
  std::vector<KeySignature> key_signatures;
  std::int64_t end_tick = 0;  // tick of the last event (end of track when present)

  // The first track name, or "" when there is none.
  std::string name() const { return track_names.empty() ? std::string() : track_names.front().text; }
};

struct NOCTURNE_API MidiFile {
  int format = 1;  // 0 or 1
  int ticks_per_quarter = 480;
  std::vector<MidiTrack> tracks;

  // All tempo changes of all tracks, sorted by tick (the conductor's map).
  std::vector<TempoChange> tempo_changes() const;
  // All time signatures of all tracks, sorted by tick.
  std::vector<TimeSignature> time_signatures() const;
  // The last tick of any track.
  std::int64_t end_tick() const;
};

// Turns ticks into seconds through a tempo map (120 bpm until the first change).
class NOCTURNE_API TempoMap {
 public:
  TempoMap(int ticks_per_quarter, std::vector<TempoChange> changes);
  explicit TempoMap(const MidiFile& file);
  double seconds_at(std::int64_t tick) const;

 private:
  struct Segment {
    std::int64_t tick;
    double seconds;  // time at `tick`
    double seconds_per_tick;
  };
  std::vector<Segment> segments_;
};

// Reads a Standard MIDI File. Throws FileError on unreadable or malformed input.
NOCTURNE_API MidiFile read_midi(const std::filesystem::path& path);
// Parses a file held in memory; `name` only appears in error messages.
NOCTURNE_API MidiFile read_midi_bytes(std::span<const std::uint8_t> bytes, std::string_view name);

// Encodes a format-1 file: per track its names, tempos, time and key
// signatures, program changes and notes (note-on, then note-on velocity 0).
NOCTURNE_API std::vector<std::uint8_t> encode_midi(const MidiFile& file);
// Writes encode_midi(file) to a temporary file beside `path`, then renames it
// into place, so a reader never sees half a file. Throws FileError.
NOCTURNE_API void write_midi(const std::filesystem::path& path, const MidiFile& file);

}  // namespace nocturne
