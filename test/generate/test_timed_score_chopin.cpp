// The scores of all 48 Chopin pieces in the timed stream: every bar of the
// MusicXML and of both LilyPond staves adds up to 4/4. Exits 77 (skipped)
// where the corpus is absent.

#include <catch2/catch.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include "nocturne/corpus.hpp"
#include "nocturne/timed_score.hpp"
#include "score_text.hpp"
#include "test_support.hpp"

using namespace nocturne;
using namespace nocturne::test;

static const bool needs_corpus = require_chopin();

TEST_CASE("every Chopin piece's timed scores add up to 4/4 in every bar") {
  const std::vector<std::filesystem::path> files = find_midi_files(*chopin_dir());
  REQUIRE(files.size() == 48);
  for (const std::filesystem::path& file : files) {
    INFO(file.filename().string());
    const std::vector<TimedEvent> events = decode_timed(tokenize_timed_file(file));
    const std::string xml = timed_musicxml_text(events, "t");
    const std::size_t at = xml.find("<divisions>");
    REQUIRE(at != std::string::npos);
    const int divisions = std::stoi(xml.substr(at + 11));
    const std::vector<std::string> bars = measures(xml);
    int wrong = 0;
    for (const std::string& bar : bars) wrong += measure_length(bar) != 4 * divisions;
    CHECK(wrong == 0);
    const std::string ly = timed_lilypond_text(events, "t");
    for (int staff = 0; staff < 2; ++staff) {
      const auto staff_bars = lily_bars(ly, staff);
      CHECK(staff_bars.size() == bars.size());
      int off = 0;
      for (const auto& bar : staff_bars) {
        std::int64_t total = 0;
        for (const LilyNote& n : bar) total += n.units;
        off += total != 4 * kUnitsPerQuarter;
      }
      CHECK(off == 0);
    }
  }
}
