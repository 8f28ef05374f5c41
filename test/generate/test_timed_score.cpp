// The MusicXML score of timed music: note values, rests, ties across bar
// lines and a time signature, read back from the text.

#include <catch2/catch.hpp>

#include <regex>
#include <string>
#include <vector>

#include "nocturne/error.hpp"
#include "nocturne/timed_score.hpp"

using namespace nocturne;

namespace {

constexpr std::int64_t Q = kUnitsPerQuarter;

int count(const std::string& text, const std::string& what) {
  int n = 0;
  for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// The <measure> elements' texts.
std::vector<std::string> measures(const std::string& xml) {
  std::vector<std::string> out;
  for (std::size_t at = xml.find("<measure "); at != std::string::npos; at = xml.find("<measure ", at + 1))
    out.push_back(xml.substr(at, xml.find("</measure>", at) - at));
  return out;
}

// The sum of the durations of a measure's notes that are not chord members, in divisions.
int measure_length(const std::string& measure) {
  int total = 0;
  const std::regex note("<note>([\\s\\S]*?)</note>");
  for (auto it = std::sregex_iterator(measure.begin(), measure.end(), note); it != std::sregex_iterator(); ++it) {
    const std::string body = (*it)[1];
    if (body.find("<chord/>") != std::string::npos) continue;
    std::smatch d;
    REQUIRE(std::regex_search(body, d, std::regex("<duration>(\\d+)</duration>")));
    total += std::stoi(d[1]);
  }
  return total;
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
