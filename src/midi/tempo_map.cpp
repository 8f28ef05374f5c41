#include <algorithm>

#include "nocturne/error.hpp"
#include "nocturne/midi.hpp"

namespace nocturne::inline v0 {

TempoMap::TempoMap(int ticks_per_quarter, std::vector<TempoChange> changes) {
  if (ticks_per_quarter <= 0)
    throw ConfigError("TempoMap: ticks_per_quarter must be positive, got " + std::to_string(ticks_per_quarter));
  std::stable_sort(changes.begin(), changes.end(), [](const auto& a, const auto& b) { return a.tick < b.tick; });
  const double tpq = ticks_per_quarter;
  segments_.push_back({0, 0.0, 0.5 / tpq});  // 120 bpm until the first change
  for (const auto& change : changes) {
    const Segment& last = segments_.back();
    const double seconds = last.seconds + static_cast<double>(change.tick - last.tick) * last.seconds_per_tick;
    const double per_tick = change.microseconds_per_quarter * 1e-6 / tpq;
    if (change.tick == last.tick)
      segments_.back() = {change.tick, seconds, per_tick};  // the later change at one tick wins
    else
      segments_.push_back({change.tick, seconds, per_tick});
  }
}

TempoMap::TempoMap(const MidiFile& file) : TempoMap(file.ticks_per_quarter, file.tempo_changes()) {}

double TempoMap::seconds_at(std::int64_t tick) const {
  auto it = std::upper_bound(segments_.begin(), segments_.end(), tick,
                             [](std::int64_t t, const Segment& s) { return t < s.tick; });
  const Segment& seg = it == segments_.begin() ? segments_.front() : *(it - 1);
  return seg.seconds + static_cast<double>(tick - seg.tick) * seg.seconds_per_tick;
}

}  // namespace nocturne
