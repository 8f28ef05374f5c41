// choose_token: greedy, temperature, top-k, top-p and reproducibility.

#include <catch2/catch.hpp>
#include <cmath>
#include <map>
#include <vector>

#include "nocturne/error.hpp"
#include "nocturne/generate.hpp"
#include "nocturne/rng.hpp"
#include "core/rng_streams.hpp"

using namespace nocturne;

namespace {

SamplingOptions sampling(double temperature = 1.0, int top_k = 0, double top_p = 1.0) {
  SamplingOptions o;
  o.greedy = false;
  o.temperature = temperature;
  o.top_k = top_k;
  o.top_p = top_p;
  return o;
}

std::vector<double> frequencies(const std::vector<float>& probs, const SamplingOptions& o, int draws,
                                std::uint64_t seed = 7) {
  std::vector<double> f(probs.size(), 0);
  for (int i = 0; i < draws; ++i) f[std::size_t(choose_token(probs, o, seed, rng_stream::sampling, std::uint64_t(i)))] += 1;
  for (double& v : f) v /= draws;
  return f;
}

}  // namespace

TEST_CASE("greedy takes the first maximum and draws nothing") {
  const std::vector<float> probs = {0.1f, 0.3f, 0.2f, 0.3f, 0.1f};
  for (std::uint64_t i = 0; i < 20; ++i) CHECK(choose_token(probs, SamplingOptions{}, 5, 0, i) == 1);
  CHECK(choose_token(std::vector<float>{1.0f}, SamplingOptions{}, 0, 0, 0) == 0);
  // NaN and negative entries are never chosen.
  const std::vector<float> odd = {std::nanf(""), -1.0f, 0.2f, 0.1f};
  CHECK(choose_token(odd, SamplingOptions{}, 0, 0, 0) == 2);
  CHECK_THROWS_AS(choose_token(std::vector<float>{}, SamplingOptions{}, 0, 0, 0), ConfigError);
  CHECK_THROWS_AS(choose_token(std::vector<float>{0.0f, 0.0f}, SamplingOptions{}, 0, 0, 0), ConfigError);
  CHECK_THROWS_AS(choose_token(std::vector<float>{0.0f, 0.0f}, sampling(), 0, 0, 0), ConfigError);
}

TEST_CASE("top-k = 1 is greedy for every draw") {
  const std::vector<float> probs = {0.05f, 0.25f, 0.4f, 0.3f};
  for (std::uint64_t i = 0; i < 200; ++i) CHECK(choose_token(probs, sampling(1.7, 1), 3, 9, i) == 2);
}

TEST_CASE("temperature towards zero approaches greedy; a high temperature flattens") {
  const std::vector<float> probs = {0.2f, 0.45f, 0.35f};
  for (std::uint64_t i = 0; i < 500; ++i) CHECK(choose_token(probs, sampling(1e-3), 11, 1, i) == 1);
  // T = 0.5 squares the probabilities: 0.04, 0.2025, 0.1225 renormalised.
  const double z = 0.04 + 0.2025 + 0.1225;
  const auto cold = frequencies(probs, sampling(0.5), 40000);
  CHECK(cold[0] == Approx(0.04 / z).margin(0.01));
  CHECK(cold[1] == Approx(0.2025 / z).margin(0.01));
  const auto hot = frequencies(probs, sampling(100.0), 40000);
  for (double f : hot) CHECK(f == Approx(1.0 / 3).margin(0.015));
}

TEST_CASE("empirical frequencies match the probabilities (T = 1)") {
  const std::vector<float> probs = {0.1f, 0.0f, 0.5f, 0.25f, 0.15f};
  const auto f = frequencies(probs, sampling(), 50000);
  for (std::size_t i = 0; i < probs.size(); ++i) CHECK(f[i] == Approx(probs[i]).margin(0.01));
  CHECK(f[1] == 0.0);
  // Unnormalised weights are renormalised.
  const std::vector<float> weights = {2.0f, 6.0f};
  const auto g = frequencies(weights, sampling(), 40000);
  CHECK(g[0] == Approx(0.25).margin(0.01));
}

TEST_CASE("top-k keeps the k most likely, renormalised") {
  const std::vector<float> probs = {0.1f, 0.4f, 0.2f, 0.3f};
  const auto f = frequencies(probs, sampling(1.0, 2), 40000);
  CHECK(f[0] == 0.0);
  CHECK(f[2] == 0.0);
  CHECK(f[1] == Approx(0.4 / 0.7).margin(0.01));
  CHECK(f[3] == Approx(0.3 / 0.7).margin(0.01));
}

