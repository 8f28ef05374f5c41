#include "tokenizer/music21_quantize.hpp"

#include <cmath>
#include <tuple>

#include "nocturne/tokenizer.hpp"

namespace nocturne::inline v0::detail {

namespace {

// Python's round(x, 7) for the small non-negative errors at hand.
double round7(double x) { return std::round(x * 1e7) / 1e7; }

struct Candidate {
  double remaining_gap;
  double error;
  double tick;
  double match;
  std::int64_t units;
};

// common.nearestMultiple(n, unit) for n >= 0.
Candidate nearest_multiple(double n, int divisor) {
  const double unit = 1.0 / divisor;
  const double mult = std::floor(n / unit);
  const double half = unit / 2.0;
  const double low = unit * mult;
  const double high = unit * (mult + 1);
  const std::int64_t step = kUnitsPerQuarter / divisor;
  if (low <= n && n <= low + half) return {0.0, round7(n - low), unit, low, static_cast<std::int64_t>(mult) * step};
  return {0.0, round7(high - n), unit, high, (static_cast<std::int64_t>(mult) + 1) * step};
}

}  // namespace

GridMatch quantize_quarters(double quarters, bool zero_allowed, double gap_to_fill) {
  if (quarters < 0) quarters = 0;
  Candidate best{};
  bool first = true;
  for (int divisor : {4, 3}) {
    Candidate c = nearest_multiple(quarters, divisor);
    if (!zero_allowed && c.match == 0.0) {
      c.match = c.tick;
      c.units = kUnitsPerQuarter / divisor;
      c.error = std::fabs(round7(quarters - c.match));
    }
    c.remaining_gap = std::fmod(gap_to_fill, c.tick) == 0.0 ? 0.0 : std::max(gap_to_fill - c.match, 0.0);
    // min() over (remaining gap, error, tick, ...): the 1/4 grid wins full ties.
    if (first || std::tie(c.remaining_gap, c.error, c.tick) < std::tie(best.remaining_gap, best.error, best.tick)) best = c;
    first = false;
  }
  return {best.units, best.match};
}

}  // namespace nocturne::detail
