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
