// Corpus pipeline: filters, vocabulary, windows, splits, decoding back to MIDI.

#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <set>

#include "nocturne/corpus.hpp"
#include "nocturne/error.hpp"
#include "test_support.hpp"
#include "tokenizer/corpus_internal.hpp"

using namespace nocturne;
using Tokens = std::vector<std::string>;

TEST_CASE("vocabulary: byte order, lookup, save and load") {
  const Vocabulary v({"B1", "0.1", "A1", "B-1", "0", "A1"});
  CHECK(v.symbols() == Tokens{"0", "0.1", "A1", "B-1", "B1"});
  CHECK(v.index("B-1") == 3);
  CHECK(v.symbol(4) == "B1");
  CHECK_FALSE(v.find("C4").has_value());
  CHECK_THROWS_AS(v.index("C4"), ConfigError);
  CHECK_THROWS_AS(v.symbol(5), ConfigError);
  const auto path = nocturne::test::temp_path("nocturne-vocab-test.txt");
  v.save(path);
  CHECK(Vocabulary::load(path) == v);
  std::filesystem::remove(path);
}

TEST_CASE("rare-symbol filters") {
  const Tokens tokens{"a", "a", "b", "c", "a", "b"};
  CHECK(filter_rare(tokens, 3) == Tokens{"a", "a", "a"});
  CHECK(filter_rare(tokens, 0) == tokens);
  // Python's remove-while-iterating skips the element after each removal.
  CHECK(filter_rare_recipe_partial(Tokens{"a", "a", "b", "c"}, 2) == Tokens{"a", "a", "c"});
}

namespace {
std::vector<CorpusFile> small_corpus() {
  std::vector<CorpusFile> files;
  for (int f = 0; f < 5; ++f) {
    CorpusFile file{"piece" + std::to_string(f) + ".mid", {}};
    for (int k = 0; k < 30 + 7 * f; ++k) file.tokens.push_back(std::string(1, static_cast<char>('A' + (k * (f + 1)) % 7)) + "4");
    files.push_back(file);
  }
  return files;
}
}  // namespace

TEST_CASE("random split over windows: every window once, 20% held out, seeded") {
  DatasetOptions options;
  options.min_count = 0;
  options.window = 10;
  CorpusStats stats;
  const auto files = small_corpus();
  const Dataset d = build_dataset(files, options, &stats);
  const auto n = static_cast<std::int64_t>(d.tokens.size()) - 10;
  CHECK(stats.windows == n);
  std::vector<std::int64_t> all = d.train_starts;
  all.insert(all.end(), d.heldout_starts.begin(), d.heldout_starts.end());
  std::sort(all.begin(), all.end());
  for (std::int64_t s = 0; s < n; ++s) CHECK(all[static_cast<std::size_t>(s)] == s);
  CHECK(static_cast<std::int64_t>(d.heldout_starts.size()) == (n * 2 + 9) / 10);
  CHECK(d.target(0) == d.tokens[10]);
  CHECK(d.input(0).size() == 10);
  CHECK(build_dataset(files, options).heldout_starts == d.heldout_starts);
  options.seed = 7;
  CHECK(build_dataset(files, options).heldout_starts != d.heldout_starts);
}

TEST_CASE("piece split: no window of a held-out piece in training, none crossing pieces") {
  DatasetOptions options;
  options.min_count = 0;
  options.window = 10;
  options.split = SplitMode::piece;
  const Dataset d = build_dataset(small_corpus(), options);
  REQUIRE(d.pieces.size() == 5);
  auto piece_of = [&](std::int64_t s) {
    for (std::size_t p = 0; p < d.pieces.size(); ++p)
      if (s >= d.pieces[p].begin && s < d.pieces[p].end) return p;
    return d.pieces.size();
  };
  std::set<std::size_t> train_pieces, heldout_pieces;
  for (auto s : d.train_starts) {
    train_pieces.insert(piece_of(s));
    CHECK(s + d.window < d.pieces[piece_of(s)].end);
  }
  for (auto s : d.heldout_starts) {
    heldout_pieces.insert(piece_of(s));
    CHECK(s + d.window < d.pieces[piece_of(s)].end);
  }
  CHECK_FALSE(heldout_pieces.empty());
  CHECK_FALSE(train_pieces.empty());
  for (auto p : heldout_pieces) CHECK(train_pieces.count(p) == 0);
}

TEST_CASE("bad dataset options") {
  DatasetOptions options;
  options.window = 0;
  CHECK_THROWS_AS(build_dataset(small_corpus(), options), ConfigError);
  options.window = 40;
  options.min_count = 1000;
  CHECK_THROWS_AS(build_dataset(small_corpus(), options), ConfigError);
}

TEST_CASE("tokens -> MIDI -> tokens gives the same tokens") {
  const Tokens tokens{"C4", "0.4.7", "B-0", "11.2.5.7", "G#3", "9.2", "C8", "0.6", "E-5"};
  const MidiFile f = tokens_to_midi(tokens);
  REQUIRE(f.tracks.size() == 2);
  // Each chord written once: one note per pitch class.
  CHECK(f.tracks[1].notes.size() == 1 + 3 + 1 + 4 + 1 + 2 + 1 + 2 + 1);
  CHECK(tokenize(read_midi_bytes(encode_midi(f), "decoded")) == tokens);
  // A one-class chord is a single note in octave 4, as the recipe decodes it.
  CHECK(tokenize(tokens_to_midi(Tokens{"1"})) == Tokens{"C#4"});
}

TEST_CASE("a folder that does not exist") {
  CHECK_THROWS_AS(load_corpus("/nonexistent/folder"), FileError);
}
