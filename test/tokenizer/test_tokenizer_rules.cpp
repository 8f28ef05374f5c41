// Each rule of ../shared/guide/tokenizer.md on a small file built in memory.

#include <catch2/catch.hpp>

#include <filesystem>

#include "nocturne/error.hpp"
#include "nocturne/tokenizer.hpp"
#include "tokenizer_fixtures.hpp"
#include "test_support.hpp"

using namespace nocturne;
using nocturne::test::make_file;
using nocturne::test::note;
using Tokens = std::vector<std::string>;

TEST_CASE("pitch spelling over the whole MIDI range") {
  CHECK(pitch_name(0) == "C-1");
  CHECK(pitch_name(21) == "A0");
  CHECK(pitch_name(22) == "B-0");
  CHECK(pitch_name(60) == "C4");
  CHECK(pitch_name(61) == "C#4");
  CHECK(pitch_name(63) == "E-4");
  CHECK(pitch_name(66) == "F#4");
  CHECK(pitch_name(68) == "G#4");
  CHECK(pitch_name(70) == "B-4");
  CHECK(pitch_name(108) == "C8");
  CHECK(pitch_name(127) == "G9");
  CHECK_THROWS(pitch_name(128));
  CHECK_THROWS(pitch_name(-1));
  // Names read back, except E and B of octave -1 whose "E-1"/"B-1" read as flats (as in music21).
  for (int p = 0; p <= 127; ++p) {
    if (p == 4 || p == 11) continue;
    INFO(pitch_name(p));
    CHECK(parse_pitch_name(pitch_name(p)) == p);
  }
  CHECK(parse_pitch_name("E-1") == 27);
  // Out of range, however far (an octave of 499999999 once overflowed int).
  CHECK_THROWS_AS(parse_pitch_name("C10"), nocturne::ConfigError);
  CHECK_THROWS_AS(parse_pitch_name("Db499999999"), nocturne::ConfigError);
  CHECK_THROWS_AS(parse_pitch_name("C-2147483648"), nocturne::ConfigError);
}

TEST_CASE("normal order: every example of the table") {
  CHECK(chord_token(std::vector<int>{60, 64, 67}) == "0.4.7");
  CHECK(chord_token(std::vector<int>{57, 60, 64}) == "9.0.4");
  CHECK(chord_token(std::vector<int>{55, 59, 62, 65}) == "11.2.5.7");
  CHECK(chord_token(std::vector<int>{59, 62, 65, 68}) == "2.5.8.11");
  CHECK(chord_token(std::vector<int>{62, 69}) == "9.2");
  CHECK(chord_token(std::vector<int>{66, 72}) == "0.6");
  CHECK(chord_token(std::vector<int>{49, 61}) == "1");
  CHECK(chord_token(std::vector<int>{60, 63, 64, 68}) == "0.3.4.8");
}

TEST_CASE("a single note and a chord") {
  const auto f = make_file({{note(60, 0, 480), note(64, 0, 480), note(67, 0, 480), note(62, 480, 960)}});
  CHECK(tokenize(f) == Tokens{"0.4.7", "D4"});
}

TEST_CASE("chord window: onsets strictly closer than TPQ/4, offsets within TPQ/4") {
  // TPQ 480: the window is 120 ticks.
  CHECK(tokenize(make_file({{note(60, 0, 480), note(64, 119, 480)}})) == Tokens{"0.4"});
  CHECK(tokenize(make_file({{note(60, 0, 480), note(64, 120, 480)}})).size() == 2);
  CHECK(tokenize(make_file({{note(60, 0, 480), note(64, 0, 600)}})) == Tokens{"0.4"});
  CHECK(tokenize(make_file({{note(60, 0, 480), note(64, 0, 601)}})).size() == 2);
  // A note left out (different end) can start its own chord with a later note.
  CHECK(tokenize(make_file({{note(60, 0, 480), note(64, 10, 960), note(67, 20, 960)}})) == Tokens{"C4", "4.7"});
}

TEST_CASE("quantization to the 1/4 and 1/3 grids") {
  auto offset_of = [](std::int64_t tick) {
    return tokenize_elements(make_file({{note(60, tick, tick + 480)}})).front().offset;
  };
  CHECK(offset_of(160) == 64);   // 1/3 quarter
  CHECK(offset_of(320) == 128);  // 2/3 quarter
  CHECK(offset_of(150) == 64);   // 0.3125: nearer 1/3 than 1/4
  CHECK(offset_of(140) == 48);   // 0.2917: equally far from 1/4 and 1/3: the 1/4 grid wins
  CHECK(offset_of(60) == 0);     // 0.125: exactly half-way rounds down
  CHECK(offset_of(61) == 48);
  // A very short note never gets duration 0; a zero-length one is a grace note.
  CHECK(tokenize_elements(make_file({{note(60, 0, 5)}})).front().duration == 48);
  const auto grace = tokenize_elements(make_file({{note(60, 0, 0)}}));
  REQUIRE(grace.size() == 1);
  CHECK(grace.front().duration == 0);
}

