// Checkpoint files: round trip of every field, and rejection of every kind of
// damage (truncation at every offset, every flipped byte, wrong magic, another
// format version, sections that point outside the file) before anything is trusted.

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "nocturne/checkpoint.hpp"
#include "nocturne/error.hpp"
#include "nocturne/rng.hpp"
#include "sample_checkpoint.hpp"

namespace fs = std::filesystem;
using nocturne::Checkpoint;
using nocturne::test::sample_checkpoint;

namespace {

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

void require_equal(const Checkpoint& a, const Checkpoint& b) {
  CHECK(a.model.vocab == b.model.vocab);
  CHECK(a.model.window == b.model.window);
  CHECK(a.model.hidden1 == b.model.hidden1);
  CHECK(a.model.hidden2 == b.model.hidden2);
  CHECK(a.model.dense == b.model.dense);
  CHECK(a.model.dropout == b.model.dropout);
  CHECK(a.model.input == b.model.input);
  CHECK(a.model.embedding_dim == b.model.embedding_dim);
  CHECK(a.epochs_total == b.epochs_total);
  CHECK(a.trainer.batch == b.trainer.batch);
  CHECK(a.trainer.stats_every == b.trainer.stats_every);
  CHECK(a.trainer.seed == b.trainer.seed);
  CHECK(a.trainer.adamax.learning_rate == b.trainer.adamax.learning_rate);
  CHECK(a.trainer.adamax.beta1 == b.trainer.adamax.beta1);
  CHECK(a.trainer.adamax.beta2 == b.trainer.adamax.beta2);
  CHECK(a.trainer.adamax.epsilon == b.trainer.adamax.epsilon);
  CHECK(a.vocabulary == b.vocabulary);
  CHECK(a.epochs_done == b.epochs_done);
  CHECK(a.optimizer_steps == b.optimizer_steps);
  CHECK(same_bits(a.parameters, b.parameters));
  CHECK(same_bits(a.first_moment, b.first_moment));
  CHECK(same_bits(a.infinity_norm, b.infinity_norm));
  CHECK(a.metadata == b.metadata);
}

std::string decode_error(const std::vector<std::uint8_t>& bytes) {
  try {
    nocturne::decode_checkpoint(bytes, "test.ckpt");
  } catch (const nocturne::FileError& e) {
    return e.what();
  }
  return "";
}

using nocturne::test::reseal;

// `bytes` with the first occurrence of `from` replaced by `to` (of the same length), resealed.
std::vector<std::uint8_t> patched(std::vector<std::uint8_t> bytes, const std::string& from, const std::string& to) {
  REQUIRE(from.size() == to.size());
  const auto at = std::search(bytes.begin(), bytes.end(), from.begin(), from.end());
  REQUIRE(at != bytes.end());
  std::copy(to.begin(), to.end(), at);
  reseal(bytes);
  return bytes;
}

struct TempDir {
  fs::path path;
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "nocturne-ckpt-XXXXXX").string();
    path = mkdtemp(pattern.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

}  // namespace

TEST_CASE("a checkpoint round-trips every field through a file", "[checkpoint]") {
  TempDir dir;
  const Checkpoint c = sample_checkpoint();
  nocturne::save_checkpoint(dir.path / "a.ckpt", c);
  require_equal(nocturne::load_checkpoint(dir.path / "a.ckpt"), c);
  // Only the checkpoint is left: no temporary file beside it.
  int files = 0;
  for (const auto& entry : fs::directory_iterator(dir.path)) {
    ++files;
    CHECK(entry.path().filename() == "a.ckpt");
  }
  CHECK(files == 1);
  // Saving again replaces it.
  Checkpoint d = c;
  d.epochs_done = 7;
  nocturne::save_checkpoint(dir.path / "a.ckpt", d);
  CHECK(nocturne::load_checkpoint(dir.path / "a.ckpt").epochs_done == 7);
}

TEST_CASE("a checkpoint without optimiser state round-trips", "[checkpoint]") {
  Checkpoint c = sample_checkpoint(false);
  c.model.input = nocturne::InputMode::scalar;
  c.parameters.resize(nocturne::ParameterLayout(c.model).buffer_size(), 0.5f);
  c.metadata.clear();
  require_equal(nocturne::decode_checkpoint(nocturne::encode_checkpoint(c), "x"), c);
}

TEST_CASE("encoding refuses an inconsistent checkpoint", "[checkpoint]") {
  Checkpoint c = sample_checkpoint();
  c.parameters.pop_back();
  CHECK_THROWS_AS(nocturne::encode_checkpoint(c), nocturne::ConfigError);
  c = sample_checkpoint();
  c.vocabulary.pop_back();
  CHECK_THROWS_AS(nocturne::encode_checkpoint(c), nocturne::ConfigError);
  c = sample_checkpoint();
  c.infinity_norm.clear();
  CHECK_THROWS_AS(nocturne::encode_checkpoint(c), nocturne::ConfigError);
}

TEST_CASE("a checkpoint truncated at any offset is rejected", "[checkpoint]") {
  const auto bytes = nocturne::encode_checkpoint(sample_checkpoint());
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    const std::vector<std::uint8_t> cut(bytes.begin(), bytes.begin() + std::ptrdiff_t(n));
    const std::string error = decode_error(cut);
    INFO("truncated to " << n << " bytes");
    REQUIRE_FALSE(error.empty());
    CHECK(error.find("test.ckpt") != std::string::npos);
  }
  std::vector<std::uint8_t> longer = bytes;
  longer.push_back(0);
  CHECK(decode_error(longer).find("trailing bytes") != std::string::npos);
  const auto cut = std::vector<std::uint8_t>(bytes.begin(), bytes.end() - 100);
  CHECK(decode_error(cut).find("truncated") != std::string::npos);
}

