// The fuzz targets' properties in every test run: on their seeds, on
// deterministic mutations of the seeds, on the inputs libFuzzer once broke
// (test/fuzz/regressions/<target>/) and on the Chopin files where present.
// An input that fails is written to fuzz-failures/ in the working folder, to
// replay under a debugger or with the libFuzzer build (docs/fuzzing.md).

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <sstream>
#include <string>

#include "fuzz_properties.hpp"
#include "nocturne/checkpoint.hpp"
#include "nocturne/corpus.hpp"
#include "test_support.hpp"
#include "tokenizer/corpus_internal.hpp"
#include "checkpoint/fnv1a64.hpp"

using nocturne::fuzz::Bytes;

namespace {

using Check = std::function<void(std::span<const std::uint8_t>)>;

Bytes read_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::string hex(std::uint64_t v) {
  char buffer[17];
  std::snprintf(buffer, sizeof buffer, "%016llx", static_cast<unsigned long long>(v));
  return buffer;
}

// Runs one input; on failure keeps it in fuzz-failures/ and says where.
bool passes(const char* target, const Check& check, const Bytes& input, const std::string& origin) {
  std::string failure;
  try {
    check(input);
    return true;
  } catch (const std::exception& e) {
    failure = e.what();
  }
  const std::filesystem::path kept = std::filesystem::path("fuzz-failures") / target /
                                     hex(nocturne::fnv1a64(input));
  std::filesystem::create_directories(kept.parent_path());
  std::ofstream(kept, std::ios::binary).write(reinterpret_cast<const char*>(input.data()),
                                              static_cast<std::streamsize>(input.size()));
  FAIL_CHECK(target << ": " << origin << ": " << failure << " (input kept in "
                    << std::filesystem::absolute(kept).string() << ")");
  return false;
}

// One to three byte-level edits, the kinds libFuzzer makes most.
Bytes mutate(Bytes b, nocturne::SplitMix64& rng) {
  const int edits = 1 + int(rng.below(3));
  for (int k = 0; k < edits; ++k) {
    const std::size_t n = b.size();
    const auto at = [&] { return n == 0 ? std::size_t(0) : std::size_t(rng.below(n)); };
    switch (rng.below(6)) {
      case 0:  // a random byte
        if (n) b[at()] = static_cast<std::uint8_t>(rng.next());
        break;
      case 1: {  // a byte at an edge of its range
        static constexpr std::uint8_t kEdges[] = {0x00, 0x01, 0x7F, 0x80, 0xFE, 0xFF};
        if (n) b[at()] = kEdges[rng.below(std::size(kEdges))];
        break;
      }
      case 2:  // cut short
        b.resize(at());
        break;
      case 3: {  // drop a run
        const std::size_t from = at(), len = std::min<std::size_t>(n - from, 1 + rng.below(16));
        b.erase(b.begin() + std::ptrdiff_t(from), b.begin() + std::ptrdiff_t(from + len));
        break;
      }
      case 4: {  // repeat a run
        const std::size_t from = at(), len = std::min<std::size_t>(n - from, 1 + rng.below(16));
        const Bytes run(b.begin() + std::ptrdiff_t(from), b.begin() + std::ptrdiff_t(from + len));
        b.insert(b.begin() + std::ptrdiff_t(at()), run.begin(), run.end());
        break;
      }
      default:  // insert random bytes
        for (std::uint64_t i = 0, count = 1 + rng.below(4); i < count; ++i)
          b.insert(b.begin() + std::ptrdiff_t(at()), static_cast<std::uint8_t>(rng.next()));
    }
  }
  return b;
}

void run_target(const char* target, const Check& check, const std::vector<Bytes>& seeds, int mutants_per_seed) {
  int failures = 0;
  for (std::size_t s = 0; s < seeds.size(); ++s) {
    if (!passes(target, check, seeds[s], "seed " + std::to_string(s))) ++failures;
    nocturne::SplitMix64 rng(0xF022 + s);
    for (int m = 0; m < mutants_per_seed && failures < 5; ++m)
      if (!passes(target, check, mutate(seeds[s], rng), "seed " + std::to_string(s) + " mutant " + std::to_string(m)))
        ++failures;
  }
  const auto folder = std::filesystem::path(NOCTURNE_FUZZ_REGRESSIONS) / target;
  if (std::filesystem::is_directory(folder))
    for (const auto& entry : std::filesystem::directory_iterator(folder))
      if (entry.is_regular_file() &&
          !passes(target, check, read_bytes(entry.path()), "regression " + entry.path().filename().string()))
        ++failures;
  CHECK(failures == 0);
}

}  // namespace

TEST_CASE("MIDI reader, tokenizer and writer keep their promises on damaged files") {
  run_target("midi", nocturne::fuzz::check_midi, nocturne::fuzz::midi_seeds(), 600);
}

TEST_CASE("checkpoint decoder keeps its promises on damaged files") {
  run_target("checkpoint", nocturne::fuzz::check_checkpoint, nocturne::fuzz::checkpoint_seeds(), 1500);
}

TEST_CASE("token decoding keeps its promises on odd tokens") {
  run_target("tokens", nocturne::fuzz::check_tokens, nocturne::fuzz::token_seeds(), 1500);
}

TEST_CASE("the Chopin files keep the MIDI promises") {
  const auto dir = nocturne::test::chopin_dir();
  if (!dir) {
    WARN("the Chopin corpus is absent: only the built-in seeds were checked");
    return;
  }
  int files = 0;
  for (const auto& path : nocturne::find_midi_files(*dir)) {
    passes("midi", nocturne::fuzz::check_midi, read_bytes(path), path.filename().string());
    ++files;
  }
  CHECK(files == 48);
}