TEST_CASE("barlines split notes: one token per bar") {
  // 4/4: a half note on beat 3 ends on the barline; on beat 4 it crosses it.
  CHECK(tokenize(make_file({{note(60, 960, 1920)}})).size() == 1);
  const auto crossing = tokenize_elements(make_file({{note(60, 1440, 2400)}}));
  REQUIRE(crossing.size() == 2);
  CHECK(crossing[0].offset == 3 * kUnitsPerQuarter);
  CHECK(crossing[0].duration == kUnitsPerQuarter);
  CHECK(crossing[1].offset == 4 * kUnitsPerQuarter);
  CHECK(crossing[1].tied_from_previous_bar);
  // 3/4 from the conductor track: a note over three bars gives three tokens, a chord too.
  const auto f = make_file({{note(60, 960, 3840), note(64, 960, 3840)}}, {{0, 3, 4, 24, 8}});
  CHECK(tokenize(f) == Tokens{"0.4", "0.4", "0.4"});
  // A signature change applies from the bar that starts at it: 2/4 then 3/4.
  const auto g = make_file({{note(62, 0, 480 * 5)}}, {{0, 2, 4, 24, 8}, {960, 3, 4, 24, 8}});
  CHECK(tokenize(g).size() == 2);
  TokenizerOptions no_split;
  no_split.split_at_barlines = false;
  CHECK(tokenize(make_file({{note(60, 1440, 2400)}}), no_split).size() == 1);
}

TEST_CASE("runaway lengths from a damaged file are refused, not tokenized until memory runs out") {
  // 1/64 bars are 1/16 of a quarter: a note 70,000 quarters in needs 1.12 M
  // bar lines, past the default limit of 2^20.
  const std::vector<TimeSignature> sixty_fourths{{0, 1, 64, 24, 8}};
  const std::int64_t q = 480;
  const auto far = make_file({{note(60, 70000 * q, 70001 * q)}}, sixty_fourths);
  CHECK_THROWS_WITH(tokenize(far), Catch::Contains("past 1048576 bars") && Catch::Contains("damaged"));
  CHECK_THROWS_AS(tokenize(far), ConfigError);

  // Smaller limits, the same checks: two notes of 100 quarters, a beat apart
  // (not a chord), are 1,600 bars and 3,200 tied pieces.
  TokenizerOptions small;
  small.max_bars = 2000;
  small.max_tokens = 3000;
  const auto long_notes = make_file({{note(60, 0, 100 * q), note(64, q, 101 * q)}}, sixty_fourths);
  CHECK_THROWS_WITH(tokenize(long_notes, small), Catch::Contains("more than 3000 notes and chords"));
  small.max_tokens = 3200;
  CHECK(tokenize(long_notes, small).size() == 3200);
  small.max_bars = 1600;
  CHECK_THROWS_WITH(tokenize(long_notes, small), Catch::Contains("past 1600 bars"));
  small.max_bars = 0;
  CHECK_THROWS_AS(tokenize(long_notes, small), ConfigError);

  // Through a file, the error names it.
  const auto path = nocturne::test::temp_path("nocturne-runaway-length.mid");
  write_midi(path, far);
  CHECK_THROWS_WITH(tokenize_file(path), Catch::Contains(path.string()) && Catch::Contains("damaged"));
  CHECK_THROWS_AS(tokenize_file(path), FileError);
  std::filesystem::remove(path);
}

