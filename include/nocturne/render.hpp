#pragma once
// What a user looks at and listens to: the loss curve and a piano roll as PNG,
// audio as WAV (through FluidSynth, when it is built in), a MusicXML score and,
// where LilyPond is installed, an engraved PNG score. Every file is written to
// a temporary sibling and renamed into place. Failures throw FileError or
// ConfigError; nothing here prints.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "nocturne/export.hpp"
#include "nocturne/midi.hpp"

namespace nocturne::inline v0 {

// ---- loss curve -------------------------------------------------------------

struct NOCTURNE_API LossPoint {
  int epoch = 0;
  double loss = 0;
  double validation_loss = 0;  // NaN when the epoch has no validation measure
};

// An 800 x 500 RGB PNG: axes with ticks and numbers, the training loss (blue)
// and the validation loss (orange, only its finite points), a dot at every
// point, and a legend, drawn with a built-in 5 x 7 bitmap font. Points are
// plotted in the order given; an empty span gives empty axes.
inline constexpr int loss_plot_width = 800;
inline constexpr int loss_plot_height = 500;
NOCTURNE_API void write_loss_plot(const std::filesystem::path& png, std::span<const LossPoint> points);

// ---- piano roll -------------------------------------------------------------

struct NOCTURNE_API PianoRollOptions {
  int pixels_per_quarter = 16;  // horizontal scale (shrunk so width <= max_width)
  int pixels_per_pitch = 6;     // vertical scale
  int max_width = 8000;
  // Notes that start before this tick are drawn in grey: the primer.
  std::int64_t primer_end_tick = 0;
};

// Image size for notes spanning [0, end_tick] and pitches [low, high]:
//   width  = 40 + ceil(end_tick / ticks_per_quarter * ppq) + 20 (ppq shrunk so width <= max_width)
//   height = (high - low + 1 + 4) * pixels_per_pitch + 20, where low/high are the
//            lowest/highest pitch widened to whole octaves (C to B).
// Grey rows mark the black keys, lines mark every C and every 4 quarters.
// An empty note list gives one empty octave (C4-B4). Throws ConfigError when
// ticks_per_quarter <= 0.
struct NOCTURNE_API ImageSize {
  int width = 0, height = 0;
};
NOCTURNE_API ImageSize piano_roll_size(std::span<const Note> notes, int ticks_per_quarter,
                                       const PianoRollOptions& options = {});
NOCTURNE_API void write_piano_roll(const std::filesystem::path& png, std::span<const Note> notes, int ticks_per_quarter,
                                   const PianoRollOptions& options = {});
// Every note of every track.
NOCTURNE_API void write_piano_roll(const std::filesystem::path& png, const MidiFile& midi,
                                   const PianoRollOptions& options = {});

// ---- audio ------------------------------------------------------------------

inline constexpr int wav_sample_rate = 44100;  // 16-bit PCM, 2 channels (interleaved)
inline constexpr int wav_channels = 2;
inline constexpr double wav_release_seconds = 1.0;  // silence-and-decay tail after the last event

// True when the library was built with FluidSynth.
NOCTURNE_API bool audio_rendering_available();

// The soundfont to use: `explicit_path` when given (FileError when it does not
// exist), else $NOCTURNE_SOUNDFONT when set and present, else the first present
// of /usr/share/sounds/sf2/FluidR3_GM.sf2, /usr/share/sounds/sf2/TimGM6mb.sf2,
// /usr/share/sounds/sf2/default-GM.sf2, /usr/share/soundfonts/FluidR3_GM.sf2,
// /usr/share/soundfonts/default.sf2; nullopt when none is found.
NOCTURNE_API std::optional<std::filesystem::path> find_soundfont(const std::filesystem::path& explicit_path = {});

// The exact number of sample frames write_wav renders for `midi`:
//   round((TempoMap(midi).seconds_at(midi.end_tick()) + wav_release_seconds) * wav_sample_rate)
NOCTURNE_API std::int64_t wav_frame_count(const MidiFile& midi);

// The level of a written WAV. By default the loudest sample is set to
// wav_peak_dbfs: -1 dBFS, loud enough to hear at a normal volume, with a little
// headroom for the peaks between samples that players and lossy encoders
// reconstruct. FluidSynth's own level (a generated piece peaks near -22 dBFS)
// is kept with normalize = false. gain_db is applied after either; samples past
// full scale are clipped and counted.
inline constexpr double wav_peak_dbfs = -1.0;
inline constexpr double wav_max_gain_db = 60.0;  // |gain_db| limit: beyond it, silence or a square wave
struct NOCTURNE_API WavLevel {
  bool normalize = true;
  double gain_db = 0;
};

// Float samples (full scale 1.0) as 16-bit PCM at the level asked for: sample s
// becomes round(s * g * 32767), clamped to +-32767, where
//   g = 10^((wav_peak_dbfs + gain_db) / 20) / max|s|   when normalizing (and max|s| > 0),
//   g = 10^(gain_db / 20)                              otherwise (silence stays silent).
// Samples that are not finite count as 0. Throws ConfigError when gain_db is
// not finite or outside +-wav_max_gain_db.
struct NOCTURNE_API PcmSamples {
  std::vector<std::int16_t> samples;
  double gain_db = 0;       // 20 log10(g): normalisation and gain_db together
  double peak_dbfs = 0;     // of the written samples, 20 log10(max|pcm| / 32767); -infinity for silence
  std::int64_t clipped = 0; // samples clamped to full scale
};
NOCTURNE_API PcmSamples to_pcm16(std::span<const float> samples, const WavLevel& level = {});

struct NOCTURNE_API WavInfo {
  std::int64_t frames = 0;  // per channel
  double seconds = 0;       // frames / wav_sample_rate
  double gain_db = 0;       // applied to FluidSynth's output (PcmSamples::gain_db)
  double peak_dbfs = 0;     // of the written file; -infinity for silence
  std::int64_t clipped = 0; // samples clamped to full scale
};

// Renders `midi` through FluidSynth with `soundfont` (sample-accurate timing,
// no audio device) into a canonical 44-byte-header PCM WAV of wav_frame_count()
// frames: 44100 Hz, 2 channels, 16 bits, at `level` (to_pcm16 of FluidSynth's
// float output). Throws DeviceError when the library was built without
// FluidSynth, FileError when the soundfont cannot be loaded, ConfigError for a
// gain out of range.
NOCTURNE_API WavInfo write_wav(const std::filesystem::path& wav, const MidiFile& midi,
                               const std::filesystem::path& soundfont,
                               const WavLevel& level = {});

// ---- scores -----------------------------------------------------------------

// One beat of the generated music: the MIDI pitches sounding together (one
// pitch = a note, several = a chord, none = a rest).
using ScoreEvent = std::vector<int>;

// A MusicXML 3.1 partwise score: one piano part, 4/4, one quarter note (or
// chord) per event, treble clef, pitches spelled with sharps, the last bar
// filled with rests. Returns the document text.
NOCTURNE_API std::string musicxml_text(std::span<const ScoreEvent> events, const std::string& title);
NOCTURNE_API void write_musicxml(const std::filesystem::path& path, std::span<const ScoreEvent> events,
                                 const std::string& title);

// The same score as LilyPond source (version 2.20 syntax; notes below middle C
// go to a bass staff).
NOCTURNE_API std::string lilypond_text(std::span<const ScoreEvent> events, const std::string& title);
// True when a `lilypond` executable is on PATH.
NOCTURNE_API bool lilypond_available();
// Writes `png`'s stem + ".ly" beside it and runs `lilypond --png` on it. Returns
// the PNG files written: `png` itself, one image cut to the music (LilyPond
// 2.22 and later), or else one per page (name.png or name-page1.png, ...);
// empty when LilyPond is not installed. Nothing is written under those names
// unless LilyPond succeeds. Throws FileError when LilyPond fails (its log is
// kept beside the .ly as name.lilypond.log).
NOCTURNE_API std::vector<std::filesystem::path> write_lilypond_png(const std::filesystem::path& png,
                                                                   std::span<const ScoreEvent> events,
                                                                   const std::string& title);

}  // namespace nocturne

// ---- live playback (RtMidi over ALSA) ---------------------------------------

namespace nocturne::inline v0 {

// True when the library was built with RtMidi.
NOCTURNE_API bool midi_playback_available();
// Names of the MIDI output ports. Throws DeviceError (one line) when the build
// has no RtMidi or no MIDI system exists (no ALSA sequencer, /dev/snd/seq).
NOCTURNE_API std::vector<std::string> list_midi_outputs();

struct NOCTURNE_API PlaybackOptions {
  int port = 0;                // index into list_midi_outputs()
  bool virtual_port = false;   // open a virtual port named "nocturne" instead
};
// Sends every note of every track (and program changes) at its time through
// the tempo map, then all-notes-off on every channel. keep_going is polled
// between events (about every 10 ms); returning false stops early. Throws
// DeviceError as list_midi_outputs does, or for a port out of range.
NOCTURNE_API void play_midi(const MidiFile& midi, const PlaybackOptions& options,
                            const std::function<bool()>& keep_going = {});

}  // namespace nocturne
