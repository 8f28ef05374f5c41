#pragma once
// Text for the MusicXML scores (score.cpp, timed_score.cpp).

#include <ostream>
#include <string>

namespace nocturne::inline v0::detail {

// A pitch class spelled with sharps: its step letter and alteration.
struct Spelling {
  char step;
  int alter;
};
inline constexpr Spelling kSharps[12] = {{'C', 0}, {'C', 1}, {'D', 0}, {'D', 1}, {'E', 0}, {'F', 0},
                                         {'F', 1}, {'G', 0}, {'G', 1}, {'A', 0}, {'A', 1}, {'B', 0}};

// The text with XML's five special characters escaped and control characters
// other than tab and newline left out.
inline std::string xml_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default:
        if (static_cast<unsigned char>(c) >= 0x20 || c == '\t' || c == '\n') out += c;
    }
  }
  return out;
}

// A one-part piano score's opening, up to its <part> element.
inline void write_musicxml_opening(std::ostream& x, const std::string& title) {
  x << "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n"
       "<!DOCTYPE score-partwise PUBLIC \"-//Recordare//DTD MusicXML 3.1 Partwise//EN\" "
       "\"http://www.musicxml.org/dtds/partwise.dtd\">\n"
       "<score-partwise version=\"3.1\">\n"
    << "  <work>\n    <work-title>" << xml_escape(title) << "</work-title>\n  </work>\n"
    << "  <identification>\n    <encoding>\n      <software>nocturne</software>\n    </encoding>\n"
       "  </identification>\n"
       "  <part-list>\n    <score-part id=\"P1\">\n      <part-name>Piano</part-name>\n    </score-part>\n"
       "  </part-list>\n  <part id=\"P1\">\n";
}

// Its closing.
inline void write_musicxml_closing(std::ostream& x) { x << "  </part>\n</score-partwise>\n"; }

}  // namespace nocturne::detail
