// SMF reader: events, running status, meta events, tempo map.

#include <catch2/catch.hpp>

#include "nocturne/midi.hpp"
#include "smf_bytes.hpp"

using namespace nocturne;
using nocturne::test::append;
using nocturne::test::Bytes;

TEST_CASE("format 0 with running status and note-on velocity 0 as note-off") {
  Bytes body;
  append(body, {0x00, 0x90, 60, 100});        // note-on C4
  append(body, {0x00, 64, 90});               // running status: note-on E4
  append(body, {0x83, 0x60, 60, 0});          // delta 480 (VLQ 0x83 0x60), C4 off via velocity 0
  append(body, {0x00, 0x80, 64, 0x40});       // real note-off E4
  append(body, {0x00, 0xFF, 0x2F, 0x00});
  const Bytes bytes = nocturne::test::file(0, 480, {body});
  const MidiFile f = read_midi_bytes(bytes, "mem.mid");
  REQUIRE(f.format == 0);
  REQUIRE(f.ticks_per_quarter == 480);
  REQUIRE(f.tracks.size() == 1);
  REQUIRE(f.tracks[0].notes.size() == 2);
  CHECK(f.tracks[0].notes[0] == Note{60, 100, 0, 0, 480});
  CHECK(f.tracks[0].notes[1] == Note{64, 90, 0, 0, 480});
}

TEST_CASE("meta events, sysex and unknown chunks are read or skipped by length") {
  Bytes conductor;
  append(conductor, {0x00, 0xFF, 0x03, 5, 'T', 'i', 't', 'l', 'e'});
  append(conductor, {0x00, 0xFF, 0x51, 3, 0x07, 0xA1, 0x20});            // 500000 us
  append(conductor, {0x00, 0xFF, 0x58, 4, 3, 2, 24, 8});                  // 3/4
  append(conductor, {0x00, 0xFF, 0x59, 2, 0xFD, 1});                      // 3 flats, minor
  append(conductor, {0x00, 0xF0, 3, 0x7E, 0x7F, 0xF7});                   // sysex
  append(conductor, {0x00, 0xFF, 0x7F, 2, 0x00, 0x01});                   // sequencer specific
  append(conductor, {0x83, 0x60, 0xFF, 0x51, 3, 0x0F, 0x42, 0x40});       // 1000000 us at 480
  append(conductor, {0x00, 0xFF, 0x2F, 0x00});
  Bytes piano;
  append(piano, {0x00, 0xFF, 0x04, 5, 'P', 'i', 'a', 'n', 'o'});
  append(piano, {0x00, 0xC0, 0});
  append(piano, {0x00, 0x91, 72, 80, 0x60, 0x81, 72, 0});
  // no end-of-track: tolerated
  Bytes bytes = nocturne::test::header(1, 2, 480);
  nocturne::test::track(bytes, conductor);
  append(bytes, {'X', 'Y', 'Z', 'W', 0, 0, 0, 2, 1, 2});  // alien chunk, skipped
  nocturne::test::track(bytes, piano);
  append(bytes, {0, 0, 0});  // trailing garbage, tolerated
  const MidiFile f = read_midi_bytes(bytes, "mem.mid");
  REQUIRE(f.tracks.size() == 2);
  CHECK(f.tracks[0].name() == "Title");
  CHECK(f.tracks[0].tempos == std::vector<TempoChange>{{0, 500000}, {480, 1000000}});
  CHECK(f.tracks[0].time_signatures == std::vector<TimeSignature>{{0, 3, 4, 24, 8}});
  CHECK(f.tracks[0].key_signatures == std::vector<KeySignature>{{0, -3, true}});
  CHECK(f.tracks[1].instrument_names.at(0).text == "Piano");
  CHECK(f.tracks[1].programs == std::vector<ProgramChange>{{0, 0, 0}});
  CHECK(f.tracks[1].notes == std::vector<Note>{{72, 80, 1, 0, 96}});

  const TempoMap tempo(f);
  CHECK(tempo.seconds_at(0) == Approx(0.0));
  CHECK(tempo.seconds_at(480) == Approx(0.5));
  CHECK(tempo.seconds_at(960) == Approx(1.5));
}

TEST_CASE("note-ons pair with note-offs first in, first out") {
  Bytes body;
  append(body, {0x00, 0x90, 60, 10});
  append(body, {0x10, 0x90, 60, 20});  // overlapping second C4
  append(body, {0x10, 0x90, 60, 0});   // closes the first
  append(body, {0x10, 0x90, 60, 0});   // closes the second
  append(body, {0x10, 0x90, 62, 30});  // never closed: dropped
  const MidiFile f = read_midi_bytes(nocturne::test::file(0, 96, {body}), "mem.mid");
  REQUIRE(f.tracks[0].notes.size() == 2);
  CHECK(f.tracks[0].notes[0] == Note{60, 10, 0, 0, 32});
  CHECK(f.tracks[0].notes[1] == Note{60, 20, 0, 16, 48});
}

TEST_CASE("the 48 Chopin-like facts hold for a written file: tempo map in seconds") {
  const TempoMap map(480, {{0, 600000}, {960, 300000}});
  CHECK(map.seconds_at(960) == Approx(1.2));
  CHECK(map.seconds_at(1440) == Approx(1.5));
}
