// The scores of timed music: note values, rests, ties across bar lines and a
// time signature, read back from the MusicXML and the LilyPond texts.

#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include "nocturne/error.hpp"
#include "nocturne/timed_score.hpp"
#include "score_text.hpp"

using namespace nocturne;
using namespace nocturne::test;

namespace {

constexpr std::int64_t Q = kUnitsPerQuarter;

int count(const std::string& text, const std::string& what) {
  int n = 0;
  for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE("timed score: note values, a rest, triplets, a tie across the bar line, 4/4") {
  // Bar 1: C4 quarter, rest quarter, three triplet eighths (D4 E4 F4), then G4 from beat 4 for two quarters.
  // Bar 2: G4's second half (tied), and a half-note chord C4-E4 under it from beat 1.
  const std::vector<TimedEvent> events = {
      {0, Q, {60}, "C4"},
      {2 * Q, Q / 3, {62}, "D4"},
      {2 * Q + Q / 3, Q / 3, {64}, "E4"},
      {2 * Q + 2 * Q / 3, Q / 3, {65}, "F4"},
      {3 * Q, 2 * Q, {67}, "G4"},
      {4 * Q, 2 * Q, {60, 64}, "0.4"},
  };
  const std::string xml = timed_musicxml_text(events, "test");
  CHECK(xml.find("<beats>4</beats>") != std::string::npos);
  CHECK(xml.find("<beat-type>4</beat-type>") != std::string::npos);
  CHECK(xml.find("<divisions>3</divisions>") != std::string::npos);  // the triplets' step
  const auto bars = measures(xml);
  REQUIRE(bars.size() == 2);
  for (const std::string& bar : bars) CHECK(measure_length(bar) == 4 * 3);
  CHECK(count(bars[0], "<rest/>") == 1);
  CHECK(count(bars[0], "<time-modification>") == 3);
  CHECK(count(bars[0], "<tie type=\"start\"/>") == 1);  // G4 into bar 2
  // One voice: beat 1 is G4 (tied in) with C4 and E4, whose half note goes on
  // tied into beat 2, where G4 has ended.
  CHECK(count(bars[1], "<tie type=\"stop\"/>") == 3);
  CHECK(count(bars[1], "<tie type=\"start\"/>") == 2);
  CHECK(count(bars[1], "<chord/>") == 3);
  CHECK(count(bars[1], "<rest/>") == 1);                // beats 3-4 after everything ends
  CHECK(count(bars[1], "<type>half</type>") == 1);      // the rest
}

TEST_CASE("timed score: a note longer than a bar is tied through every bar; bad input is refused") {
  const std::vector<TimedEvent> events = {{Q, 9 * Q, {48}, "C3"}};
  const std::string xml = timed_musicxml_text(events, "long");
  const auto bars = measures(xml);
  REQUIRE(bars.size() == 3);
  for (const std::string& bar : bars) CHECK(measure_length(bar) == 4);  // divisions 1
  CHECK(count(xml, "<tie type=\"start\"/>") == 2);
  CHECK(count(xml, "<tie type=\"stop\"/>") == 2);
  CHECK(count(bars[2], "<rest/>") == 1);
  CHECK_THROWS_AS(timed_musicxml_text(std::vector<TimedEvent>{{0, Q, {128}, "x"}}, "bad"), ConfigError);
  CHECK_THROWS_AS(timed_musicxml_text(std::vector<TimedEvent>{{-1, Q, {60}, "C4"}}, "bad"), ConfigError);
}

TEST_CASE("timed LilyPond score: every bar of both staves adds up; odd lengths as tied values; ties kept") {
  // Treble: C5 for 5/12 of a quarter (no single value: two tied ones), a triplet
  // eighth, a 16th rest, then E5 from beat 2 held for 6 quarters (tied into bar
  // 2), then a rest. Bass: C3 under it for a dotted half from beat 1 (one note:
  // each staff is cut by its own onsets), then silence.
  const std::vector<TimedEvent> events = {
      {0, 5 * Q / 12, {72}, "C5"},
      {5 * Q / 12, Q / 3, {74}, "D5"},
      {Q, 6 * Q, {76}, "E5"},
      {0, 3 * Q, {48}, "C3"},
  };
  const std::string ly = timed_lilypond_text(events, "test \"quoted\"");
  CHECK(ly.find("title = \"test \\\"quoted\\\"\"") != std::string::npos);
  for (int staff = 0; staff < 2; ++staff) {
    const auto bars = lily_bars(ly, staff);
    INFO("staff " << staff << "\n" << ly);
    REQUIRE(bars.size() == 2);
    for (const auto& bar : bars) {
      std::int64_t total = 0;
      for (const LilyNote& n : bar) total += n.units;
      CHECK(total == 4 * Q);
    }
  }
  const auto treble = lily_bars(ly, 0), bass = lily_bars(ly, 1);
  // C5's 80 units: a triplet eighth tied to a triplet 32nd.
  REQUIRE(treble[0].size() >= 2);
  CHECK(treble[0][0].units == 64);
  CHECK(treble[0][0].tied);
  CHECK(treble[0][1].units == 16);
  CHECK_FALSE(treble[0][1].tied);
  // E5 is tied over the bar line and through bar 2 up to its end, then a rest.
  CHECK(treble[0].back().tied);
  CHECK_FALSE(treble[0].back().rest);
  CHECK(treble[1].back().rest);
  std::int64_t held = 0;
  for (const LilyNote& n : treble[1])
    if (!n.rest) held += n.units;
  CHECK(held == 3 * Q);  // bar 2 of E5's 6 quarters: 3, after 3 in bar 1
  // The bass: C3's dotted half, then rests.
  CHECK(bass[0][0].units == 3 * Q);
  CHECK_FALSE(bass[0][0].rest);
  CHECK(bass[0][1].rest);
  CHECK(std::all_of(bass[1].begin(), bass[1].end(), [](const LilyNote& n) { return n.rest; }));
  CHECK_THROWS_AS(timed_lilypond_text(std::vector<TimedEvent>{{0, Q, {-1}, "x"}}, "bad"), ConfigError);
}
