// The counter-based generator: pure functions of (seed, stream, index).

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <numeric>
#include <set>
#include <vector>

#include "nocturne/rng.hpp"
#include "core/rng_streams.hpp"

using namespace nocturne;

TEST_CASE("draws depend only on seed, stream and index", "[rng]") {
  CHECK(random_u32(1, 2, 3) == random_u32(1, 2, 3));
  CHECK(random_u32(1, 2, 3) != random_u32(2, 2, 3));
  CHECK(random_u32(1, 2, 3) != random_u32(1, 3, 3));
  CHECK(random_u32(1, 2, 3) != random_u32(1, 2, 4));
  // Indices past 2^32 reach the counter's high word.
  CHECK(random_u32(1, 2, 5) != random_u32(1, 2, 5 + (std::uint64_t(1) << 32)));
}

TEST_CASE("uniform draws lie in [0, 1) with the right mean and variance", "[rng]") {
  const int n = 200000;
  double sum = 0, sum_sq = 0, lo = 1, hi = 0;
  for (int i = 0; i < n; ++i) {
    const double u = random_uniform(42, 7, std::uint64_t(i));
    REQUIRE(u >= 0.0);
    REQUIRE(u < 1.0);
    sum += u;
    sum_sq += u * u;
    lo = std::min(lo, u);
    hi = std::max(hi, u);
  }
  const double mean = sum / n, var = sum_sq / n - mean * mean;
  // Standard error of the mean is sqrt(1/12 / n) ~ 6.5e-4: 5 sigma bounds.
  CHECK(std::abs(mean - 0.5) < 3.3e-3);
  CHECK(std::abs(var - 1.0 / 12) < 2e-3);
  CHECK(lo < 1e-4);
  CHECK(hi > 1 - 1e-4);
}

TEST_CASE("normal draws have mean 0 and variance 1", "[rng]") {
  const int n = 200000;
  double sum = 0, sum_sq = 0;
  for (int i = 0; i < n; ++i) {
    const double z = random_normal(3, 1, std::uint64_t(i));
    REQUIRE(std::isfinite(z));
    sum += z;
    sum_sq += z * z;
  }
  const double mean = sum / n, var = sum_sq / n - mean * mean;
  CHECK(std::abs(mean) < 0.012);  // 5 standard errors (1 / sqrt(n) = 2.2e-3)
  CHECK(std::abs(var - 1) < 0.02);
}

TEST_CASE("random_below covers its range evenly", "[rng]") {
  std::vector<int> counts(10, 0);
  for (int i = 0; i < 100000; ++i) {
    const auto v = random_below(10, 9, 0, std::uint64_t(i));
    REQUIRE(v < 10);
    ++counts[v];
  }
  for (int c : counts) CHECK(std::abs(c - 10000) < 500);  // ~5 standard deviations (95)
}

TEST_CASE("shuffle gives a seeded permutation", "[rng]") {
  std::vector<std::int64_t> a(1000), b(1000), c(1000);
  std::iota(a.begin(), a.end(), 0);
  b = a;
  c = a;
  shuffle(a, 5, rng_stream::shuffle, 0);
  shuffle(b, 5, rng_stream::shuffle, 0);
  shuffle(c, 5, rng_stream::shuffle, std::uint64_t(1) << 33);
  CHECK(a == b);
  CHECK(a != c);
  std::vector<std::int64_t> sorted = a;
  std::sort(sorted.begin(), sorted.end());
  for (std::size_t i = 0; i < sorted.size(); ++i) REQUIRE(sorted[i] == std::int64_t(i));
  // A shuffle moves almost everything: expected fixed points is 1.
  int fixed = 0;
  for (std::size_t i = 0; i < a.size(); ++i) fixed += a[i] == std::int64_t(i);
  CHECK(fixed < 10);
}
