// Timed tokens: spelling, decoding a model's stream, and the stream of
// hand-made music with its round trip tokenize -> decode -> MIDI bytes ->
// tokenize (the Chopin corpus: test_timed_tokens_chopin.cpp).

#include <catch2/catch.hpp>

#include <string>

#include "nocturne/corpus.hpp"
#include "nocturne/error.hpp"
#include "nocturne/timed_tokens.hpp"
#include "tokenizer_fixtures.hpp"

using namespace nocturne;
using nocturne::test::make_file;
using nocturne::test::note;
using Tokens = std::vector<std::string>;

namespace {

// Decode, write the MIDI bytes, read them back, tokenize again.
Tokens round_trip(const Tokens& tokens) {
  const MidiFile decoded = timed_tokens_to_midi(tokens);
  const std::vector<std::uint8_t> bytes = encode_midi(decoded);
  return tokenize_timed(read_midi_bytes(bytes, "decoded.mid"));
}

std::vector<std::pair<std::int64_t, std::int64_t>> onsets_and_durations(const Tokens& tokens) {
  std::vector<std::pair<std::int64_t, std::int64_t>> out;
  for (const TimedEvent& e : decode_timed(tokens)) out.push_back({e.offset, e.duration});
  return out;
}

constexpr std::int64_t Q = kUnitsPerQuarter;

}  // namespace

TEST_CASE("timed tokens: spelling of durations and shifts") {
  CHECK(duration_token(Q / 4) == "d1/4");
  CHECK(duration_token(Q / 3) == "d1/3");
  CHECK(duration_token(3 * Q / 2) == "d3/2");
  CHECK(duration_token(4 * Q) == "d4");
  CHECK(duration_token(0) == "d0");
  CHECK(shift_token(Q / 12) == "s1/12");
  CHECK_THROWS_AS(shift_token(0), ConfigError);
  CHECK_THROWS_AS(duration_token(4 * Q + 1), ConfigError);
  CHECK(timed_token_units("d3/4") == 3 * Q / 4);
  CHECK(timed_token_units("s2") == 2 * Q);
  CHECK(timed_component("C#4") == TimedComponent::symbol);
  CHECK(timed_component("0.4.7") == TimedComponent::symbol);
  CHECK(timed_component("d2/3") == TimedComponent::duration);
  CHECK(timed_component("s1/4") == TimedComponent::shift);
  for (const char* bad : {"s0", "d5", "d1/5", "d", "s1/", "d-1", "x4", "d1/3/2", ""})
    CHECK_FALSE(timed_component(bad).has_value());
  CHECK_THROWS_AS(decode_timed(Tokens{"C4", "q1"}), ConfigError);
  CHECK(parse_token_kind("timed") == TokenKind::timed);
  CHECK(token_kind_name(TokenKind::recipe) == "recipe");
  CHECK_THROWS_AS(parse_token_kind("pitch"), ConfigError);
}

TEST_CASE("timed tokens: a model's stream decodes whatever its order") {
  // A duration with no symbol before it is ignored; a symbol without one keeps the last.
  const auto events = decode_timed(Tokens{"d1", "C4", "d1/2", "E4", "s1", "d2", "G4", "s4", "s1/3", "0.4.7", "d1", "d1/3"});
  REQUIRE(events.size() == 4);
  CHECK(events[0].offset == 0);
  CHECK(events[0].duration == Q / 2);
  CHECK(events[1].offset == 0);
  CHECK(events[1].duration == Q / 2);
  CHECK(events[2].offset == Q);
  CHECK(events[2].duration == Q / 2);
  CHECK(events[3].offset == 5 * Q + Q / 3);
  CHECK(events[3].duration == Q + Q / 3);
  CHECK(events[3].pitches == std::vector<int>{60, 64, 67});
}

TEST_CASE("timed tokens: hand-made music, written and round-tripped") {
  const int tpq = 480;
  SECTION("rests, including the one a piece opens with") {
    const MidiFile f = make_file({{note(60, 480, 960), note(64, 1920, 2400), note(67, 2400, 2640)}});
    const Tokens t = tokenize_timed(f);
    CHECK(t == Tokens{"s1", "C4", "d1", "s3", "E4", "d1", "s1", "G4", "d1/2"});
    CHECK(round_trip(t) == t);
  }
  SECTION("triplets against the beat") {
    const MidiFile f = make_file({{note(60, 0, 160), note(62, 160, 320), note(64, 320, 480), note(65, 480, 960)}});
    const Tokens t = tokenize_timed(f);
    CHECK(t == Tokens{"C4", "d1/3", "s1/3", "D4", "d1/3", "s1/3", "E4", "d1/3", "s1/3", "F4", "d1"});
    CHECK(round_trip(t) == t);
  }
  SECTION("a note tied across the bar line is one element; one longer than 4 quarters, several tokens") {
    // 4/4: G4 from beat 4 of bar 1 for two quarters; C3 held for six quarters.
    const MidiFile f = make_file({{note(67, 3 * tpq, 5 * tpq), note(48, 4 * tpq, 10 * tpq)}});
    const Tokens t = tokenize_timed(f);
    CHECK(t == Tokens{"s3", "G4", "d2", "s1", "C3", "d4", "d2"});
    CHECK(round_trip(t) == t);
    CHECK(onsets_and_durations(t) == std::vector<std::pair<std::int64_t, std::int64_t>>{{3 * Q, 2 * Q}, {4 * Q, 6 * Q}});
  }
  SECTION("chords under a held note") {
    std::vector<Note> notes{note(48, 0, 4 * tpq)};
    for (int beat = 0; beat < 4; ++beat) {
      notes.push_back(note(64, beat * tpq, (beat + 1) * tpq));
      notes.push_back(note(67, beat * tpq, (beat + 1) * tpq));
    }
    const Tokens t = tokenize_timed(make_file({notes}));
    CHECK(t == Tokens{"C3", "d4", "4.7", "d1", "s1", "4.7", "d1", "s1", "4.7", "d1", "s1", "4.7", "d1"});
    CHECK(round_trip(t) == t);
  }
  SECTION("two voices at different rates, in two tracks") {
    std::vector<Note> left, right;
    for (int k = 0; k < 4; ++k) left.push_back(note(43 + k, k * tpq, (k + 1) * tpq));       // quarters
    for (int k = 0; k < 12; ++k) right.push_back(note(72 + k % 5, k * 160, (k + 1) * 160));  // triplet eighths
    const MidiFile f = make_file({left, right});
    const Tokens t = tokenize_timed(f);
    const auto events = decode_timed(t);
    REQUIRE(events.size() == 16);
    // Each beat: the bass quarter first (lowest), then the triplet eighth beside it.
    CHECK(t[0] == "G2");
    CHECK(t[1] == "d1");
    CHECK(t[2] == "C5");
    CHECK(t[3] == "d1/3");
    CHECK(t[4] == "s1/3");
    std::int64_t quarters = 0, thirds = 0;
    for (const auto& e : events) (e.duration == Q ? quarters : thirds) += 1;
    CHECK(quarters == 4);
    CHECK(thirds == 12);
    CHECK(round_trip(t) == t);
  }
}
