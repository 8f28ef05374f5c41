// Seed inputs for the fuzz targets, written by the library itself so that
// they always match the current formats: small, but touching every kind of
// event, section and token the readers know.

#include <algorithm>
#include <string>
#include <vector>

#include "fuzz_properties.hpp"
#include "nocturne/checkpoint.hpp"
#include "nocturne/corpus.hpp"
#include "nocturne/demo_corpus.hpp"
#include "nocturne/midi.hpp"
#include "nocturne/model.hpp"
#include "sample_checkpoint.hpp"

namespace nocturne::inline v0::fuzz {
namespace {

constexpr const char* kTokenText =
    "C4 E-4 0.4.7 C#5 B-1 11.2.5 G9 C-1 7.0.4 Db4 C##4 0 0.0 4.7 F#3 1.5.8 x 12 B9 0.1.2.3.4.5.6.7.8.9.10.11";

// A file with a little of everything: two tracks, a tempo change, 3/4 and
// 6/8, a key signature, names, a program change, a chord, overlapping notes
// of one pitch, a zero-length note and a note crossing the barline.
MidiFile mixed_file() {
  MidiFile f;
  f.ticks_per_quarter = 96;
  MidiTrack conductor;
  conductor.track_names.push_back({0, "conductor"});
  conductor.tempos = {{0, 600000}, {288, 400000}};
  conductor.time_signatures = {{0, 3, 4, 24, 8}, {576, 6, 8, 36, 8}};
  conductor.key_signatures = {{0, -3, true}};
  conductor.end_tick = 1200;
  MidiTrack piano;
  piano.track_names.push_back({0, "piano"});
  piano.instrument_names.push_back({0, "Acoustic Grand"});
  piano.programs.push_back({0, 0, 0});
  piano.notes = {{60, 80, 0, 0, 96},    {64, 80, 0, 0, 96},    {67, 80, 0, 0, 96},   {72, 90, 0, 96, 240},
                 {72, 70, 0, 120, 300}, {55, 60, 1, 200, 200}, {48, 100, 0, 250, 700}, {79, 50, 0, 1100, 1150}};
  piano.end_tick = 1200;
  f.tracks = {conductor, piano};
  return f;
}

}  // namespace

std::vector<Bytes> midi_seeds() {
  std::vector<Bytes> seeds{encode_midi(mixed_file()), encode_midi(demo_piece(0))};
  const std::string text = kTokenText;
  std::vector<std::string> tokens;
  for (std::size_t at = 0; at < text.size();) {
    const std::size_t end = std::min(text.find(' ', at), text.size());
    tokens.push_back(text.substr(at, end - at));
    at = end + 1;
  }
  std::erase_if(tokens, [](const std::string& t) { return t == "x" || t == "12" || t == "B9"; });
  seeds.push_back(encode_midi(tokens_to_midi(tokens)));
  return seeds;
}

std::vector<Bytes> checkpoint_seeds() {
  return {encode_checkpoint(test::sample_checkpoint(true, InputMode::embedding)),
          encode_checkpoint(test::sample_checkpoint(false, InputMode::scalar))};
}

std::vector<Bytes> token_seeds() {
  const std::string text = kTokenText;
  return {Bytes(text.begin(), text.end())};
}

}  // namespace nocturne::fuzz
