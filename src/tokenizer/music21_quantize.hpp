#pragma once
// music21's Stream.quantize(quarterLengthDivisors=(4, 3)), reproduced in the
// same double arithmetic so that ties and near-ties fall the same way.

#include <cstdint>

namespace nocturne::inline v0::detail {

struct GridMatch {
  std::int64_t units;  // the snapped value in kUnitsPerQuarter units
  double value;        // the same as music21's float
};

// Snaps a quarter-length value to the nearer of the 1/4 and 1/3 grids: exact
// half-way points round down, ties between grids go to 1/4. With zero_allowed
// false a 0 becomes one grid step. gap_to_fill (quarters, 0 = none) is the
// distance to the next element's onset: a grid that fills it exactly is
// preferred, as in music21 >= 7 duration quantization.
GridMatch quantize_quarters(double quarters, bool zero_allowed = true, double gap_to_fill = 0.0);

}  // namespace nocturne::detail
