// Evaluation measures on hand-made inputs.

#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include "nocturne/error.hpp"
#include "nocturne/evaluate.hpp"

using namespace nocturne;

TEST_CASE("pitch-class histogram counts every pitch of every event") {
  const std::vector<std::vector<int>> events = {{60}, {60, 64, 67}, {72}, {}};
  const PitchClassHistogram h = pitch_class_histogram(events);
  CHECK(h[0] == Approx(3.0 / 5));
  CHECK(h[4] == Approx(1.0 / 5));
  CHECK(h[7] == Approx(1.0 / 5));
  CHECK(h[1] == 0.0);
  const PitchClassHistogram empty = pitch_class_histogram(std::vector<std::vector<int>>{});
  for (double v : empty) CHECK(v == 0.0);
}

TEST_CASE("Jensen-Shannon divergence (bits) and total variation") {
  PitchClassHistogram c{}, g{}, half{};
  c[0] = 1;
  g[7] = 1;
  half[0] = 0.5;
  half[7] = 0.5;
  CHECK(jensen_shannon_divergence(c, c) == Approx(0.0).margin(1e-12));
  CHECK(jensen_shannon_divergence(c, g) == Approx(1.0));
  CHECK(total_variation_distance(c, g) == Approx(1.0));
  CHECK(total_variation_distance(c, half) == Approx(0.5));
  // JS(c, half): m = (0.75, 0.25): 0.5 * log2(1/0.75) + 0.5 * 0.5 * log2(0.5/0.75) + 0.5 * 0.5 * log2(0.5/0.25)
  const double expected = 0.5 * std::log2(1 / 0.75) + 0.25 * std::log2(0.5 / 0.75) + 0.25 * std::log2(2.0);
  CHECK(jensen_shannon_divergence(c, half) == Approx(expected));
  CHECK(jensen_shannon_divergence(half, c) == Approx(expected));
  // Counts are renormalised.
  PitchClassHistogram counts{};
  counts[0] = 5;
  counts[7] = 5;
  CHECK(jensen_shannon_divergence(counts, half) == Approx(0.0).margin(1e-12));
  CHECK_THROWS_AS(jensen_shannon_divergence(PitchClassHistogram{}, c), ConfigError);
}

TEST_CASE("pitch range") {
  const std::vector<std::vector<int>> events = {{60}, {48, 79}, {}};
  const PitchRange r = pitch_range(events);
  CHECK(r.lowest == 48);
  CHECK(r.highest == 79);
  CHECK(r.span() == 31);
  CHECK(pitch_range(std::vector<std::vector<int>>{}).lowest == -1);
}

TEST_CASE("repetition rate and distinct 4-gram ratio") {
  const std::vector<std::int32_t> same(10, 3);
  CHECK(repetition_rate(same) == 1.0);
  CHECK(distinct_ngram_ratio(same, 4) == Approx(1.0 / 7));
  const std::vector<std::int32_t> distinct = {1, 2, 3, 4, 5, 6};
  CHECK(repetition_rate(distinct) == 0.0);
  CHECK(distinct_ngram_ratio(distinct, 4) == 1.0);
  const std::vector<std::int32_t> some = {1, 1, 2, 2, 2};  // 3 of 4 pairs repeat? (1,1) (2,2) (2,2): 3 / 4
  CHECK(repetition_rate(some) == Approx(0.75));
  const std::vector<std::int32_t> periodic = {1, 2, 1, 2, 1, 2, 1};  // 4-grams: 1212, 2121, 1212, 2121 -> 2 / 4
  CHECK(distinct_ngram_ratio(periodic, 4) == Approx(0.5));
  CHECK(distinct_ngram_ratio(std::vector<std::int32_t>{1, 2}, 4) == 0.0);
  CHECK(repetition_rate(std::vector<std::int32_t>{4}) == 0.0);
  CHECK_THROWS_AS(distinct_ngram_ratio(distinct, 0), ConfigError);
}

TEST_CASE("longest copied passage: found with its piece and offsets, never across pieces") {
  const std::vector<std::vector<std::int32_t>> pieces = {
      {1, 2, 3, 4, 5, 6},
      {7, 8, 9, 1, 2, 3, 4, 5, 6, 10},
      {11, 12, 13},
  };
  const CorpusIndex index(pieces);
  SECTION("a passage inside a piece") {
    const std::vector<std::int32_t> generated = {0, 0, 8, 9, 1, 2, 0};
    const CopiedPassage c = index.longest_copy(generated);
    CHECK(c.length == 4);
    CHECK(c.generated_offset == 2);
    CHECK(c.piece == 1);
    CHECK(c.piece_offset == 1);
  }
  SECTION("the first occurrence is reported") {
    const std::vector<std::int32_t> generated = {3, 4, 5};
    const CopiedPassage c = index.longest_copy(generated);
    CHECK(c.length == 3);
    CHECK(c.piece == 0);
    CHECK(c.piece_offset == 2);
  }
  SECTION("the end of one piece and the start of the next do not join") {
    const std::vector<std::int32_t> generated = {5, 6, 7, 8};  // 5 6 ends piece 0, 7 8 starts piece 1
    CHECK(index.longest_copy(generated).length == 2);
    const std::vector<std::int32_t> across = {10, 11, 12};  // piece 1 ends with 10, piece 2 starts 11 12
    const CopiedPassage c = index.longest_copy(across);
    CHECK(c.length == 2);
    CHECK(c.piece == 2);
    CHECK(c.generated_offset == 1);
  }
  SECTION("nothing in common, negative symbols, empty input") {
    CHECK(index.longest_copy(std::vector<std::int32_t>{20, 21}).length == 0);
    CHECK(index.longest_copy(std::vector<std::int32_t>{20, 21}).piece == -1);
    CHECK(index.longest_copy(std::vector<std::int32_t>{1, 2, -1, 3, 4}).length == 2);
    CHECK(index.longest_copy(std::vector<std::int32_t>{}).length == 0);
  }
  SECTION("the whole generated sequence copied") {
    const CopiedPassage c = index.longest_copy(pieces[1]);
    CHECK(c.length == 10);
    CHECK(c.piece == 1);
    CHECK(c.piece_offset == 0);
  }
}

TEST_CASE("longest copied passage agrees with brute force on pseudo-random sequences") {
  std::uint64_t state = 12345;
  auto next = [&](int bound) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return std::int32_t((state >> 33) % std::uint64_t(bound));
  };
  for (int trial = 0; trial < 20; ++trial) {
    std::vector<std::vector<std::int32_t>> pieces(3);
    for (auto& p : pieces)
      for (int i = 0; i < 60; ++i) p.push_back(next(3));
    std::vector<std::int32_t> generated;
    for (int i = 0; i < 40; ++i) generated.push_back(next(3));
    std::int64_t brute = 0;
    for (const auto& p : pieces)
      for (std::size_t i = 0; i < generated.size(); ++i)
        for (std::size_t j = 0; j < p.size(); ++j) {
          std::int64_t k = 0;
          while (i + std::size_t(k) < generated.size() && j + std::size_t(k) < p.size() &&
                 generated[i + std::size_t(k)] == p[j + std::size_t(k)])
            ++k;
          brute = std::max(brute, k);
        }
    const CopiedPassage c = CorpusIndex(pieces).longest_copy(generated);
    REQUIRE(c.length == brute);
    // The reported place really holds the passage.
    for (std::int64_t k = 0; k < c.length; ++k)
      CHECK(pieces[std::size_t(c.piece)][std::size_t(c.piece_offset + k)] ==
            generated[std::size_t(c.generated_offset + k)]);
  }
}