TEST_CASE("a checkpoint with any flipped bit is rejected", "[checkpoint]") {
  const auto bytes = nocturne::encode_checkpoint(sample_checkpoint());
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    std::vector<std::uint8_t> bad = bytes;
    bad[i] ^= std::uint8_t(1u << (i % 8));
    INFO("bit " << (i % 8) << " of byte " << i);
    REQUIRE_FALSE(decode_error(bad).empty());
  }
  std::vector<std::uint8_t> bad = bytes;
  bad[bytes.size() / 2] ^= 0x10;
  CHECK(decode_error(bad).find("checksum") != std::string::npos);
}

TEST_CASE("wrong magic and another format version are named", "[checkpoint]") {
  auto bytes = nocturne::encode_checkpoint(sample_checkpoint());
  auto bad = bytes;
  bad[0] = 'X';
  CHECK(decode_error(bad).find("not a Nocturne checkpoint") != std::string::npos);

  bad = bytes;
  const std::uint32_t newer = nocturne::checkpoint_format_version + 1;
  std::memcpy(bad.data() + 8, &newer, 4);
  reseal(bad);
  const std::string error = decode_error(bad);
  CHECK(error.find("version " + std::to_string(newer)) != std::string::npos);
  CHECK(error.find("newer") != std::string::npos);

  bad = bytes;
  const std::uint32_t older = 0;
  std::memcpy(bad.data() + 8, &older, 4);
  reseal(bad);
  CHECK(decode_error(bad).find("older") != std::string::npos);
}

TEST_CASE("sizes and offsets are checked even when the checksum matches", "[checkpoint]") {
  const auto bytes = nocturne::encode_checkpoint(sample_checkpoint());
  // Section table entries start at byte 32, 24 bytes each: id, reserved, offset, size.
  SECTION("a section that reaches past the end") {
    auto bad = bytes;
    const std::uint64_t huge = 1ull << 60;
    std::memcpy(bad.data() + 32 + 24 * 2 + 16, &huge, 8);  // the parameters' size
    reseal(bad);
    CHECK(decode_error(bad).find("outside") != std::string::npos);
  }
  SECTION("an offset before the section table") {
    auto bad = bytes;
    const std::uint64_t zero = 0;
    std::memcpy(bad.data() + 32 + 8, &zero, 8);  // the state's offset
    reseal(bad);
    CHECK_FALSE(decode_error(bad).empty());
  }
  SECTION("an implausible section count") {
    auto bad = bytes;
    const std::uint32_t count = 1000000;
    std::memcpy(bad.data() + 12, &count, 4);
    reseal(bad);
    CHECK(decode_error(bad).find("section count") != std::string::npos);
  }
  SECTION("a huge vocabulary count is refused before anything is allocated") {
    auto bad = bytes;
    std::uint64_t vocab_offset = 0;
    std::memcpy(&vocab_offset, bad.data() + 32 + 24 * 1 + 8, 8);
    const std::uint32_t count = 0xFFFFFFFFu;
    std::memcpy(bad.data() + vocab_offset, &count, 4);
    reseal(bad);
    CHECK(decode_error(bad).find("vocabulary") != std::string::npos);
  }
  SECTION("a model too large for its parameter section") {
    auto bad = bytes;
    std::uint64_t state_offset = 0;
    std::memcpy(&state_offset, bad.data() + 32 + 8, 8);
    const std::int32_t hidden1 = 1 << 19;
    std::memcpy(bad.data() + state_offset + 8, &hidden1, 4);
    reseal(bad);
    CHECK(decode_error(bad).find("parameters") != std::string::npos);
  }
  SECTION("a negative dimension") {
    auto bad = bytes;
    std::uint64_t state_offset = 0;
    std::memcpy(&state_offset, bad.data() + 32 + 8, 8);
    const std::int32_t dense = -4;
    std::memcpy(bad.data() + state_offset + 16, &dense, 4);
    reseal(bad);
    CHECK(decode_error(bad).find("dense") != std::string::npos);
  }
}

