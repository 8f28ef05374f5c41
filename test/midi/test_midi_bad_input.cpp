// Malformed input: one FileError naming the file and the offset, never a crash.

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "nocturne/error.hpp"
#include "nocturne/midi.hpp"
#include "smf_bytes.hpp"

using namespace nocturne;
using nocturne::test::append;
using nocturne::test::Bytes;

namespace {
std::string error_of(const Bytes& bytes) {
  try {
    read_midi_bytes(bytes, "bad.mid");
  } catch (const FileError& e) {
    return e.what();
  }
  return "";
}
void check_error(const Bytes& bytes, const std::string& fragment) {
  const std::string message = error_of(bytes);
  INFO(message);
  CHECK(message.rfind("bad.mid: byte ", 0) == 0);
  CHECK(message.find(fragment) != std::string::npos);
  CHECK(message.find('\n') == std::string::npos);
}
Bytes good_track() {
  Bytes body;
  append(body, {0x00, 0x90, 60, 100, 0x60, 0x80, 60, 0, 0x00, 0xFF, 0x2F, 0x00});
  return body;
}
}  // namespace

TEST_CASE("empty and non-MIDI files") {
  check_error({}, "empty file");
  check_error({'R', 'I', 'F', 'F', 0, 0, 0, 0}, "not a Standard MIDI File");
  check_error({'M', 'T'}, "not a Standard MIDI File");
}

TEST_CASE("truncated files") {
  const Bytes whole = nocturne::test::file(1, 480, {good_track()});
  for (std::size_t cut = 4; cut < whole.size(); ++cut) {
    const Bytes part(whole.begin(), whole.begin() + static_cast<std::ptrdiff_t>(cut));
    INFO("cut at " << cut);
    CHECK_THROWS_AS(read_midi_bytes(part, "bad.mid"), FileError);
  }
  check_error(Bytes(whole.begin(), whole.begin() + 16), "truncated");
}

TEST_CASE("a chunk length past the end of the file") {
  Bytes bytes = nocturne::test::header(1, 1, 480);
  append(bytes, {'M', 'T', 'r', 'k', 0x7F, 0xFF, 0xFF, 0xFF, 0x00});
  check_error(bytes, "runs past the end");
}

TEST_CASE("running status with no previous status") {
  Bytes body;
  append(body, {0x00, 60, 100});
  check_error(nocturne::test::file(1, 480, {body}), "running status");
}

TEST_CASE("a variable-length quantity longer than 4 bytes") {
  Bytes body;
  append(body, {0x81, 0x81, 0x81, 0x81, 0x01, 0x90, 60, 100});
  check_error(nocturne::test::file(1, 480, {body}), "longer than 4 bytes");
}

TEST_CASE("an event running past its chunk") {
  Bytes body;
  append(body, {0x00, 0xFF, 0x03, 0x20, 'a', 'b'});
  check_error(nocturne::test::file(1, 480, {body}), "remain in the chunk");
}

TEST_CASE("unsupported or absurd headers") {
  check_error(nocturne::test::file(2, 480, {good_track()}), "format 2");
  check_error(nocturne::test::file(1, 0, {good_track()}), "division");
  check_error(nocturne::test::file(1, 0xE250, {good_track()}), "SMPTE");
  Bytes many = nocturne::test::header(1, 60000, 480);
  nocturne::test::track(many, good_track());
  check_error(many, "absurd track count");
  Bytes short_header{'M', 'T', 'h', 'd', 0, 0, 0, 2, 0, 1};
  check_error(short_header, "header length");
}

TEST_CASE("random corruption never crashes") {
  const Bytes whole = nocturne::test::file(1, 480, {good_track(), good_track()});
  std::uint32_t state = 12345;
  for (int trial = 0; trial < 2000; ++trial) {
    Bytes b = whole;
    for (int k = 0; k < 3; ++k) {
      state = state * 1664525u + 1013904223u;
      b[14 + (state >> 8) % (b.size() - 14)] = static_cast<std::uint8_t>(state >> 24);
    }
    try {
      read_midi_bytes(b, "bad.mid");
    } catch (const FileError&) {
    }
  }
  SUCCEED();
}

TEST_CASE("a missing file names its path") {
  CHECK_THROWS_WITH(read_midi("/nonexistent/x.mid"), Catch::Contains("/nonexistent/x.mid"));
}

namespace {
void append_le32(Bytes& out, std::uint32_t v) {
  append(out, {int(v) & 0xFF, int(v >> 8) & 0xFF, int(v >> 16) & 0xFF, int(v >> 24) & 0xFF});
}
// A RIFF file of `form` holding the chunks given as (id, data) pairs.
Bytes riff(const char* form, std::initializer_list<std::pair<const char*, Bytes>> chunks) {
  Bytes body(form, form + 4);
  for (const auto& [id, data] : chunks) {
    body.insert(body.end(), id, id + 4);
    append_le32(body, std::uint32_t(data.size()));
    body.insert(body.end(), data.begin(), data.end());
    if (data.size() % 2) body.push_back(0);
  }
  Bytes out{'R', 'I', 'F', 'F'};
  append_le32(out, std::uint32_t(body.size()));
  out.insert(out.end(), body.begin(), body.end());
  return out;
}
}  // namespace

TEST_CASE("an RMID file (RIFF-wrapped) is read through to its Standard MIDI File") {
  const Bytes smf = nocturne::test::file(1, 480, {good_track()});
  const Bytes rmid = riff("RMID", {{"LIST", Bytes{'I', 'N', 'F', 'O', 1}}, {"data", smf}});
  const MidiFile plain = read_midi_bytes(smf, "plain.mid");
  const MidiFile wrapped = read_midi_bytes(rmid, "wrapped.rmi");
  REQUIRE(wrapped.tracks.size() == 1);
  CHECK(wrapped.tracks[0].notes == plain.tracks[0].notes);
  CHECK(wrapped.ticks_per_quarter == 480);
  // A damaged payload is named as inside the RMID file.
  Bytes damaged_smf = smf;
  damaged_smf[12] = 0;  // division 0
  damaged_smf[13] = 0;
  const std::string message = error_of(riff("RMID", {{"data", damaged_smf}}));
  CHECK(message.find("RMID") != std::string::npos);
  CHECK(message.find("division") != std::string::npos);
}

TEST_CASE("other RIFF files say what they are") {
  check_error(riff("WAVE", {{"fmt ", Bytes(16, 0)}}), "a RIFF 'WAVE' file, not a Standard MIDI File");
  check_error(riff("RMID", {{"LIST", Bytes{'I', 'N', 'F', 'O'}}}), "without a \"data\" chunk");
  CHECK_THAT(error_of(riff("RMID", {{"data", Bytes{'M', 'T'}}})),
             Catch::Contains("bad.mid (RMID") && Catch::Contains("not a Standard MIDI File"));
}

TEST_CASE("a header that declares 0 tracks says so") {
  const std::string message = error_of(nocturne::test::header(1, 0, 480));
  INFO(message);
  CHECK(message.find("declares 0 tracks") != std::string::npos);
  CHECK(message.find("only 0 bytes") == std::string::npos);
}
