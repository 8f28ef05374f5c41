#pragma once
// Score texts read back for tests (test_timed_score.cpp,
// test_timed_score_chopin.cpp): MusicXML measures and LilyPond bars.

#include <catch2/catch.hpp>

#include <cstddef>
#include <cstdint>
#include <regex>
#include <string>
#include <vector>

#include "nocturne/tokenizer.hpp"

namespace nocturne::inline v0::test {

// The <measure> elements' texts.
inline std::vector<std::string> measures(const std::string& xml) {
  std::vector<std::string> out;
  for (std::size_t at = xml.find("<measure "); at != std::string::npos; at = xml.find("<measure ", at + 1))
    out.push_back(xml.substr(at, xml.find("</measure>", at) - at));
  return out;
}

// The sum of the durations of a measure's notes that are not chord members, in divisions.
inline int measure_length(const std::string& measure) {
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

// One staff of a LilyPond text from timed_lilypond_text: its bars (between
// bar checks), each a list of (units, tied on) per note or rest written.
struct LilyNote {
  std::int64_t units;
  bool rest, tied;
};
inline std::vector<std::vector<LilyNote>> lily_bars(const std::string& ly, int staff) {
  std::size_t at = 0;
  for (int k = 0; k <= staff; ++k) at = ly.find("\\time 4/4", at + 1);
  const std::string music = ly.substr(at, ly.find("\\bar \"|.\"", at) - at);
  std::vector<std::vector<LilyNote>> bars(1);
  // A rest or a chord, its duration number and dots, inside a tuplet or not.
  const std::regex item("(\\\\tuplet 3/2 \\{ )?(r|<[^>]*>)(\\d+)(\\.*)|(\\|)");
  for (auto it = std::sregex_iterator(music.begin(), music.end(), item); it != std::sregex_iterator(); ++it) {
    const std::smatch& m = *it;
    if (m[5].matched) {
      bars.emplace_back();
      continue;
    }
    std::int64_t units = 4 * kUnitsPerQuarter / std::stoi(m[3]), add = units;
    for (std::ptrdiff_t d = 0; d < m[4].length(); ++d) units += (add /= 2);
    if (m[1].matched) units = units * 2 / 3;
    const std::string body = m[2];
    bars.back().push_back({units, body == "r", body.find('~') != std::string::npos});
  }
  if (bars.back().empty()) bars.pop_back();
  return bars;
}

}  // namespace nocturne::test
