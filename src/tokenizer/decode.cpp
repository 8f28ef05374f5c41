// Tokens -> MIDI, as the recipe's generator writes its output.

#include "nocturne/corpus.hpp"
#include "nocturne/error.hpp"

namespace nocturne::inline v0 {

MidiFile tokens_to_midi(std::span<const std::string> tokens, const DecodeOptions& options) {
  if (options.ticks_per_quarter <= 0 || options.ticks_per_quarter > 0x7FFF)
    throw ConfigError("ticks_per_quarter " + std::to_string(options.ticks_per_quarter) + " is outside 1..32767");
  if (options.velocity < 1 || options.velocity > 127)
    throw ConfigError("velocity " + std::to_string(options.velocity) + " is outside 1..127");
  MidiFile file;
  file.format = 1;
  file.ticks_per_quarter = options.ticks_per_quarter;
  MidiTrack conductor;
  conductor.tempos.push_back({0, options.microseconds_per_quarter});
  conductor.time_signatures.push_back(TimeSignature{});
  MidiTrack piano;
  piano.track_names.push_back({0, "Piano"});
  piano.programs.push_back({0, 0, options.program});
  const std::int64_t q = options.ticks_per_quarter;
  for (std::size_t k = 0; k < tokens.size(); ++k) {
    const std::int64_t on = static_cast<std::int64_t>(k) * q;
    for (int pitch : token_pitches(tokens[k])) piano.notes.push_back(Note{pitch, options.velocity, 0, on, on + q});
  }
  piano.end_tick = conductor.end_tick = static_cast<std::int64_t>(tokens.size()) * q;
  file.tracks.push_back(std::move(conductor));
  file.tracks.push_back(std::move(piano));
  return file;
}

}  // namespace nocturne
