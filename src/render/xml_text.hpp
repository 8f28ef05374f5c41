#pragma once
// Text for the MusicXML scores (score.cpp, timed_score.cpp).

#include <string>

namespace nocturne::inline v0::detail {

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

}  // namespace nocturne::detail
