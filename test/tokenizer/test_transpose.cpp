// Transposition for training (src/tokenizer/transpose.hpp): pitches shifted
// in the parsed file and tokenized again, the piano's range, the vocabulary
// rule, and the per-epoch draw.

#include <catch2/catch.hpp>

#include <set>

#include "nocturne/error.hpp"
#include "nocturne/tokenizer.hpp"
#include "tokenizer/transpose.hpp"
#include "tokenizer_fixtures.hpp"

using namespace nocturne;
using nocturne::test::make_file;
using nocturne::test::note;
using Tokens = std::vector<std::string>;

namespace {

// C4; C major (C E G); G7 (G B D F); C#4.
MidiFile four_events() {
  return make_file({{note(60, 0, 480), note(60, 480, 960), note(64, 480, 960), note(67, 480, 960), note(55, 960, 1440),
                     note(59, 960, 1440), note(62, 960, 1440), note(65, 960, 1440), note(61, 1440, 1920)}});
}

}  // namespace

TEST_CASE("transposed notes are spelled and chords take their normal order as the tokenizer writes them") {
  const MidiFile f = four_events();
  CHECK(tokenize(f) == Tokens{"C4", "0.4.7", "11.2.5.7", "C#4"});
  // +2: D major (D F# A), A7 (A C# E G: normal order from C#, span 8), E-4 spelled with a flat.
  CHECK(tokenize(transpose_midi(f, 2)) == Tokens{"D4", "2.6.9", "1.4.7.9", "E-4"});
  // -3: A major, E7, B-3: pitch classes rotate through 0 (9.1.4, not 1.4.9).
  CHECK(tokenize(transpose_midi(f, -3)) == Tokens{"A3", "9.1.4", "8.11.2.4", "B-3"});
  // +5: F major, C7 (4.7.10.0: E G B- C spans 8, C E G B- spans 10), F#4.
  CHECK(tokenize(transpose_midi(f, 5)) == Tokens{"F4", "5.9.0", "4.7.10.0", "F#4"});
  // Onsets, durations, velocities and channels are kept.
  const MidiFile up = transpose_midi(f, 7);
  REQUIRE(up.tracks.size() == f.tracks.size());
  for (std::size_t t = 0; t < f.tracks.size(); ++t) {
    REQUIRE(up.tracks[t].notes.size() == f.tracks[t].notes.size());
    for (std::size_t k = 0; k < f.tracks[t].notes.size(); ++k) {
      Note expected = f.tracks[t].notes[k];
      expected.pitch += 7;
      CHECK(up.tracks[t].notes[k] == expected);
    }
  }
}

TEST_CASE("transposition keeps MIDI pitches inside 0..127") {
  const MidiFile f = make_file({{note(120, 0, 480), note(3, 0, 480)}});
  CHECK_NOTHROW(transpose_midi(f, 7));
  CHECK_THROWS_AS(transpose_midi(f, 8), ConfigError);
  CHECK_THROWS_AS(transpose_midi(f, -4), ConfigError);
}

TEST_CASE("a shift that leaves the piano's range is not used for that piece") {
  // Lowest B0 (23), highest E7 (100): down at most 2 (to A0 = 21), up at most 8 (to C8 = 108).
  const MidiFile f = make_file({{note(23, 0, 480), note(100, 480, 960)}});
  CHECK(piano_range_shifts(f, {-5, 6}) == std::vector<int>{-2, -1, 0, 1, 2, 3, 4, 5, 6});
  const MidiFile high = make_file({{note(23, 0, 480), note(105, 480, 960)}});
  CHECK(piano_range_shifts(high, {-5, 6}) == std::vector<int>{-2, -1, 0, 1, 2, 3});
  // A piece already outside the piano keeps its own key and the shifts that bring it in.
  const MidiFile low = make_file({{note(19, 0, 480), note(60, 480, 960)}});
  CHECK(piano_range_shifts(low, {-3, 3}) == std::vector<int>{0, 2, 3});
  CHECK(piano_range_shifts(f, {0, 0}) == std::vector<int>{0});
}

TEST_CASE("--transpose specs") {
  CHECK(parse_transpose("0").off());
  CHECK(parse_transpose("off").off());
  const TransposeRange all = parse_transpose("all");
  CHECK((all.lowest == -5 && all.highest == 6));
  const TransposeRange three = parse_transpose("3");
  CHECK((three.lowest == -3 && three.highest == 3));
  const TransposeRange range = parse_transpose("-5..+6");
  CHECK((range.lowest == -5 && range.highest == 6));
  for (const char* bad : {"", "x", "-3", "2..4", "-4..-1", "13", "-13..0", "1..", "..2", "1.5"}) {
    INFO(bad);
    CHECK_THROWS_WITH(parse_transpose(bad), Catch::Contains("--transpose"));
  }
}

TEST_CASE("the vocabulary rule: symbols outside the run's vocabulary are dropped from transposed pieces") {
  const Vocabulary vocab(std::vector<std::string>{"C4", "D4", "2.6.9"});
  const Tokens transposed{"D4", "2.6.9", "1.4.7.9", "E-4", "C4"};
  CHECK(vocabulary_indices(transposed, vocab) == std::vector<std::int32_t>{*vocab.find("D4"), *vocab.find("2.6.9"),
                                                                           *vocab.find("C4")});
  CHECK(vocabulary_indices(Tokens{"E-4"}, vocab).empty());
}

TEST_CASE("an epoch draws one key per piece, from the seed and the epoch alone") {
  // Two pieces: versions marked by their shift (token = 100 + shift), lengths differ by key.
  std::vector<TransposedPiece> pieces(2);
  pieces[0].shifts = {-2, -1, 0, 1, 2};
  pieces[1].shifts = {0, 1};
  for (TransposedPiece& p : pieces)
    for (const int shift : p.shifts) p.versions.emplace_back(std::size_t(20 + shift), 100 + shift);
  const std::int64_t window = 4;
  std::set<std::vector<int>> draws;
  for (int epoch = 1; epoch <= 30; ++epoch) {
    const TransposedEpoch e = draw_transposed_epoch(pieces, window, 7, epoch);
    const TransposedEpoch again = draw_transposed_epoch(pieces, window, 7, epoch);
    CHECK(e.tokens == again.tokens);
    CHECK(e.starts == again.starts);
    REQUIRE(e.shifts.size() == 2);
    draws.insert(e.shifts);
    // Piece k's tokens are its drawn version; windows lie inside one piece.
    const std::size_t first = std::size_t(20 + e.shifts[0]);
    REQUIRE(e.tokens.size() == first + std::size_t(20 + e.shifts[1]));
    for (std::size_t i = 0; i < e.tokens.size(); ++i) CHECK(e.tokens[i] == 100 + e.shifts[i < first ? 0 : 1]);
    CHECK(e.starts.size() == (first - window) + (std::size_t(20 + e.shifts[1]) - window));
    for (const std::int64_t s : e.starts) CHECK((s + window < std::int64_t(first) || s >= std::int64_t(first)));
  }
  // 30 epochs over 10 combinations see several of them; another seed draws otherwise.
  CHECK(draws.size() >= 5);
  bool differs = false;
  for (int epoch = 1; epoch <= 10; ++epoch)
    differs = differs || draw_transposed_epoch(pieces, window, 8, epoch).shifts !=
                             draw_transposed_epoch(pieces, window, 7, epoch).shifts;
  CHECK(differs);
}
