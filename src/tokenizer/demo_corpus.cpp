// The demo corpus: small piano pieces generated from a fixed seed.
//
// Each piece is in one of six keys and has three 16-bar sections in 4/4:
//   bars 0-7   a block chord on beat 1, then three melody quarter notes;
//   bars 8-11  the chord broken into eighth-note arpeggios;
//   bars 12-15 a half-note chord, then two melody quarters (the last bar
//              of the piece ends on a whole-note tonic chord).
// Melodies are random walks over the key's scale that land on chord tones on
// beat 3; every draw comes from the counter-based generator, so the corpus is
// the same on every machine.

#include "nocturne/demo_corpus.hpp"

#include <array>
#include <cstdio>
#include <string>

#include "nocturne/error.hpp"
#include "nocturne/rng.hpp"

namespace nocturne::inline v0 {

namespace {

constexpr int kTicks = 480;  // per quarter note
constexpr std::uint64_t kSeed = 0xdec0de;
constexpr std::uint32_t kStream = 0x6d00;  // our own stream of draws

struct Key {
  const char* name;
  int tonic;  // pitch class
  bool minor;
  int sharps;
};

constexpr std::array<Key, 6> kKeys = {{
    {"C major", 0, false, 0},
    {"A minor", 9, true, 0},
    {"G major", 7, false, 1},
    {"E minor", 4, true, 1},
    {"F major", 5, false, -1},
    {"D minor", 2, true, -1},
}};

constexpr std::array<int, 7> kMajor = {0, 2, 4, 5, 7, 9, 11};
// Harmonic minor: the raised seventh gives the dominant its leading tone.
constexpr std::array<int, 7> kMinor = {0, 2, 3, 5, 7, 8, 11};

// Progressions as scale degrees (0 = tonic), one chord a bar.
constexpr std::array<std::array<int, 4>, 4> kProgressions = {{
    {0, 3, 4, 0},
    {0, 5, 3, 4},
    {0, 4, 5, 3},
    {1, 4, 0, 0},
}};

class PieceWriter {
 public:
  PieceWriter(const Key& key, int piece) : key_(key), piece_(piece) {}

  // MIDI pitch of scale position `p` (7 positions an octave), position 0 being
  // the tonic in octave `octave`.
  int pitch(int p, int octave) const {
    const auto& scale = key_.minor ? kMinor : kMajor;
    const int o = p >= 0 ? p / 7 : (p - 6) / 7;
    return 12 * (octave + 1) + key_.tonic + scale[std::size_t(p - 7 * o)] + 12 * o;
  }

  void note(int midi, std::int64_t on, std::int64_t length, int velocity) {
    notes_.push_back(Note{midi, velocity, 0, on, on + length});
  }

  void chord(int degree, std::int64_t on, std::int64_t length) {
    for (int k : {0, 2, 4}) note(pitch(degree + k, 3), on, length, 60);
  }

  std::uint64_t draw(std::uint64_t bound) { return random_below(bound, kSeed + std::uint64_t(piece_), kStream, next_++); }

  // The melody's next scale position: a step of -2..2 from the last one, kept
  // in the octave and a half above middle C; on beat 3 the nearest chord tone.
  int melody_step(int degree, bool chord_tone) {
    int p = melody_ + int(draw(5)) - 2;
    if (p < 7) p = 8;
    if (p > 17) p = 16;
    if (chord_tone) {
      for (int d = 0; d < 4; ++d) {
        for (int cand : {p - d, p + d}) {
          const int rel = ((cand - degree) % 7 + 7) % 7;
          if (rel == 0 || rel == 2 || rel == 4) {
            p = cand;
            d = 4;
            break;
          }
        }
      }
    }
    melody_ = p;
    return pitch(p, 3);
  }

  void section(const std::array<int, 4>& progression, std::int64_t start, bool last) {
    const std::int64_t bar = 4 * kTicks;
    for (int b = 0; b < 16; ++b) {
      const int degree = progression[std::size_t(b % 4)];
      const std::int64_t t = start + b * bar;
      if (b < 8) {
        chord(degree, t, kTicks);
        for (int beat = 1; beat < 4; ++beat) note(melody_step(degree, beat == 2), t + beat * kTicks, kTicks, 80);
      } else if (b < 12) {
        const int up[8] = {0, 2, 4, 7, 9, 7, 4, 2};
        for (int e = 0; e < 8; ++e) note(pitch(degree + up[e], 3), t + e * kTicks / 2, kTicks / 2, 70);
      } else if (last && b == 15) {
        chord(0, t, bar);
      } else {
        chord(degree, t, 2 * kTicks);
        note(melody_step(degree, true), t + 2 * kTicks, kTicks, 80);
        note(melody_step(degree, false), t + 3 * kTicks, kTicks, 80);
      }
    }
  }

  MidiFile finish(int tempo_bpm, std::int64_t end) {
    MidiFile file;
    file.format = 1;
    file.ticks_per_quarter = kTicks;
    MidiTrack track;
    track.track_names.push_back(
        {0, std::string(demo_corpus_label) + ": piece " + std::to_string(piece_ + 1) + " in " + key_.name});
    track.instrument_names.push_back({0, "Piano"});
    track.tempos.push_back({0, 60000000 / tempo_bpm});
    track.time_signatures.push_back({0, 4, 4, 24, 8});
    track.key_signatures.push_back({0, key_.sharps, key_.minor});
    track.programs.push_back({0, 0, 0});
    track.notes = std::move(notes_);
    track.end_tick = end;
    file.tracks.push_back(std::move(track));
    return file;
  }

 private:
  const Key& key_;
  int piece_;
  std::uint64_t next_ = 0;
  int melody_ = 9;
  std::vector<Note> notes_;
};

}  // namespace

MidiFile demo_piece(int index) {
  if (index < 0) throw ConfigError("demo corpus: piece index must be >= 0, got " + std::to_string(index));
  const Key& key = kKeys[std::size_t(index) % kKeys.size()];
  PieceWriter writer(key, index);
  const std::int64_t section_ticks = 16 * 4 * kTicks;
  for (int s = 0; s < 3; ++s)
    writer.section(kProgressions[std::size_t(index + s) % kProgressions.size()], s * section_ticks, s == 2);
  const int tempo = 72 + int(writer.draw(5)) * 8;
  return writer.finish(tempo, 3 * section_ticks);
}

std::vector<std::filesystem::path> write_demo_corpus(const std::filesystem::path& folder, int count) {
  if (count < 1) throw ConfigError("demo corpus: count must be >= 1, got " + std::to_string(count));
  std::error_code ec;
  std::filesystem::create_directories(folder, ec);
  if (ec) throw FileError(folder.string() + ": cannot create the demo corpus folder: " + ec.message());
  std::vector<std::filesystem::path> paths;
  for (int i = 0; i < count; ++i) {
    char name[32];
    std::snprintf(name, sizeof(name), "demo-%02d.mid", i + 1);
    paths.push_back(folder / name);
    write_midi(paths.back(), demo_piece(i));
  }
  return paths;
}

}  // namespace nocturne