TEST_CASE("loading a missing or damaged file names the file", "[checkpoint]") {
  TempDir dir;
  CHECK_THROWS_WITH(nocturne::load_checkpoint(dir.path / "none.ckpt"), Catch::Contains("none.ckpt"));
  const auto bytes = nocturne::encode_checkpoint(sample_checkpoint());
  {
    std::ofstream out(dir.path / "half.ckpt", std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size() / 2));
  }
  CHECK_THROWS_WITH(nocturne::load_checkpoint(dir.path / "half.ckpt"),
                    Catch::Contains("half.ckpt") && Catch::Contains("truncated"));
}

TEST_CASE("non-finite parameters are refused at load, naming the file and the tensor", "[checkpoint]") {
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  const Checkpoint good = sample_checkpoint();
  const nocturne::ParameterView r = nocturne::ParameterLayout(good.model).view("lstm1.R");
  Checkpoint c = good;
  c.parameters[r.offset + std::size_t(r.cols) + 2] = nan;  // row 1, column 2
  std::string error = decode_error(nocturne::encode_checkpoint(c));
  CHECK(error.find("test.ckpt") != std::string::npos);
  CHECK(error.find("lstm1.R") != std::string::npos);
  CHECK(error.find("NaN at row 1, column 2") != std::string::npos);

  c = good;
  const nocturne::ParameterView b = nocturne::ParameterLayout(good.model).view("dense2.b");
  c.parameters[b.offset] = -inf;
  CHECK(decode_error(nocturne::encode_checkpoint(c)).find("dense2.b") != std::string::npos);
  CHECK(decode_error(nocturne::encode_checkpoint(c)).find("-infinity") != std::string::npos);

  // The optimizer's moments too: resuming from them would train on NaN.
  c = good;
  c.infinity_norm[r.offset] = inf;
  error = decode_error(nocturne::encode_checkpoint(c));
  CHECK(error.find("infinity norm") != std::string::npos);
  CHECK(error.find("lstm1.R") != std::string::npos);

  // Padding between tensors is never read: a NaN there is harmless and passes.
  c = good;
  const nocturne::ParameterView w = nocturne::ParameterLayout(good.model).view("lstm1.W");
  REQUIRE(w.size() % 32 != 0);
  c.parameters[w.offset + w.size()] = nan;
  CHECK(decode_error(nocturne::encode_checkpoint(c)).empty());
}

TEST_CASE("a vocabulary the generator cannot decode is refused at save and at load", "[checkpoint]") {
  Checkpoint c = sample_checkpoint();
  for (const std::string bad : {"C99999", "", "H4", "0.4.13", "\xc3\xa9t\xc3\xa9"}) {
    c = sample_checkpoint();
    c.vocabulary[3] = bad;
    INFO("symbol '" << bad << "'");
    CHECK_THROWS_AS(nocturne::encode_checkpoint(c), nocturne::ConfigError);
  }
  c = sample_checkpoint();
  c.vocabulary[3] = "C#4";
  CHECK_THROWS_WITH(nocturne::encode_checkpoint(c), Catch::Contains("repeats symbol 1"));

  // Files written by something else: patched bytes, resealed.
  const auto bytes = nocturne::encode_checkpoint(sample_checkpoint());
  std::string error = decode_error(patched(bytes, "11.2.5", "C99999"));
  CHECK(error.find("test.ckpt") != std::string::npos);
  CHECK(error.find("vocabulary symbol 4 'C99999'") != std::string::npos);
  CHECK(error.find("MIDI 0..127") != std::string::npos);
  error = decode_error(patched(bytes, "B-1", "E-2"));
  CHECK(error.find("test.ckpt") != std::string::npos);
  CHECK(error.find("vocabulary symbol 3 'E-2' repeats symbol 2") != std::string::npos);
  error = decode_error(patched(bytes, "B-1", "B\n1"));
  CHECK(error.find("'B\\x0A1'") != std::string::npos);  // shown on one line
}
