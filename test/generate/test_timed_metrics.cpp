// Measures of timed models and music on hand-made inputs.

#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include "nocturne/backend.hpp"
#include "nocturne/error.hpp"
#include "nocturne/timed_evaluate.hpp"

using namespace nocturne;

namespace {
constexpr std::int64_t Q = kUnitsPerQuarter;
}

TEST_CASE("timing statistics: durations, inter-onset intervals, notes per bar, onsets on the beat") {
  // Quarter notes on beats 1-3, a chord of two on beat 3's second triplet, a grace note on beat 4.
  const std::vector<std::vector<TimedEvent>> pieces = {{
      {0, Q, {60}, "C4"},
      {Q, Q, {62}, "D4"},
      {2 * Q, Q, {64}, "E4"},
      {2 * Q + Q / 3, Q / 3, {65, 69}, "5.9"},
      {3 * Q, 0, {67}, "G4"},
  }};
  const TimingStatistics s = timing_statistics(pieces);
  CHECK(s.elements == 5);
  CHECK(s.notes == 6);
  CHECK(s.on_beat == Approx(4.0 / 5));
  CHECK(s.notes_per_bar == Approx(6.0));  // one bar of 4/4
  // Durations (the grace note left out): three quarters (bin 12), one third (bin 4).
  CHECK(s.durations[12] == Approx(0.75));
  CHECK(s.durations[4] == Approx(0.25));
  // Onsets 0, Q, 2Q, 2Q + Q/3, 3Q: intervals Q, Q, Q/3, 2Q/3.
  CHECK(s.inter_onsets[12] == Approx(0.5));
  CHECK(s.inter_onsets[4] == Approx(0.25));
  CHECK(s.inter_onsets[8] == Approx(0.25));
  // Longer than 4 quarters: the last bin; pieces are kept apart (no interval between them).
  const std::vector<std::vector<TimedEvent>> two = {{{0, 6 * Q, {48}, "C3"}}, {{0, Q, {60}, "C4"}}};
  const TimingStatistics t = timing_statistics(two);
  CHECK(t.durations[timing_bins - 1] == Approx(0.5));
  for (double v : t.inter_onsets) CHECK(v == 0.0);
  CHECK(t.notes_per_bar == Approx(2.0 / 3));  // 2 bars and 1 bar
}

TEST_CASE("Jensen-Shannon divergence of histograms of any size") {
  const std::vector<double> a{1, 0, 0}, b{0, 0, 2}, c{1, 0, 1};
  CHECK(histogram_js_divergence(a, a) == Approx(0.0).margin(1e-12));
  CHECK(histogram_js_divergence(a, b) == Approx(1.0));
  const double expected = 0.5 * std::log2(1 / 0.75) + 0.25 * std::log2(0.5 / 0.75) + 0.25 * std::log2(2.0);
  CHECK(histogram_js_divergence(a, c) == Approx(expected));
  CHECK_THROWS_AS(histogram_js_divergence(a, std::vector<double>{1, 0}), ConfigError);
  CHECK_THROWS_AS(histogram_js_divergence(a, std::vector<double>{0, 0, 0}), ConfigError);
}

TEST_CASE("held-out cross-entropy by part of the stream adds up to the whole") {
  ModelConfig config;
  config.vocab = 6;
  config.window = 4;
  config.hidden1 = 8;
  config.hidden2 = 6;
  config.dense = 4;
  auto backend = make_cpu_backend();
  Model model(*backend, config, 3);
  model.initialize(5);
  const std::vector<std::string> vocab = {"0.4.7", "C4", "E4", "d1", "d1/2", "s1"};
  std::vector<std::int32_t> tokens;
  for (int k = 0; k < 40; ++k) tokens.push_back(std::int32_t((k * 7 + k / 3) % 6));
  std::vector<std::int64_t> starts;
  for (std::int64_t s = 0; s + 4 < std::int64_t(tokens.size()); ++s) starts.push_back(s);
  const HeldoutMetrics all = evaluate_windows(model, tokens, starts);
  const ComponentMetrics parts = evaluate_windows_by_component(model, tokens, starts, vocab);
  std::int64_t symbols = 0, durations = 0, shifts = 0;
  for (std::int64_t s : starts) {
    const std::int32_t target = tokens[std::size_t(s + 4)];
    (target < 3 ? symbols : target < 5 ? durations : shifts) += 1;
  }
  CHECK(parts.symbol.windows == symbols);
  CHECK(parts.duration.windows == durations);
  CHECK(parts.shift.windows == shifts);
  REQUIRE(symbols * durations * shifts > 0);
  const double weighted = (parts.symbol.cross_entropy * double(symbols) + parts.duration.cross_entropy * double(durations) +
                           parts.shift.cross_entropy * double(shifts)) / double(all.windows);
  CHECK(weighted == Approx(all.cross_entropy).epsilon(1e-6));
  CHECK(parts.symbol.cross_entropy != Approx(parts.shift.cross_entropy));
  CHECK_THROWS_AS(evaluate_windows_by_component(model, tokens, starts, std::vector<std::string>{"C4"}), ShapeError);
}
