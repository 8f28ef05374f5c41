// The engraved score that `nocturne generate` leaves beside the piano roll by
// default: a PNG of the expected size, growing with the music. Skipped (exit
// 77) where LilyPond is not installed; what the run says then is checked by
// test_generate_cli, which runs everywhere.

#include <png.h>

#include <catch2/catch.hpp>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "cli/cli_test_support.hpp"
#include "nocturne/render.hpp"
#include "nocturne/timed_score.hpp"
#include "test_support.hpp"

namespace fs = std::filesystem;
using namespace nocturne;
using namespace nocturne::test;

namespace {

const bool needs_lilypond = [] {
  if (!lilypond_available())
    return set_skip_reason("LilyPond is not installed (no lilypond on PATH; tools/setup.sh installs it): "
                           "score PNG not checked");
  return true;
}();

struct Image {
  int width = 0, height = 0;
  std::int64_t ink = 0;  // dark pixels: staff lines, notes, text
};

Image read_png(const fs::path& path) {
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  REQUIRE(png_image_begin_read_from_file(&image, path.c_str()) != 0);
  image.format = PNG_FORMAT_GRAY;
  std::vector<std::uint8_t> gray(PNG_IMAGE_SIZE(image));
  REQUIRE(png_image_finish_read(&image, nullptr, gray.data(), 0, nullptr) != 0);
  Image out{int(image.width), int(image.height), 0};
  for (std::uint8_t v : gray) out.ink += v < 128;
  return out;
}

}  // namespace

TEST_CASE("generate leaves an engraved score PNG beside the roll by default, of the expected size") {
  TempDir dir;
  const fs::path run = dir.path / "run";
  const RunResult t = run_cli("train --data demo --out " + quote(run.string()) + " " + kTiny + " --epochs 1");
  INFO(t.out << t.err);
  REQUIRE(t.exit_code == 0);

  // kTiny's window is 8: the primer (8 tokens) and 40 new ones are 48 quarter notes, 12 bars.
  const fs::path out = dir.path / "short";
  const RunResult g = run_cli("generate --model " + quote(run.string()) + " --device cpu --no-audio --notes 40 --out " +
                              quote(out.string()));
  INFO(g.out << g.err);
  REQUIRE(g.exit_code == 0);
  CHECK(g.out.find(".roll.png, .musicxml, .ly, .png (score)") != std::string::npos);
  CHECK(g.out.find("no PNG score") == std::string::npos);
  CHECK(fs::exists(out / "output-01.roll.png"));
  CHECK(fs::exists(out / "output-01.ly"));
  CHECK_FALSE(fs::exists(out / ".output-01.lilypond-work"));
  REQUIRE(fs::exists(out / "output-01.png"));
  const Image a = read_png(out / "output-01.png");
  INFO("score.png of 12 bars: " << a.width << " x " << a.height << ", " << a.ink << " dark pixels");
  // LilyPond 2.24 (Debian 12) at 110 dpi, cropped to the music: the systems are
  // the A4 line width (about 194 mm, 840 px) wide, each grand-staff system
  // 120 to 140 px tall with its spacing, plus the title; 12 bars make 2
  // systems, 833 x 255 here. An uncropped A4 page would be 909 x 1286.
  CHECK(a.width >= 700);
  CHECK(a.width <= 950);
  CHECK(a.height >= 150);
  CHECK(a.height <= 500);
  CHECK(a.ink > 5000);

  // Four times the music: as wide, taller (more systems), more ink.
  const fs::path longer = dir.path / "long";
  const RunResult l = run_cli("generate --model " + quote(run.string()) + " --device cpu --no-audio --notes 184 --out " +
                              quote(longer.string()));
  INFO(l.out << l.err);
  REQUIRE(l.exit_code == 0);
  const Image b = read_png(longer / "output-01.png");
  INFO("score.png of 48 bars: " << b.width << " x " << b.height << ", " << b.ink << " dark pixels");
  CHECK(std::abs(b.width - a.width) <= 50);
  CHECK(b.height > 2 * a.height);
  CHECK(b.ink > 2 * a.ink);
}

TEST_CASE("timed music is engraved: odd lengths, triplets, ties and rests, with every bar check passing") {
  TempDir dir;
  constexpr std::int64_t Q = kUnitsPerQuarter;
  std::vector<TimedEvent> events;
  // Eight bars: triplets, a 5/12-quarter note, a chord held over the bar line,
  // a bass line of dotted values, rests in both staves.
  for (int bar = 0; bar < 8; ++bar) {
    const std::int64_t at = bar * 4 * Q;
    events.push_back({at, Q / 3, {72 + bar % 3}, "t"});
    events.push_back({at + Q / 3, Q / 3, {74}, "t"});
    events.push_back({at + 2 * Q / 3, Q / 3, {76}, "t"});
    events.push_back({at + Q, 5 * Q / 12, {79}, "odd"});
    events.push_back({at + 2 * Q, 3 * Q, {64, 67, 71}, "held"});
    events.push_back({at, 3 * Q / 2, {43 + bar % 5}, "bass"});
    events.push_back({at + 2 * Q, Q / 2, {50}, "bass"});
  }
  const fs::path png = dir.path / "timed.png";
  const std::vector<fs::path> pages = write_timed_lilypond_png(png, events, "timed");
  const fs::path log = dir.path / "timed.lilypond.log";
  INFO((fs::exists(log) ? read_text(log) : std::string("no log")));
  REQUIRE(pages.size() == 1);
  REQUIRE(fs::exists(png));
  const std::string text = read_text(log);
  CHECK(text.find("barcheck failed") == std::string::npos);
  CHECK(text.find("warning") == std::string::npos);
  CHECK(text.find("error") == std::string::npos);
  const Image image = read_png(png);
  CHECK(image.width >= 700);
  CHECK(image.ink > 5000);
}

TEST_CASE("generate engraves a timed model's music") {
  TempDir dir;
  const fs::path run = dir.path / "run";
  const RunResult t =
      run_cli("train --data demo --tokens timed --out " + quote(run.string()) + " " + kTiny + " --epochs 1");
  INFO(t.out << t.err);
  REQUIRE(t.exit_code == 0);
  const fs::path out = dir.path / "out";
  const RunResult g = run_cli("generate --model " + quote(run.string()) + " --device cpu --no-audio --notes 60 --out " +
                              quote(out.string()));
  INFO(g.out << g.err);
  REQUIRE(g.exit_code == 0);
  CHECK(g.out.find(".musicxml, .ly, .png (score)") != std::string::npos);
  CHECK(fs::exists(out / "output-01.ly"));
  REQUIRE(fs::exists(out / "output-01.png"));
  CHECK(read_text(out / "output-01.lilypond.log").find("barcheck failed") == std::string::npos);
}
