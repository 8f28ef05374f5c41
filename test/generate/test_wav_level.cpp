// The level of the WAV files FluidSynth renders, measured in the written files:
// the loudest sample at -1 dBFS by default, FluidSynth's own level with
// normalisation off, a gain added after either; through the library and through
// `nocturne generate` on a freshly trained model. Skipped (exit 77) without
// FluidSynth in the build or a soundfont on the machine.

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "cli/cli_test_support.hpp"
#include "nocturne/render.hpp"
#include "test_support.hpp"

namespace fs = std::filesystem;
using namespace nocturne;
using namespace nocturne::test;

namespace {

const bool needs_audio = [] {
  if (!audio_rendering_available())
    return set_skip_reason("this build has no FluidSynth (libfluidsynth-dev): WAV levels not checked");
  if (!find_soundfont())
    return set_skip_reason("no soundfont installed (fluid-soundfont-gm, or $NOCTURNE_SOUNDFONT): WAV levels not checked");
  return true;
}();

// The loudest sample of a 16-bit PCM WAV with the 44-byte header, in dBFS of 32767.
double file_peak_dbfs(const fs::path& wav) {
  const std::string b = read_text(wav);
  REQUIRE(b.size() > 44);
  REQUIRE(b.substr(36, 4) == "data");
  int loudest = 0;
  for (std::size_t i = 44; i + 1 < b.size(); i += 2) {
    const auto v = std::int16_t(std::uint16_t(std::uint8_t(b[i]) | std::uint8_t(b[i + 1]) << 8));
    loudest = std::max(loudest, std::abs(int(v)));
  }
  REQUIRE(loudest > 0);
  return 20 * std::log10(loudest / 32767.0);
}

MidiFile chord_piece() {
  MidiFile midi;
  midi.ticks_per_quarter = 480;
  midi.tracks.resize(1);
  for (int i = 0; i < 8; ++i)
    for (int p : {48, 55, 60, 64, 67}) midi.tracks[0].notes.push_back(Note{p + i % 3, 80, 0, i * 480, i * 480 + 480});
  midi.tracks[0].end_tick = 8 * 480;
  return midi;
}

}  // namespace

TEST_CASE("write_wav: the written file peaks at -1 dBFS; FluidSynth's level and gains as documented") {
  TempDir dir;
  const fs::path soundfont = *find_soundfont();
  const MidiFile midi = chord_piece();

  const WavInfo normal = write_wav(dir.path / "normal.wav", midi, soundfont);
  const double normal_peak = file_peak_dbfs(dir.path / "normal.wav");
  INFO("normalised peak " << normal_peak << " dBFS, gain " << normal.gain_db << " dB");
  CHECK(normal_peak == Approx(wav_peak_dbfs).margin(0.01));
  CHECK(normal.peak_dbfs == Approx(normal_peak).margin(1e-9));
  CHECK(normal.clipped == 0);

  WavLevel raw_level;
  raw_level.normalize = false;
  const WavInfo raw = write_wav(dir.path / "raw.wav", midi, soundfont, raw_level);
  const double raw_peak = file_peak_dbfs(dir.path / "raw.wav");
  INFO("FluidSynth's own peak " << raw_peak << " dBFS");
  CHECK(raw.gain_db == 0.0);
  CHECK(raw_peak < -3.0);  // FluidSynth's default synth.gain (0.2) leaves headroom: the reason for normalising
  // The normalising gain is what takes FluidSynth's peak to -1 dBFS (the raw
  // file's peak is rounded to 16 bits, hence the margin).
  CHECK(normal.gain_db == Approx(wav_peak_dbfs - raw_peak).margin(0.01));

  WavLevel quieter;
  quieter.gain_db = -6;
  write_wav(dir.path / "quieter.wav", midi, soundfont, quieter);
  CHECK(file_peak_dbfs(dir.path / "quieter.wav") == Approx(-7.0).margin(0.01));

  // Written atomically: only the three files, no temporaries beside them.
  int files = 0;
  for (const auto& entry : fs::directory_iterator(dir.path)) {
    INFO(entry.path());
    CHECK(entry.path().extension() == ".wav");
    ++files;
  }
  CHECK(files == 3);
}

TEST_CASE("generate: the WAV of a freshly trained model peaks at -1 dBFS; --no-normalize and --gain change it") {
  TempDir dir;
  const fs::path run = dir.path / "run";
  const RunResult t = run_cli("train --data demo --out " + quote(run.string()) + " " + kTiny + " --epochs 1");
  INFO(t.out << t.err);
  REQUIRE(t.exit_code == 0);
  const std::string common = "generate --model " + quote(run.string()) + " --device cpu --notes 24 --no-score ";

  const RunResult g = run_cli(common + "--out " + quote((dir.path / "default").string()));
  INFO(g.out << g.err);
  REQUIRE(g.exit_code == 0);
  CHECK(g.out.find("peak -1.0 dBFS)") != std::string::npos);
  CHECK(file_peak_dbfs(dir.path / "default" / "output-01.wav") == Approx(-1.0).margin(0.01));

  const RunResult raw = run_cli(common + "--no-normalize --out " + quote((dir.path / "raw").string()));
  INFO(raw.out << raw.err);
  REQUIRE(raw.exit_code == 0);
  CHECK(raw.out.find("FluidSynth's level)") != std::string::npos);
  const double raw_peak = file_peak_dbfs(dir.path / "raw" / "output-01.wav");
  CHECK(raw_peak < -3.0);

  const RunResult quiet = run_cli(common + "--gain -6 --out " + quote((dir.path / "quiet").string()));
  REQUIRE(quiet.exit_code == 0);
  CHECK(file_peak_dbfs(dir.path / "quiet" / "output-01.wav") == Approx(-7.0).margin(0.01));

  const RunResult raw_louder = run_cli(common + "--no-normalize --gain 2 --out " + quote((dir.path / "raw2").string()));
  REQUIRE(raw_louder.exit_code == 0);
  CHECK(file_peak_dbfs(dir.path / "raw2" / "output-01.wav") == Approx(raw_peak + 2).margin(0.02));

  // Past full scale: said on stderr, the file clipped at 0 dBFS.
  const RunResult loud = run_cli(common + "--gain 6 --out " + quote((dir.path / "loud").string()));
  INFO(loud.out << loud.err);
  REQUIRE(loud.exit_code == 0);
  CHECK(loud.err.find("samples clipped at full scale (--gain +6 dB past the -1 dBFS peak)") != std::string::npos);
  CHECK(file_peak_dbfs(dir.path / "loud" / "output-01.wav") == 0.0);
}
