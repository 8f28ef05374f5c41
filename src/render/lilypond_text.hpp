#pragma once
// Text for the LilyPond scores (score.cpp, timed_lilypond.cpp) and the run
// of the lilypond program that engraves them.

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

namespace nocturne::inline v0::detail {

// A MIDI pitch in LilyPond's absolute note names, sharps spelled "is".
inline std::string lily_pitch(int pitch) {
  static const char* names[12] = {"c", "cis", "d", "dis", "e", "f", "fis", "g", "gis", "a", "ais", "b"};
  std::string s = names[pitch % 12];
  const int marks = pitch / 12 - 1 - 3;  // c' is middle C (MIDI 60)
  s.append(std::size_t(std::max(marks, 0)), '\'');
  s.append(std::size_t(std::max(-marks, 0)), ',');
  return s;
}

// Text for a LilyPond string: quotes and backslashes escaped, control characters left out.
inline std::string lily_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) >= 0x20) out += c;
  }
  return out;
}

// A piano score in 4/4: the title, and the music of the treble and bass staves.
inline std::string lily_piano_score(const std::string& title, const std::string& upper, const std::string& lower) {
  return "\\version \"2.20.0\"\n\\header {\n  title = \"" + lily_escape(title) +
         "\"\n  tagline = \"\"\n}\n\\score {\n  \\new PianoStaff <<\n" +
         "    \\new Staff { \\clef treble \\time 4/4\n    " + upper + "\\bar \"|.\" }\n" +
         "    \\new Staff { \\clef bass \\time 4/4\n    " + lower + "\\bar \"|.\" }\n" + "  >>\n  \\layout { }\n}\n";
}

// Writes `png`'s stem + ".ly" beside it and runs `lilypond --png` on it
// (write_lilypond_png in nocturne/render.hpp says what it returns and throws).
std::vector<std::filesystem::path> engrave_lilypond(const std::filesystem::path& png, const std::string& ly_text);

}  // namespace nocturne::detail
