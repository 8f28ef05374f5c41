// Parity with music21 on the 48 Chopin files (needs the corpus: skipped when absent).
// Reference: music21-tokens.json beside the MIDI files (see ../shared/guide/tokenizer.md).

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>
#include <cstdio>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "nocturne/corpus.hpp"
#include "nocturne/tokenizer.hpp"
#include "test_support.hpp"

static const bool needs_corpus = nocturne::test::require_chopin();

namespace {

using TokenMap = std::map<std::string, std::vector<std::string>>;

TokenMap reference_tokens() {
  std::ifstream in(*nocturne::test::chopin_dir() / "music21-tokens.json");
  return nlohmann::json::parse(in).get<TokenMap>();
}

std::size_t lcs_length(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  // Intern the strings, then the classic two-row dynamic programme.
  std::map<std::string, int> ids;
  auto intern = [&](const std::vector<std::string>& v) {
    std::vector<int> out;
    for (const auto& s : v) out.push_back(ids.emplace(s, static_cast<int>(ids.size())).first->second);
    return out;
  };
  const auto x = intern(a), y = intern(b);
  std::vector<std::size_t> prev(y.size() + 1, 0), cur(y.size() + 1, 0);
  for (std::size_t i = 1; i <= x.size(); ++i) {
    for (std::size_t j = 1; j <= y.size(); ++j)
      cur[j] = x[i - 1] == y[j - 1] ? prev[j - 1] + 1 : std::max(prev[j], cur[j - 1]);
    std::swap(prev, cur);
  }
  return prev[y.size()];
}

std::map<std::string, int> multiset(const std::vector<std::string>& v) {
  std::map<std::string, int> m;
  for (const auto& s : v) ++m[s];
  return m;
}

}  // namespace

TEST_CASE("tokens match music21 on the Chopin corpus") {
  const auto dir = *nocturne::test::chopin_dir();
  const TokenMap reference = reference_tokens();
  REQUIRE(reference.size() == 48);

  std::size_t ref_total = 0, ours_total = 0, lcs_total = 0;
  int equal_multisets = 0;
  std::printf("%-16s %8s %8s %8s %s\n", "file", "ref", "ours", "LCS", "multiset-equal");
  for (const auto& [name, expected] : reference) {
    const auto ours = nocturne::tokenize_file(dir / name);
    const std::size_t lcs = lcs_length(expected, ours);
    const bool same = multiset(expected) == multiset(ours);
    equal_multisets += same ? 1 : 0;
    ref_total += expected.size();
    ours_total += ours.size();
    lcs_total += lcs;
    std::printf("%-16s %8zu %8zu %8zu %s\n", name.c_str(), expected.size(), ours.size(), lcs, same ? "yes" : "no");
  }
  const double aligned = 100.0 * static_cast<double>(lcs_total) / static_cast<double>(std::max(ref_total, ours_total));
  std::printf("total: ref %zu, ours %zu, LCS %zu (%.3f%% aligned), equal multisets %d/48\n", ref_total, ours_total,
              lcs_total, aligned, equal_multisets);
  CHECK(aligned >= 97.0);
  // The requirement is at least 46 of the 48 files with music21's multiset of
  // tokens; all 48 are reached (docs/tokenizer.md), so any regression fails here.
  CHECK(equal_multisets == 48);
  CHECK(ours_total == ref_total);  // 57,886 tokens (tokenizer.md's reference figures)
}

TEST_CASE("filtered vocabulary and corpus statistics match the reference") {
  const auto dir = *nocturne::test::chopin_dir();
  const TokenMap reference = reference_tokens();
  std::vector<nocturne::CorpusFile> ref_files;
  for (const auto& [name, tokens] : reference) ref_files.push_back({name, tokens});
  nocturne::CorpusStats ref_stats, our_stats;
  const auto ref_data = nocturne::build_dataset(ref_files, {}, &ref_stats);
  const auto ours = nocturne::load_corpus(dir);
  REQUIRE(ours.size() == 48);
  const auto our_data = nocturne::build_dataset(ours, {}, &our_stats);
  std::printf("tokens: ours %lld, reference %lld; vocabulary after filtering: ours %lld, reference %lld\n",
              static_cast<long long>(our_stats.tokens), static_cast<long long>(ref_stats.tokens),
              static_cast<long long>(our_stats.vocabulary_size), static_cast<long long>(ref_stats.vocabulary_size));
  // Figures of ../shared/guide/tokenizer.md.
  CHECK(ref_stats.tokens == 57886);
  CHECK(ref_stats.vocabulary_size == 127);
  CHECK(our_data.vocab == ref_data.vocab);
  CHECK(our_stats.distinct_symbols == 396);
  CHECK(our_stats.rare_symbols == 269);
  CHECK(our_stats.rare_occurrences == 4768);
  CHECK(std::llabs(our_stats.tokens - 57886) <= 50);  // the parity figures explain the difference
}