TEST_CASE("the token limit holds for notes that never cross a bar line, over all tracks") {
  // Sixteenth notes, each inside its bar: 300 in one track and 300 in another.
  std::vector<Note> right, left;
  for (std::int64_t k = 0; k < 300; ++k) {
    right.push_back(note(72, k * 120, k * 120 + 100));
    left.push_back(note(48, k * 120, k * 120 + 100));
  }
  const auto busy = make_file({right, left});
  TokenizerOptions options;
  options.max_tokens = 600;
  CHECK(tokenize(busy, options).size() == 600);
  options.max_tokens = 599;
  CHECK_THROWS_WITH(tokenize(busy, options), Catch::Contains("more than 599 notes and chords"));
  options.max_tokens = 299;  // one track alone passes the limit
  CHECK_THROWS_AS(tokenize(busy, options), ConfigError);
  options.split_at_barlines = false;  // and so without bar lines
  CHECK_THROWS_AS(tokenize(busy, options), ConfigError);

  // Through a file, the error names it.
  const auto path = nocturne::test::temp_path("nocturne-token-limit.mid");
  write_midi(path, busy);
  options.split_at_barlines = true;
  options.max_tokens = 599;
  CHECK_THROWS_WITH(tokenize_file(path, options), Catch::Contains(path.string()) && Catch::Contains("damaged"));
  std::filesystem::remove(path);
}

TEST_CASE("pairing: a note struck again before its release ends at the next note-off") {
  // Events on 0, on 240, off 480, off 3840 (the reader pairs them first in,
  // first out: 0-480 and 240-3840). music21 gives each note-on the first
  // note-off after it, shared: 0-480 and 240-480, so no barline is crossed.
  const auto restruck = tokenize_elements(make_file({{note(60, 0, 480), note(60, 240, 3840)}}));
  REQUIRE(restruck.size() == 2);
  CHECK(restruck[0].duration == kUnitsPerQuarter);
  CHECK(restruck[1].offset == kUnitsPerQuarter / 2);
  CHECK(restruck[1].duration == kUnitsPerQuarter / 2);
  // A note-off at the tick of the next note-on of the pitch ends the earlier note.
  const auto repeated = tokenize_elements(make_file({{note(60, 0, 480), note(60, 480, 960)}}));
  REQUIRE(repeated.size() == 2);
  CHECK(repeated[1].offset == kUnitsPerQuarter);
  CHECK(repeated[1].duration == kUnitsPerQuarter);
  // Other pitches and channels do not share note-offs.
  CHECK(tokenize(make_file({{note(60, 0, 480), note(62, 240, 3840)}})).size() == 3);
}

TEST_CASE("barlines: the rest of a note moved between two bars with voices is not split again") {
  // 4/4. C4 and E4 start together and end apart: the track needs voices, and
  // bar 1 gets them. E4 lasts three bars.
  // Bar 2 has voices too (G4 and B4 overlap): E4's rest lands in bar 2 outside
  // the voices and stays one piece of two bars: E4 gives 2 tokens, not 3.
  const auto voiced = make_file(
      {{note(60, 0, 480), note(64, 0, 5760), note(67, 1920, 2400), note(71, 1920, 2880)}});
  const auto elements = tokenize_elements(voiced);
  CHECK(tokenize(voiced) == Tokens{"C4", "E4", "G4", "B4", "E4"});
  REQUIRE(elements.size() == 5);
  CHECK(elements[4].offset == 4 * kUnitsPerQuarter);
  CHECK(elements[4].duration == 8 * kUnitsPerQuarter);
  CHECK(elements[4].tied_from_previous_bar);
  // Bar 2 without voices (G4 alone): the rest goes into a voice and is split.
  CHECK(tokenize(make_file({{note(60, 0, 480), note(64, 0, 5760), note(67, 1920, 2400)}})).size() == 5);
  // Bar 1 without voices (E4 alone) but bar 2 with them: split as usual.
  CHECK(tokenize(make_file({{note(64, 0, 5760), note(67, 1920, 2400), note(71, 1920, 2880)}})).size() == 5);
  // No voices in the track (nothing starts together and ends apart): split as usual,
  // although E4 overlaps G4 and B4.
  CHECK(tokenize(make_file({{note(60, 0, 480), note(64, 240, 5760), note(67, 1920, 2400), note(71, 2400, 2880)}}))
            .size() == 6);
}

TEST_CASE("order: time, then track (right hand first), then creation") {
  const auto f = make_file({{note(72, 480, 960)}, {note(48, 0, 480), note(50, 480, 960)}});
  CHECK(tokenize(f) == Tokens{"C3", "C5", "D3"});
}

TEST_CASE("decoding tokens to pitches") {
  CHECK(token_pitches("C#4") == std::vector<int>{61});
  CHECK(token_pitches("B-0") == std::vector<int>{22});
  CHECK(token_pitches("11.2.5.7") == std::vector<int>{71, 62, 65, 67});
  CHECK(token_pitches("1") == std::vector<int>{61});
  CHECK_THROWS(token_pitches("12.1"));
  CHECK_THROWS(token_pitches("H4"));
  CHECK_THROWS(token_pitches("0..4"));
}
