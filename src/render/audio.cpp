// WAV audio through FluidSynth: the MIDI file is played by FluidSynth's own
// player driven by the samples we render (player.timing-source = sample), so
// the output is sample-accurate and needs no audio device.

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "midi/atomic_write.hpp"
#include "nocturne/error.hpp"
#include "nocturne/render.hpp"

#ifdef NOCTURNE_WITH_FLUIDSYNTH
#include <fluidsynth.h>
#endif

namespace nocturne {

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

#ifdef NOCTURNE_WITH_FLUIDSYNTH
namespace {

// FluidSynth reports through a global log hook; keep its last error for our
// exception messages instead of letting it print.
thread_local std::string last_fluid_error;
void capture_log(int level, const char* message, void*) {
  if (level <= FLUID_ERR && message) last_fluid_error = message;
}

void put_u16(std::string& out, std::uint32_t v) {
  out.push_back(char(v & 0xFF));
  out.push_back(char((v >> 8) & 0xFF));
}
void put_u32(std::string& out, std::uint32_t v) {
  put_u16(out, v & 0xFFFF);
  put_u16(out, v >> 16);
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

WavInfo write_wav(const std::filesystem::path& wav, const MidiFile& midi, const std::filesystem::path& soundfont) {
  for (int level = FLUID_PANIC; level <= FLUID_DBG; ++level) fluid_set_log_function(level, capture_log, nullptr);
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
  const std::uint64_t data_bytes = std::uint64_t(frames) * wav_channels * 2;
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

  constexpr int kBlock = 1024;
  std::vector<std::int16_t> block(std::size_t(kBlock) * wav_channels);
  for (std::int64_t done = 0; done < frames;) {
    const int n = int(std::min<std::int64_t>(kBlock, frames - done));
    if (fluid_synth_write_s16(synth.get(), n, block.data(), 0, 2, block.data(), 1, 2) != FLUID_OK)
      throw DeviceError("FluidSynth: rendering failed: " + last_fluid_error);
    for (std::size_t i = 0; i < std::size_t(n) * wav_channels; ++i) {  // little-endian samples
      const auto v = std::uint16_t(block[i]);
      out.push_back(char(v & 0xFF));
      out.push_back(char(v >> 8));
    }
    done += n;
  }
  fluid_player_stop(player.get());
  detail::write_file_atomically(wav, out);
  return WavInfo{frames, double(frames) / wav_sample_rate};
}

#else

WavInfo write_wav(const std::filesystem::path& wav, const MidiFile&, const std::filesystem::path&) {
  throw DeviceError(wav.string() + ": this build of nocturne has no audio rendering (FluidSynth was not found)");
}

#endif

}  // namespace nocturne
