// Timed tokens -> notes with onsets and durations -> MIDI.

#include <algorithm>
#include <map>

#include "nocturne/error.hpp"
#include "nocturne/timed_tokens.hpp"

namespace nocturne::inline v0 {

namespace {

// A symbol names a chord's pitch classes only. Each class goes to octave 4,
// else the nearest octave (3, 5, 2, 6, ...) where that pitch is not sounding
// already, and a one-class chord (an octave doubling) to two octaves: the
// chord neither swallows nor cuts short a note of the same pitch, so the
// decoded file reads back as the same notes and chords.
void place_chords(std::vector<TimedEvent>& events) {
  std::map<int, std::vector<std::pair<std::int64_t, std::int64_t>>> sounding;  // pitch -> [on, end)
  auto span_of = [](const TimedEvent& e) { return std::make_pair(e.offset, e.offset + std::max<std::int64_t>(e.duration, 1)); };
  auto free = [&](int pitch, std::pair<std::int64_t, std::int64_t> span) {
    for (const auto& [on, end] : sounding[pitch])
      if (on < span.second && span.first < end) return false;
    return true;
  };
  for (const TimedEvent& e : events)
    if (!is_chord_token(e.symbol)) sounding[e.pitches.front()].push_back(span_of(e));
  for (TimedEvent& e : events) {
    if (!is_chord_token(e.symbol)) continue;
    const auto span = span_of(e);
    std::vector<int> placed;
    const std::vector<int> classes = e.pitches;  // 60 + pitch class
    const int copies = classes.size() == 1 ? 2 : 1;
    for (int pc_pitch : classes)
      for (int copy = 0; copy < copies; ++copy) {
        int chosen = -1;
        for (int step : {0, -1, 1, -2, 2, -3, 3, -4, 4, -5}) {
          const int pitch = pc_pitch + 12 * step;
          if (pitch < 0 || pitch > 127 || std::count(placed.begin(), placed.end(), pitch)) continue;
          if (chosen < 0) chosen = pitch;  // when no octave is free: the nearest unused one
          if (free(pitch, span)) {
            chosen = pitch;
            break;
          }
        }
        placed.push_back(chosen);
        sounding[chosen].push_back(span);
      }
    std::sort(placed.begin(), placed.end());
    e.pitches = std::move(placed);
  }
}

}  // namespace

std::vector<TimedEvent> decode_timed(std::span<const std::string> tokens) {
  std::vector<TimedEvent> events;
  std::int64_t time = 0;
  std::int64_t last_duration = kUnitsPerQuarter;
  bool open = false;             // the last symbol takes the duration tokens that follow
  bool duration_given = false;   // ... and has had one already
  for (const std::string& token : tokens) {
    const auto component = timed_component(token);
    if (!component) throw ConfigError("timed tokens: '" + token + "' is not a note, chord, duration or shift token");
    switch (*component) {
      case TimedComponent::symbol:
        events.push_back({time, last_duration, token_pitches(token), token});
        open = true;
        duration_given = false;
        break;
      case TimedComponent::duration:
        if (!open) break;
        events.back().duration = (duration_given ? events.back().duration : 0) + timed_token_units(token);
        last_duration = events.back().duration;
        duration_given = true;
        break;
      case TimedComponent::shift:
        time += timed_token_units(token);
        open = false;
        break;
    }
  }
  place_chords(events);
  return events;
}

MidiFile timed_events_to_midi(std::span<const TimedEvent> events, const DecodeOptions& options) {
  // The recipe's decoder checks the options and writes the conductor and the
  // piano track; the notes are then ours.
  MidiFile file = tokens_to_midi({}, options);
  MidiTrack& piano = file.tracks.at(1);
  const std::int64_t q = options.ticks_per_quarter;
  auto ticks = [&](std::int64_t units) { return (units * q + kUnitsPerQuarter / 2) / kUnitsPerQuarter; };
  // The reader pairs each pitch's note-ons and note-offs first in, first out
  // on each channel: a note that sounds while the same pitch sounds already
  // (two voices on one key) goes to the next channel whose last note of that
  // pitch has ended (9, the General MIDI drums, left out), so that both read
  // back as written.
  std::map<std::pair<int, int>, std::int64_t> channel_free_at;  // (pitch, channel) -> end of its last note
  std::vector<std::pair<std::int64_t, std::pair<std::int64_t, int>>> sorted;  // (on, (off, pitch))
  for (const TimedEvent& e : events)
    for (int pitch : e.pitches) sorted.push_back({ticks(e.offset), {ticks(e.offset + e.duration), pitch}});
  std::stable_sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::int64_t end = 0;
  for (const auto& [on, rest] : sorted) {
    const auto [off, pitch] = rest;
    int channel = 0;
    for (int c = 0; c < 16; ++c) {
      if (c == 9) continue;
      const auto it = channel_free_at.find({pitch, c});
      if (it == channel_free_at.end() || it->second <= on) {
        channel = c;
        break;
      }
    }
    channel_free_at[{pitch, channel}] = std::max(off, on + 1);  // a grace note still holds its tick
    piano.notes.push_back(Note{pitch, options.velocity, channel, on, off});
    end = std::max(end, off);
    const bool has_program = std::any_of(piano.programs.begin(), piano.programs.end(),
                                         [&](const ProgramChange& p) { return p.channel == channel; });
    if (!has_program) piano.programs.push_back({0, channel, options.program});
  }
  piano.end_tick = file.tracks[0].end_tick = end;
  return file;
}

MidiFile timed_tokens_to_midi(std::span<const std::string> tokens, const DecodeOptions& options) {
  const std::vector<TimedEvent> events = decode_timed(tokens);
  return timed_events_to_midi(events, options);
}

}  // namespace nocturne
