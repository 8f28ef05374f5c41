// Writer round trips: write -> read gives the same notes and meta events.

#include <catch2/catch.hpp>

#include <filesystem>

#include "nocturne/midi.hpp"
#include "test_support.hpp"

using namespace nocturne;

TEST_CASE("encode then read gives the same notes, tempos and signatures") {
  MidiFile f;
  f.ticks_per_quarter = 384;
  MidiTrack conductor;
  conductor.tempos = {{0, 600000}, {1000, 450000}};
  conductor.time_signatures = {{0, 3, 4, 24, 8}, {1152, 6, 8, 24, 8}};
  conductor.key_signatures = {{0, -2, false}};
  MidiTrack piano;
  piano.track_names = {{0, "Piano"}};
  piano.programs = {{0, 0, 0}};
  piano.notes = {{60, 100, 0, 0, 384}, {64, 80, 0, 0, 384}, {60, 90, 0, 384, 768},  // repeated C4 at a shared tick
                 {127, 1, 3, 5000, 5000},                                             // zero length
                 {0, 127, 15, 70000, 200000}};
  f.tracks = {conductor, piano};
  const auto bytes = encode_midi(f);
  const MidiFile back = read_midi_bytes(bytes, "roundtrip");
  REQUIRE(back.tracks.size() == 2);
  CHECK(back.ticks_per_quarter == 384);
  CHECK(back.tracks[0].tempos == conductor.tempos);
  CHECK(back.tracks[0].time_signatures == conductor.time_signatures);
  CHECK(back.tracks[0].key_signatures == conductor.key_signatures);
  CHECK(back.tracks[1].name() == "Piano");
  CHECK(back.tracks[1].programs == piano.programs);
  CHECK(back.tracks[1].notes == piano.notes);
}

TEST_CASE("write_midi replaces the file atomically") {
  const auto dir = nocturne::test::temp_path("nocturne-midi-writer-test");
  std::filesystem::create_directories(dir);
  const auto path = dir / "out.mid";
  MidiFile f;
  MidiTrack t;
  t.notes = {{62, 70, 0, 0, 480}};
  f.tracks = {t};
  write_midi(path, f);
  write_midi(path, f);  // overwrite
  CHECK(read_midi(path).tracks.at(0).notes == t.notes);
  int files = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir)) ++files;
  CHECK(files == 1);  // no temporary left behind
  std::filesystem::remove_all(dir);
}

TEST_CASE("gaps wider than one delta time are bridged, and read back at the same ticks") {
  const std::int64_t far = (std::int64_t(1) << 29) + 5;  // two deltas of 2^28 - 1 and a bit
  MidiFile f;
  MidiTrack t;
  t.notes = {{60, 70, 0, 0, 480}, {62, 71, 0, far, far + 480}};
  t.end_tick = 3 * far;
  f.tracks = {t};
  const auto bytes = encode_midi(f);
  const MidiFile back = read_midi_bytes(bytes, "bridged.mid");
  REQUIRE(back.tracks.size() == 1);
  CHECK(back.tracks[0].notes == t.notes);
  CHECK(back.tracks[0].end_tick == t.end_tick);
  CHECK(encode_midi(back) == bytes);
}

TEST_CASE("the writer rejects values MIDI cannot hold") {
  MidiFile f;
  MidiTrack t;
  t.notes = {{128, 70, 0, 0, 480}};
  f.tracks = {t};
  CHECK_THROWS(encode_midi(f));
}
