// Pitch names as music21 writes them for MIDI input: sharps for C# F# G#,
// flats (written '-') for E- and B-, whatever the key signature.

#include <array>
#include <charconv>
#include <string>

#include "nocturne/error.hpp"
#include "nocturne/tokenizer.hpp"

namespace nocturne::inline v0 {

namespace {
constexpr std::array<const char*, 12> kSpelling = {"C", "C#", "D", "E-", "E", "F", "F#", "G", "G#", "A", "B-", "B"};
constexpr std::array<int, 7> kStepClass = {9, 11, 0, 2, 4, 5, 7};  // A B C D E F G

[[noreturn]] void bad_token(std::string_view token, const char* why) {
  throw ConfigError("malformed token '" + std::string(token) + "': " + why);
}
}  // namespace

std::string pitch_name(int midi_pitch) {
  if (midi_pitch < 0 || midi_pitch > 127)
    throw ConfigError("pitch_name: MIDI pitch " + std::to_string(midi_pitch) + " is outside 0..127");
  return std::string(kSpelling[static_cast<std::size_t>(midi_pitch % 12)]) + std::to_string(midi_pitch / 12 - 1);
}

int parse_pitch_name(std::string_view name) {
  if (name.empty()) bad_token(name, "empty");
  const char step = name[0];
  if (step < 'A' || step > 'G') bad_token(name, "a note name starts with A..G");
  int pitch_class = kStepClass[static_cast<std::size_t>(step - 'A')];
  std::size_t pos = 1;
  // Accidentals: '#' sharp, 'b' flat, and '-' flat after E or B, the only flats
  // this spelling writes. Elsewhere '-' starts a negative octave ("C-1" is MIDI 0).
  // "E-1" and "B-1" read as E-flat 1 and B-flat 1, as music21 reads them.
  // At most one '-' is a flat, so "E--1" is E-flat of octave -1.
  bool dash_is_flat = step == 'E' || step == 'B';
  while (pos < name.size() && (name[pos] == '#' || name[pos] == 'b' || (name[pos] == '-' && dash_is_flat))) {
    if (name[pos] == '-') dash_is_flat = false;
    pitch_class += name[pos] == '#' ? 1 : -1;
    ++pos;
  }
  int octave = 4;
  if (pos < name.size()) {
    const char* first = name.data() + pos;
    const char* last = name.data() + name.size();
    auto [end, ec] = std::from_chars(first, last, octave);
    if (ec != std::errc() || end != last) bad_token(name, "the octave is not a number");
  }
  // In 64 bits: an octave such as 499999999 must be refused, not overflow.
  const long long midi = (static_cast<long long>(octave) + 1) * 12 + pitch_class;
  if (midi < 0 || midi > 127) bad_token(name, "the pitch lies outside MIDI 0..127");
  return static_cast<int>(midi);
}

}  // namespace nocturne
