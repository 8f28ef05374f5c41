#pragma once
// Measures for timed models and their music (timed_tokens.hpp): held-out
// cross-entropy per part of the stream, and the rhythm of generated pieces
// against the corpus's: the distributions of durations and inter-onset
// intervals, note density per bar, and the share of onsets on the beat.

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "nocturne/export.hpp"
#include "nocturne/evaluate.hpp"
#include "nocturne/timed_tokens.hpp"

namespace nocturne::inline v0 {

// evaluate_windows over the windows whose target is a symbol, a duration and
// a shift token, apart (`vocabulary[i]` is the symbol of index i). A part no
// window targets has windows == 0.
struct NOCTURNE_API ComponentMetrics {
  HeldoutMetrics symbol, duration, shift;
};
NOCTURNE_API ComponentMetrics evaluate_windows_by_component(Model& model, std::span<const std::int32_t> tokens,
                                               std::span<const std::int64_t> starts,
                                               std::span<const std::string> vocabulary,
                                               const EvaluationProgress& progress = {});

// Histogram bins of a duration or an interval: bin k holds values in
// [k, k + 1) twelfths of a quarter (the 1/4 and 1/3 grids' common step) up to
// 4 quarters; the last bin, everything longer.
inline constexpr int timing_bins = 49;
using TimingHistogram = std::array<double, timing_bins>;

struct NOCTURNE_API TimingStatistics {
  std::int64_t elements = 0;       // notes and chords, grace notes included
  std::int64_t notes = 0;          // pitches struck (a chord counts each)
  TimingHistogram durations{};     // shares of elements by duration (grace notes left out)
  TimingHistogram inter_onsets{};  // shares of the intervals between successive distinct onsets
  double notes_per_bar = 0;        // notes / bars of 4/4 from the first onset's bar to the last end's
  double on_beat = 0;              // share of elements whose onset is a whole number of quarters
};
// Over pieces kept apart (no interval spans two pieces), counts added up.
NOCTURNE_API TimingStatistics timing_statistics(std::span<const std::vector<TimedEvent>> pieces);

// Jensen-Shannon divergence in bits of two histograms of the same size
// (renormalised; 0 = same, 1 = disjoint). Throws ConfigError for different
// sizes or an all-zero histogram.
NOCTURNE_API double histogram_js_divergence(std::span<const double> p, std::span<const double> q);

}  // namespace nocturne
