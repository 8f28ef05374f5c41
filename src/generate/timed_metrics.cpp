// Measures for timed models and their music (nocturne/timed_evaluate.hpp).

#include <algorithm>
#include <cmath>
#include <set>

#include "nocturne/error.hpp"
#include "nocturne/timed_evaluate.hpp"

namespace nocturne::inline v0 {

ComponentMetrics evaluate_windows_by_component(Model& model, std::span<const std::int32_t> tokens,
                                               std::span<const std::int64_t> starts,
                                               std::span<const std::string> vocabulary,
                                               const EvaluationProgress& progress) {
  const std::int64_t window = model.config().window;
  std::vector<std::int64_t> by_part[3];
  for (std::int64_t s : starts) {
    const std::size_t target = std::size_t(s + window);
    if (s < 0 || target >= tokens.size() || tokens[target] < 0 || std::size_t(tokens[target]) >= vocabulary.size())
      throw ShapeError("evaluate: window start " + std::to_string(s) + " has no target in the vocabulary");
    const auto part = timed_component(vocabulary[std::size_t(tokens[target])]).value_or(TimedComponent::symbol);
    by_part[int(part)].push_back(s);
  }
  const std::int64_t total = std::int64_t(starts.size());
  std::int64_t before = 0;
  ComponentMetrics m;
  HeldoutMetrics* out[3] = {&m.symbol, &m.duration, &m.shift};
  for (int part = 0; part < 3; ++part) {
    const EvaluationProgress overall = [&](std::int64_t done, std::int64_t) {
      return !progress || progress(before + done, total);
    };
    if (!by_part[part].empty()) *out[part] = evaluate_windows(model, tokens, by_part[part], overall);
    before += std::int64_t(by_part[part].size());
  }
  return m;
}

namespace {

std::size_t bin_of(std::int64_t units) {
  return std::size_t(std::min<std::int64_t>(units / (kUnitsPerQuarter / 12), timing_bins - 1));
}

void normalise(TimingHistogram& h) {
  double total = 0;
  for (double v : h) total += v;
  if (total > 0)
    for (double& v : h) v /= total;
}

}  // namespace

TimingStatistics timing_statistics(std::span<const std::vector<TimedEvent>> pieces) {
  TimingStatistics s;
  std::int64_t bars = 0, on_beat = 0;
  for (const std::vector<TimedEvent>& events : pieces) {
    if (events.empty()) continue;
    std::set<std::int64_t> onsets;
    std::int64_t first = events.front().offset, end = 0;
    for (const TimedEvent& e : events) {
      s.elements += 1;
      s.notes += std::int64_t(e.pitches.size());
      if (e.duration > 0) s.durations[bin_of(e.duration)] += 1;
      on_beat += e.offset % kUnitsPerQuarter == 0;
      onsets.insert(e.offset);
      first = std::min(first, e.offset);
      end = std::max(end, e.offset + std::max<std::int64_t>(e.duration, 1));
    }
    for (auto it = onsets.begin(); std::next(it) != onsets.end(); ++it) s.inter_onsets[bin_of(*std::next(it) - *it)] += 1;
    const std::int64_t bar = 4 * kUnitsPerQuarter;
    bars += (end + bar - 1) / bar - first / bar;
  }
  normalise(s.durations);
  normalise(s.inter_onsets);
  if (bars > 0) s.notes_per_bar = double(s.notes) / double(bars);
  if (s.elements > 0) s.on_beat = double(on_beat) / double(s.elements);
  return s;
}

double histogram_js_divergence(std::span<const double> p, std::span<const double> q) {
  if (p.size() != q.size())
    throw ConfigError("histogram_js_divergence: histograms of " + std::to_string(p.size()) + " and " +
                      std::to_string(q.size()) + " bins");
  double sp = 0, sq = 0;
  for (std::size_t i = 0; i < p.size(); ++i) sp += p[i], sq += q[i];
  if (!(sp > 0) || !(sq > 0)) throw ConfigError("histogram_js_divergence: an all-zero histogram");
  double js = 0;
  for (std::size_t i = 0; i < p.size(); ++i) {
    const double a = p[i] / sp, b = q[i] / sq, m = (a + b) / 2;
    if (a > 0) js += 0.5 * a * std::log2(a / m);
    if (b > 0) js += 0.5 * b * std::log2(b / m);
  }
  return std::max(js, 0.0);
}

}  // namespace nocturne
