// WAV audio through FluidSynth: the MIDI file is played by FluidSynth's own
// player driven by the samples we render (player.timing-source = sample), so
// the output is sample-accurate and needs no audio device. FluidSynth renders
// in float; the level is set (peak normalisation) before the 16-bit rounding,
// so a quiet rendering does not lose resolution.

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "midi/atomic_write.hpp"
#include "nocturne/error.hpp"
#include "nocturne/render.hpp"

#ifdef NOCTURNE_WITH_FLUIDSYNTH
#include <fluidsynth.h>
#endif

namespace nocturne::inline v0 {

bool audio_rendering_available() {
#ifdef NOCTURNE_WITH_FLUIDSYNTH
  return true;
#else
  return false;
#endif
}

std::optional<std::filesystem::path> find_soundfont(const std::filesystem::path& explicit_path) {
  std::error_code ec;
  if (!explicit_path.empty()) {
    if (!std::filesystem::is_regular_file(explicit_path, ec))
      throw FileError(explicit_path.string() + ": soundfont not found");
    return explicit_path;
  }
  if (const char* env = std::getenv("NOCTURNE_SOUNDFONT"); env && *env && std::filesystem::is_regular_file(env, ec))
    return std::filesystem::path(env);
  for (const char* candidate :
       {"/usr/share/sounds/sf2/FluidR3_GM.sf2", "/usr/share/sounds/sf2/TimGM6mb.sf2",
        "/usr/share/sounds/sf2/default-GM.sf2", "/usr/share/soundfonts/FluidR3_GM.sf2",
        "/usr/share/soundfonts/default.sf2"})
    if (std::filesystem::is_regular_file(candidate, ec)) return std::filesystem::path(candidate);
  return std::nullopt;
}

std::int64_t wav_frame_count(const MidiFile& midi) {
  const double seconds = TempoMap(midi).seconds_at(midi.end_tick()) + wav_release_seconds;
  return std::llround(seconds * wav_sample_rate);
}

PcmSamples to_pcm16(std::span<const float> samples, const WavLevel& level) {
  if (!std::isfinite(level.gain_db) || std::abs(level.gain_db) > wav_max_gain_db) {
    char text[96];
    std::snprintf(text, sizeof text, "WAV gain %g dB is outside -%g..+%g dB", level.gain_db, wav_max_gain_db,
                  wav_max_gain_db);
    throw ConfigError(text);
  }
  constexpr double full_scale = 32767.0;
  double peak = 0;
  for (float s : samples)
    if (std::isfinite(s)) peak = std::max(peak, double(std::abs(s)));
  double gain = std::pow(10.0, level.gain_db / 20);
  if (level.normalize && peak > 0) gain *= std::pow(10.0, wav_peak_dbfs / 20) / peak;

  PcmSamples pcm;
  pcm.samples.resize(samples.size());
  int loudest = 0;
  for (std::size_t i = 0; i < samples.size(); ++i) {
    double v = std::isfinite(samples[i]) ? std::round(double(samples[i]) * gain * full_scale) : 0.0;
    if (std::abs(v) > full_scale) {
      v = std::copysign(full_scale, v);
      ++pcm.clipped;
    }
    pcm.samples[i] = std::int16_t(v);
    loudest = std::max(loudest, std::abs(int(pcm.samples[i])));
  }
  pcm.gain_db = 20 * std::log10(gain);
  pcm.peak_dbfs = loudest > 0 ? 20 * std::log10(loudest / full_scale) : -std::numeric_limits<double>::infinity();
  return pcm;
}

namespace {

void put_u16(std::string& out, std::uint32_t v) {
  out.push_back(char(v & 0xFF));
  out.push_back(char((v >> 8) & 0xFF));
}
void put_u32(std::string& out, std::uint32_t v) {
  put_u16(out, v & 0xFFFF);
  put_u16(out, v >> 16);
}

// A canonical 44-byte-header PCM WAV (wav_sample_rate, wav_channels, 16 bits)
// of interleaved samples.
std::string wav_bytes(const std::filesystem::path& wav, std::span<const std::int16_t> samples) {
  const std::uint64_t data_bytes = std::uint64_t(samples.size()) * 2;
  if (data_bytes > 0xFFFFFFFFull - 36) throw FileError(wav.string() + ": audio too long for a WAV file");
  std::string out;
  out.reserve(44 + std::size_t(data_bytes));
  out += "RIFF";
  put_u32(out, std::uint32_t(36 + data_bytes));
  out += "WAVEfmt ";
  put_u32(out, 16);
  put_u16(out, 1);  // PCM
  put_u16(out, wav_channels);
  put_u32(out, wav_sample_rate);
  put_u32(out, wav_sample_rate * wav_channels * 2);
  put_u16(out, wav_channels * 2);
  put_u16(out, 16);
  out += "data";
  put_u32(out, std::uint32_t(data_bytes));
  for (std::int16_t s : samples) put_u16(out, std::uint16_t(s));  // little-endian
  return out;
}

}  // namespace

#ifdef NOCTURNE_WITH_FLUIDSYNTH
namespace {

// FluidSynth reports through a global log hook; keep its last error for our
// exception messages instead of letting it print.
thread_local std::string last_fluid_error;
void capture_log(int level, const char* message, void*) {
  if (level <= FLUID_ERR && message) last_fluid_error = message;
}

struct SettingsDeleter {
  void operator()(fluid_settings_t* s) const { delete_fluid_settings(s); }
};
struct SynthDeleter {
  void operator()(fluid_synth_t* s) const { delete_fluid_synth(s); }
};
struct PlayerDeleter {
  void operator()(fluid_player_t* p) const { delete_fluid_player(p); }
};

}  // namespace

WavInfo write_wav(const std::filesystem::path& wav, const MidiFile& midi, const std::filesystem::path& soundfont,
                  const WavLevel& level) {
  to_pcm16({}, level);  // a bad gain fails before the rendering
  for (int log_level = FLUID_PANIC; log_level <= FLUID_DBG; ++log_level)
    fluid_set_log_function(log_level, capture_log, nullptr);
  last_fluid_error.clear();

  std::unique_ptr<fluid_settings_t, SettingsDeleter> settings(new_fluid_settings());
  if (!settings) throw DeviceError("FluidSynth: cannot create settings");
  fluid_settings_setnum(settings.get(), "synth.sample-rate", double(wav_sample_rate));
  fluid_settings_setstr(settings.get(), "player.timing-source", "sample");
  fluid_settings_setint(settings.get(), "synth.lock-memory", 0);
  std::unique_ptr<fluid_synth_t, SynthDeleter> synth(new_fluid_synth(settings.get()));
  if (!synth) throw DeviceError("FluidSynth: cannot create a synthesizer: " + last_fluid_error);
  {
    // FluidSynth's loaders print to stderr on malformed files: check the
    // SoundFont 2 signature ("RIFF" size "sfbk") first.
    std::ifstream in(soundfont, std::ios::binary);
    char head[12] = {};
    if (!in || !in.read(head, sizeof head) || std::memcmp(head, "RIFF", 4) != 0 || std::memcmp(head + 8, "sfbk", 4) != 0)
      throw FileError(soundfont.string() + ": not a SoundFont 2 file");
  }
  if (fluid_synth_sfload(synth.get(), soundfont.string().c_str(), 1) == FLUID_FAILED)
    throw FileError(soundfont.string() + ": FluidSynth cannot load this soundfont: " + last_fluid_error);

  std::unique_ptr<fluid_player_t, PlayerDeleter> player(new_fluid_player(synth.get()));
  if (!player) throw DeviceError("FluidSynth: cannot create a MIDI player: " + last_fluid_error);
  const std::vector<std::uint8_t> bytes = encode_midi(midi);
  if (fluid_player_add_mem(player.get(), bytes.data(), bytes.size()) != FLUID_OK ||
      fluid_player_play(player.get()) != FLUID_OK)
    throw DeviceError("FluidSynth: cannot play the MIDI data: " + last_fluid_error);

  const std::int64_t frames = wav_frame_count(midi);
  if (std::uint64_t(frames) * wav_channels * 2 > 0xFFFFFFFFull - 36)
    throw FileError(wav.string() + ": audio too long for a WAV file");
  std::vector<float> rendered(std::size_t(frames) * wav_channels);
  constexpr int kBlock = 1024;
  for (std::int64_t done = 0; done < frames;) {
    const int n = int(std::min<std::int64_t>(kBlock, frames - done));
    float* at = rendered.data() + std::size_t(done) * wav_channels;  // interleaved: left, right
    if (fluid_synth_write_float(synth.get(), n, at, 0, 2, at, 1, 2) != FLUID_OK)
      throw DeviceError("FluidSynth: rendering failed: " + last_fluid_error);
    done += n;
  }
  fluid_player_stop(player.get());
  const PcmSamples pcm = to_pcm16(rendered, level);
  detail::write_file_atomically(wav, wav_bytes(wav, pcm.samples));
  return WavInfo{frames, double(frames) / wav_sample_rate, pcm.gain_db, pcm.peak_dbfs, pcm.clipped};
}

#else

WavInfo write_wav(const std::filesystem::path& wav, const MidiFile&, const std::filesystem::path&,
                  const WavLevel& level) {
  to_pcm16({}, level);  // a bad gain is named as in a build with audio
  throw DeviceError(wav.string() + ": this build of nocturne has no audio rendering (FluidSynth was not found)");
}

#endif

}  // namespace nocturne