TEST_CASE("top-p keeps the smallest most-likely set whose mass reaches p") {
  const std::vector<float> probs = {0.1f, 0.4f, 0.2f, 0.3f};
  SECTION("p = 0.7 keeps exactly {0.4, 0.3}") {
    const auto f = frequencies(probs, sampling(1.0, 0, 0.7), 40000);
    CHECK(f[0] == 0.0);
    CHECK(f[2] == 0.0);
    CHECK(f[1] == Approx(0.4 / 0.7).margin(0.01));
  }
  SECTION("p = 0.71 needs the third symbol too") {
    const auto f = frequencies(probs, sampling(1.0, 0, 0.71), 40000);
    CHECK(f[0] == 0.0);
    CHECK(f[2] == Approx(0.2 / 0.9).margin(0.01));
  }
  SECTION("a tiny p is greedy") {
    for (std::uint64_t i = 0; i < 200; ++i) CHECK(choose_token(probs, sampling(1.0, 0, 0.01), 1, 1, i) == 1);
  }
  SECTION("top-k then top-p") {
    const auto f = frequencies(probs, sampling(1.0, 3, 0.5), 20000);  // {0.4, 0.3, 0.2}: 0.4/0.9 < 0.5
    CHECK(f[0] == 0.0);
    CHECK(f[2] == 0.0);
    CHECK(f[1] > 0.5);
  }
}

TEST_CASE("the same seed, stream and index give the same choice; others differ") {
  std::vector<float> probs(50);
  for (std::size_t i = 0; i < probs.size(); ++i) probs[i] = float(1 + i % 7);
  std::vector<std::int32_t> a, b, c, d;
  for (std::uint64_t i = 0; i < 200; ++i) {
    a.push_back(choose_token(probs, sampling(0.9, 20, 0.95), 42, sampling_stream(0), i));
    b.push_back(choose_token(probs, sampling(0.9, 20, 0.95), 42, sampling_stream(0), i));
    c.push_back(choose_token(probs, sampling(0.9, 20, 0.95), 43, sampling_stream(0), i));
    d.push_back(choose_token(probs, sampling(0.9, 20, 0.95), 42, sampling_stream(1), i));
  }
  CHECK(a == b);
  CHECK(a != c);
  CHECK(a != d);
  CHECK(sampling_stream(3) == rng_stream::sampling + 3);
}

TEST_CASE("options are validated") {
  CHECK_THROWS_AS(sampling(0.0).validate(), ConfigError);
  CHECK_THROWS_AS(sampling(-1.0).validate(), ConfigError);
  CHECK_THROWS_AS(sampling(1.0, -1).validate(), ConfigError);
  CHECK_THROWS_AS(sampling(1.0, 0, 0.0).validate(), ConfigError);
  CHECK_THROWS_AS(sampling(1.0, 0, 1.5).validate(), ConfigError);
  CHECK_NOTHROW(SamplingOptions{}.validate());
  CHECK(SamplingOptions{}.describe() == "greedy");
  CHECK(sampling(0.9, 20, 0.95).describe() == "sampling (temperature 0.9, top-k 20, top-p 0.95)");
}

TEST_CASE("token lists and vocabulary mapping") {
  CHECK(split_token_list("C4 E4, 0.4.7\t G#3") == std::vector<std::string>{"C4", "E4", "0.4.7", "G#3"});
  CHECK(split_token_list("  ").empty());
  const std::vector<std::string> vocab = {"0.4.7", "C4", "E4"};
  const std::vector<std::string> symbols = {"C4", "X", "E4", "X", "Y", "0.4.7"};
  const MappedTokens m = map_to_vocabulary(symbols, vocab);
  CHECK(m.indices == std::vector<std::int32_t>{1, 2, 0});
  CHECK(m.dropped == 3);
  CHECK(m.dropped_kinds == std::vector<std::string>{"X", "Y"});
  const auto events = token_events(std::vector<std::string>{"C4", "0.4.7", "B-2"});
  CHECK(events == std::vector<std::vector<int>>{{60}, {60, 64, 67}, {46}});
}

TEST_CASE("primer windows: the last window tokens, short primers padded cyclically on the left") {
  const std::vector<std::int32_t> primer = {1, 2, 3, 4, 5};
  CHECK(primer_window(primer, 3) == std::vector<std::int32_t>{3, 4, 5});
  CHECK(primer_window(primer, 5) == primer);
  CHECK(primer_window(primer, 7) == std::vector<std::int32_t>{4, 5, 1, 2, 3, 4, 5});
  CHECK(primer_window(std::vector<std::int32_t>{9}, 3) == std::vector<std::int32_t>{9, 9, 9});
  CHECK_THROWS_AS(primer_window(std::vector<std::int32_t>{}, 3), ConfigError);
}
