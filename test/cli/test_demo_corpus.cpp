// The demo corpus: labelled, deterministic, and enough material for a vocabulary
// of a few dozen symbols and a few thousand windows.

#include <catch2/catch.hpp>

#include "nocturne/corpus.hpp"
#include "nocturne/demo_corpus.hpp"
#include "nocturne/error.hpp"

namespace fs = std::filesystem;

TEST_CASE("demo pieces are labelled and deterministic", "[demo]") {
  for (int i = 0; i < 6; ++i) {
    const nocturne::MidiFile a = nocturne::demo_piece(i), b = nocturne::demo_piece(i);
    REQUIRE(a.tracks.size() == 1);
    CHECK(a.tracks[0].name().rfind(nocturne::demo_corpus_label, 0) == 0);
    CHECK(a.tracks[0].notes == b.tracks[0].notes);
    CHECK(a.tracks[0].notes.size() > 150);
  }
  CHECK(nocturne::demo_piece(0).tracks[0].notes != nocturne::demo_piece(1).tracks[0].notes);
  CHECK_THROWS_AS(nocturne::demo_piece(-1), nocturne::ConfigError);
}

TEST_CASE("the demo corpus feeds the corpus pipeline", "[demo]") {
  std::string pattern = (fs::temp_directory_path() / "nocturne-demo-XXXXXX").string();
  const fs::path dir = mkdtemp(pattern.data());
  const auto paths = nocturne::write_demo_corpus(dir, 16);
  CHECK(paths.size() == 16);
  const auto files = nocturne::load_corpus(dir);
  REQUIRE(files.size() == 16);
  nocturne::DatasetOptions options;
  options.min_count = 2;
  options.window = 32;
  nocturne::CorpusStats stats;
  nocturne::build_dataset(files, options, &stats);
  CHECK(stats.vocabulary_size >= 20);
  CHECK(stats.vocabulary_size <= 60);
  CHECK(stats.windows >= 2000);
  std::error_code ec;
  fs::remove_all(dir, ec);
  CHECK_THROWS_AS(nocturne::write_demo_corpus(dir, 0), nocturne::ConfigError);
}
