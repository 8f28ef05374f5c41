// Rendering: PNG files decode with libpng to the documented sizes and hold the
// curves / notes; WAV headers and lengths; MusicXML and LilyPond text.

#include <png.h>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <vector>

#include "nocturne/error.hpp"
#include "nocturne/render.hpp"
#include "test_support.hpp"

namespace fs = std::filesystem;
using namespace nocturne;

namespace {

struct Decoded {
  int width = 0, height = 0;
  std::vector<std::uint8_t> rgb;
  bool is(int x, int y, int r, int g, int b) const {
    const std::size_t i = (std::size_t(y) * std::size_t(width) + std::size_t(x)) * 3;
    return rgb[i] == r && rgb[i + 1] == g && rgb[i + 2] == b;
  }
  // Pixels within `tol` of the colour.
  int count_near(int r, int g, int b, int tol = 40) const {
    int n = 0;
    for (std::size_t i = 0; i < rgb.size(); i += 3)
      n += std::abs(rgb[i] - r) <= tol && std::abs(rgb[i + 1] - g) <= tol && std::abs(rgb[i + 2] - b) <= tol;
    return n;
  }
};

Decoded decode_png(const fs::path& path) {
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  REQUIRE(png_image_begin_read_from_file(&image, path.c_str()) != 0);
  image.format = PNG_FORMAT_RGB;
  Decoded d;
  d.width = int(image.width);
  d.height = int(image.height);
  d.rgb.resize(PNG_IMAGE_SIZE(image));
  REQUIRE(png_image_finish_read(&image, nullptr, d.rgb.data(), 0, nullptr) != 0);
  return d;
}

fs::path temp_dir(const std::string& name) {
  const fs::path dir = nocturne::test::temp_path("nocturne-test-render-" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// LilyPond's version is 2.22 or later (it has -dcrop).
bool lilypond_crops() {
  FILE* pipe = ::popen("lilypond --version 2>/dev/null", "r");
  if (!pipe) return false;
  int major = 0, minor = 0;
  const int got = std::fscanf(pipe, "GNU LilyPond %d.%d", &major, &minor);
  ::pclose(pipe);
  return got == 2 && (major > 2 || (major == 2 && minor >= 22));
}

std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::uint32_t u32(const std::string& b, std::size_t at) {
  return std::uint32_t(std::uint8_t(b[at])) | std::uint32_t(std::uint8_t(b[at + 1])) << 8 |
         std::uint32_t(std::uint8_t(b[at + 2])) << 16 | std::uint32_t(std::uint8_t(b[at + 3])) << 24;
}
std::uint32_t u16(const std::string& b, std::size_t at) {
  return std::uint32_t(std::uint8_t(b[at])) | std::uint32_t(std::uint8_t(b[at + 1])) << 8;
}

}  // namespace

TEST_CASE("loss plot: a PNG of the documented size with both curves and no temporary files left") {
  const fs::path dir = temp_dir("loss");
  const double nan = std::numeric_limits<double>::quiet_NaN();
  std::vector<LossPoint> points;
  for (int e = 1; e <= 30; ++e) points.push_back({e, 4.5 * std::exp(-e / 8.0) + 0.1, e % 3 == 0 ? 3.0 : nan});
  write_loss_plot(dir / "loss.png", points);
  const Decoded png = decode_png(dir / "loss.png");
  CHECK(png.width == loss_plot_width);
  CHECK(png.height == loss_plot_height);
  // The training curve is blue (31, 119, 180), the validation curve orange (255, 127, 14).
  CHECK(png.count_near(31, 119, 180, 10) > 300);
  CHECK(png.count_near(255, 127, 14, 10) > 100);
  // Text (dark grey) exists: ticks, labels, legend.
  CHECK(png.count_near(40, 40, 40, 5) > 500);
  CHECK(std::distance(fs::directory_iterator(dir), fs::directory_iterator{}) == 1);
}

TEST_CASE("loss plot: without validation losses there is no orange curve; an empty history still plots") {
  const fs::path dir = temp_dir("loss2");
  const double nan = std::numeric_limits<double>::quiet_NaN();
  std::vector<LossPoint> points = {{1, 4.0, nan}, {2, 3.0, nan}};
  write_loss_plot(dir / "a.png", points);
  const Decoded a = decode_png(dir / "a.png");
  CHECK(a.count_near(31, 119, 180, 10) > 50);
  CHECK(a.count_near(255, 127, 14, 10) == 0);
  write_loss_plot(dir / "b.png", {});
  const Decoded b = decode_png(dir / "b.png");
  CHECK(b.width == loss_plot_width);
  CHECK(b.count_near(31, 119, 180, 10) < 150);  // the legend's sample line only
  // A single epoch shows as a dot.
  const LossPoint one[] = {{1, 2.0, 2.5}};
  write_loss_plot(dir / "c.png", one);
  const Decoded c = decode_png(dir / "c.png");
  CHECK(c.count_near(31, 119, 180, 10) >= 25);
}

TEST_CASE("piano roll: size follows the formula and notes are drawn") {
  const fs::path dir = temp_dir("roll");
  std::vector<Note> notes;
  for (int i = 0; i < 16; ++i) notes.push_back(Note{50 + i, 80, 0, i * 480, i * 480 + 480});
  PianoRollOptions options;
  options.primer_end_tick = 4 * 480;
  write_piano_roll(dir / "roll.png", notes, 480, options);
  const Decoded png = decode_png(dir / "roll.png");
  // Pitches 50..65 widen to 48..71 (24 rows) + 4 spare rows, 6 px each, + 20.
  CHECK(png.height == (24 + 4) * 6 + 20);
  // 16 quarters at 16 px + 40 left + 20 right.
  CHECK(png.width == 40 + 16 * 16 + 20);
  const ImageSize size = piano_roll_size(notes, 480, options);
  CHECK(size.width == png.width);
  CHECK(size.height == png.height);
  CHECK(png.count_near(200, 40, 60, 10) > 12 * 10);  // generated notes, red
  CHECK(png.count_near(150, 150, 160, 5) > 4 * 10);  // the primer, grey
  // A long piece is shrunk to max_width.
  std::vector<Note> many;
  for (int i = 0; i < 5000; ++i) many.push_back(Note{60, 80, 0, i * 480, i * 480 + 480});
  CHECK(piano_roll_size(many, 480).width <= PianoRollOptions{}.max_width);
  CHECK_THROWS(piano_roll_size(notes, 0));
}

TEST_CASE("MusicXML: a partwise 3.1 document with one note element per pitch and full bars") {
  const std::vector<ScoreEvent> events = {{60}, {60, 64, 67}, {}, {61}, {48}};
  const std::string xml = musicxml_text(events, "A & B");
  CHECK(xml.rfind("<?xml", 0) == 0);
  CHECK(xml.find("<score-partwise version=\"3.1\">") != std::string::npos);
  CHECK(xml.find("A &amp; B") != std::string::npos);
  auto count = [&](const std::string& what) {
    std::size_t n = 0;
    for (std::size_t at = xml.find(what); at != std::string::npos; at = xml.find(what, at + 1)) ++n;
    return n;
  };
  // 5 events in 4/4 -> 2 bars; notes: 1 + 3 + rest + 1 + 1 + 3 rests filling bar 2.
  CHECK(count("<measure ") == 2);
  CHECK(count("</measure>") == 2);
  CHECK(count("<note>") == 10);
  CHECK(count("</note>") == 10);
  CHECK(count("<chord/>") == 2);
  CHECK(count("<rest/>") == 4);
  CHECK(xml.find("<step>C</step>\n          <alter>1</alter>\n          <octave>4</octave>") != std::string::npos);
  CHECK(xml.find("<step>C</step>\n          <octave>3</octave>") != std::string::npos);
  // Balanced tags overall.
  CHECK(count("<part ") == count("</part>"));
  CHECK(count("<pitch>") == count("</pitch>"));
  CHECK_THROWS(musicxml_text(std::vector<ScoreEvent>{{128}}, "x"));
  const fs::path dir = temp_dir("xml");
  write_musicxml(dir / "s.musicxml", events, "A & B");
  CHECK(read_bytes(dir / "s.musicxml") == xml);
}

TEST_CASE("LilyPond: notes split between treble and bass staves; PNG only when lilypond is installed") {
  const std::vector<ScoreEvent> events = {{60, 64}, {59}};
  const std::string ly = lilypond_text(events, "t");
  CHECK(ly.find("<c' e'>4 r4 r4 r4") != std::string::npos);
  CHECK(ly.find("r4 b4 r4 r4") != std::string::npos);
  const fs::path dir = temp_dir("ly");
  const auto pages = write_lilypond_png(dir / "score.png", events, "t");
  if (!lilypond_available()) {
    CHECK(pages.empty());
    return;
  }
  // Engraved: one image for two beats, a real PNG, with its .ly beside it,
  // and nothing left of LilyPond's work folder.
  REQUIRE(pages.size() == 1);
  CHECK(pages[0] == dir / "score.png");
  const std::string png = read_bytes(pages[0]);
  REQUIRE(png.size() > 1000);
  CHECK(png.substr(0, 8) == "\x89PNG\r\n\x1a\n");
  CHECK(read_bytes(dir / "score.ly") == ly);
  CHECK_FALSE(fs::exists(dir / ".score.lilypond-work"));
  // LilyPond 2.22 and later (Debian 12 has 2.24) crop the image to the
  // music: one short system, wider than tall, not an upright page.
  const auto big_endian = [&](std::size_t at) {
    return (std::uint32_t(std::uint8_t(png[at])) << 24) | (std::uint32_t(std::uint8_t(png[at + 1])) << 16) |
           (std::uint32_t(std::uint8_t(png[at + 2])) << 8) | std::uint32_t(std::uint8_t(png[at + 3]));
  };
  const std::uint32_t width = big_endian(16), height = big_endian(20);  // the IHDR chunk
  INFO("score.png is " << width << " x " << height);
  if (lilypond_crops()) CHECK(height < width);
}

// ---- the WAV level: to_pcm16 on synthetic samples (no FluidSynth needed) ----

namespace {

// A 440 Hz sine of the given amplitude, interleaved stereo (the right channel at half).
std::vector<float> sine(double amplitude, int frames = 4410) {
  std::vector<float> s;
  for (int i = 0; i < frames; ++i) {
    const double v = amplitude * std::sin(2 * 3.14159265358979 * 440 * i / 44100.0);
    s.push_back(float(v));
    s.push_back(float(v / 2));
  }
  return s;
}

int max_abs(const std::vector<std::int16_t>& pcm) {
  int m = 0;
  for (std::int16_t v : pcm) m = std::max(m, std::abs(int(v)));
  return m;
}

double max_abs(const std::vector<float>& samples) {
  double m = 0;
  for (float v : samples) m = std::max(m, double(std::abs(v)));
  return m;
}

}  // namespace

TEST_CASE("WAV level: by default the loudest sample goes to -1 dBFS, every sample scaled alike") {
  CHECK(wav_peak_dbfs == -1.0);
  // -1 dBFS of full scale 32767: 10^(-1/20) * 32767 = 29203.8, written as 29204.
  const std::int16_t target = 29204;
  const double minus_1_dbfs = std::pow(10.0, -1.0 / 20) * 32767;
  for (double amplitude : {0.075, 0.5, 1.4}) {  // FluidSynth's usual level, louder, past full scale
    INFO("amplitude " << amplitude);
    const std::vector<float> in = sine(amplitude);
    const PcmSamples pcm = to_pcm16(in);
    REQUIRE(pcm.samples.size() == in.size());
    CHECK(max_abs(pcm.samples) == target);
    CHECK(pcm.peak_dbfs == Approx(-1.0).margin(1e-3));
    CHECK(pcm.clipped == 0);
    const double peak = max_abs(in);
    CHECK(pcm.gain_db == Approx(-1.0 - 20 * std::log10(peak)).margin(1e-9));
    // One gain for every sample: each is its float times the gain, rounded.
    const double g = std::pow(10.0, -1.0 / 20) / peak;
    int off = 0;
    for (std::size_t i = 0; i < in.size(); ++i) off += pcm.samples[i] != std::lround(double(in[i]) * g * 32767);
    CHECK(off == 0);
  }
  // The peak may be a negative sample.
  const std::vector<float> negative = {0.1f, -0.25f, 0.2f, 0.0f};
  const PcmSamples n = to_pcm16(negative);
  CHECK(n.samples[1] == -target);
  CHECK(n.samples[0] == std::lround(double(0.1f) / 0.25 * minus_1_dbfs));
  CHECK(n.samples[3] == 0);
}

TEST_CASE("WAV level: --no-normalize keeps the float level, gain is added after either, clipping is counted") {
  const std::vector<float> in = sine(0.1);  // -20 dBFS
  WavLevel raw;
  raw.normalize = false;
  const PcmSamples r = to_pcm16(in, raw);
  CHECK(max_abs(r.samples) == std::lround(0.1 * 32767));
  CHECK(r.peak_dbfs == Approx(-20.0).margin(1e-3));
  CHECK(r.gain_db == 0.0);
  raw.gain_db = 6;
  CHECK(to_pcm16(in, raw).peak_dbfs == Approx(-14.0).margin(1e-3));

  WavLevel quieter;
  quieter.gain_db = -6;
  const PcmSamples q = to_pcm16(in, quieter);
  CHECK(q.peak_dbfs == Approx(-7.0).margin(1e-3));
  CHECK(q.gain_db == Approx(13.0).margin(1e-9));  // -20 dBFS to -7 dBFS
  CHECK(q.clipped == 0);

  // +3 dB past the -1 dBFS peak: the samples above -2 dB of the peak clip at full scale.
  WavLevel louder;
  louder.gain_db = 3;
  const PcmSamples l = to_pcm16(in, louder);
  const double g = std::pow(10.0, 2.0 / 20) / max_abs(in) * 32767;
  std::int64_t expected = 0;
  for (float v : in) expected += std::abs(std::round(v * g)) > 32767;
  CHECK(expected > 0);
  CHECK(l.clipped == expected);
  CHECK(max_abs(l.samples) == 32767);
  CHECK(l.peak_dbfs == 0.0);
  CHECK(std::count(l.samples.begin(), l.samples.end(), std::int16_t(-32768)) == 0);  // symmetric clamp
}

TEST_CASE("WAV level: silence stays silent; samples that are not finite count as 0; gains out of range fail") {
  const std::vector<float> silence(100, 0.0f);
  const PcmSamples s = to_pcm16(silence);
  CHECK(max_abs(s.samples) == 0);
  CHECK(std::isinf(s.peak_dbfs));
  CHECK(s.peak_dbfs < 0);
  CHECK(s.gain_db == 0.0);
  CHECK(to_pcm16({}).samples.empty());

  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> odd = {0.05f, inf, -0.1f, nan, -inf};
  const PcmSamples o = to_pcm16(odd);
  CHECK(o.samples[1] == 0);
  CHECK(o.samples[3] == 0);
  CHECK(o.samples[4] == 0);
  CHECK(o.samples[2] == -29204);
  CHECK(o.samples[0] == std::lround(double(0.05f) / double(0.1f) * std::pow(10.0, -1.0 / 20) * 32767));

  for (double bad : {61.0, -61.0, double(nan), double(inf)}) {
    INFO("gain " << bad);
    WavLevel level;
    level.gain_db = bad;
    CHECK_THROWS_AS(to_pcm16(odd, level), ConfigError);
  }
  WavLevel edge;
  edge.gain_db = -wav_max_gain_db;
  CHECK(to_pcm16(odd, edge).peak_dbfs == Approx(-61.0).margin(0.1));  // 29203.8 / 1000 written as 29
}

TEST_CASE("WAV: header fields and the documented length") {
  MidiFile midi;
  midi.ticks_per_quarter = 480;
  midi.tracks.resize(1);
  midi.tracks[0].tempos.push_back(TempoChange{0, 1000000});  // 60 bpm: one second a quarter
  for (int i = 0; i < 3; ++i) midi.tracks[0].notes.push_back(Note{60 + 4 * i, 90, 0, i * 480, i * 480 + 480});
  midi.tracks[0].end_tick = 3 * 480;
  CHECK(wav_frame_count(midi) == std::int64_t(std::llround((3.0 + wav_release_seconds) * wav_sample_rate)));
  if (!audio_rendering_available()) {
    CHECK_THROWS(write_wav("x.wav", midi, "none.sf2"));
    return;
  }
  const auto soundfont = find_soundfont();
  if (!soundfont) {
    WARN("no soundfont installed: WAV rendering not checked");
    return;
  }
  const fs::path dir = temp_dir("wav");
  const WavInfo info = write_wav(dir / "a.wav", midi, *soundfont);
  CHECK(info.frames == wav_frame_count(midi));
  CHECK(info.seconds == Approx(4.0).margin(1e-4));
  const std::string b = read_bytes(dir / "a.wav");
  REQUIRE(b.size() == 44 + std::size_t(info.frames) * 4);
  CHECK(b.substr(0, 4) == "RIFF");
  CHECK(u32(b, 4) == b.size() - 8);
  CHECK(b.substr(8, 8) == "WAVEfmt ");
  CHECK(u32(b, 16) == 16);
  CHECK(u16(b, 20) == 1);
  CHECK(u16(b, 22) == 2);
  CHECK(u32(b, 24) == 44100);
  CHECK(u32(b, 28) == 44100 * 4);
  CHECK(u16(b, 32) == 4);
  CHECK(u16(b, 34) == 16);
  CHECK(b.substr(36, 4) == "data");
  CHECK(u32(b, 40) == b.size() - 44);
  // Sound while the notes play: the loudest sample of the first 3 seconds is well above silence.
  int peak = 0;
  for (std::size_t i = 44; i + 1 < 44 + 3 * 44100 * 4; i += 2)
    peak = std::max(peak, std::abs(int(std::int16_t(u16(b, i)))));
  CHECK(peak > 1000);
  CHECK_THROWS(write_wav(dir / "b.wav", midi, dir / "a.wav"));  // not a soundfont
  CHECK_THROWS(find_soundfont(dir / "missing.sf2"));
}
