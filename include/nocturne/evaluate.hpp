#pragma once
// Honest measures the recipe lacks: held-out cross-entropy, perplexity and
// top-1 / top-5 accuracy of a model, and statistics of generated music against
// the corpus (pitch-class histogram distance, pitch range, repetition, and the
// longest passage copied from the training corpus).

#include <array>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "nocturne/export.hpp"
#include "nocturne/model.hpp"

namespace nocturne::inline v0 {

// ---- the model on held-out windows -----------------------------------------

struct NOCTURNE_API HeldoutMetrics {
  std::int64_t windows = 0;
  double cross_entropy = 0;  // mean of -ln p(target), in nats
  double perplexity = 0;     // exp(cross_entropy)
  double top1 = 0;           // fraction whose first most likely symbol is the target
  double top5 = 0;           // fraction whose target has fewer than 5 symbols strictly more likely
};

// Windows start at each of `starts`: input tokens[s, s + window), target
// tokens[s + window]. Runs in batches of model.max_batch(). Probabilities of
// zero count as 1e-30 in the logarithm. progress(done, total) after each
// batch; returning false cancels: evaluate_windows throws Cancelled.
using EvaluationProgress = std::function<bool(std::int64_t done, std::int64_t total)>;
NOCTURNE_API HeldoutMetrics evaluate_windows(Model& model, std::span<const std::int32_t> tokens,
                                             std::span<const std::int64_t> starts,
                                             const EvaluationProgress& progress = {});

// ---- statistics of token sequences -----------------------------------------

// Share of each pitch class (C = 0) among all pitches of all events (a chord
// counts each of its pitches); all zeros when there are none.
using PitchClassHistogram = std::array<double, 12>;
NOCTURNE_API PitchClassHistogram pitch_class_histogram(std::span<const std::vector<int>> events);

// Jensen-Shannon divergence in bits (log base 2): 0 for equal histograms, 1 for
// disjoint ones. Inputs are renormalised; an all-zero histogram throws ConfigError.
NOCTURNE_API double jensen_shannon_divergence(const PitchClassHistogram& p, const PitchClassHistogram& q);
// Total variation distance: half the L1 distance of the renormalised histograms, in [0, 1].
NOCTURNE_API double total_variation_distance(const PitchClassHistogram& p, const PitchClassHistogram& q);

struct NOCTURNE_API PitchRange {
  int lowest = -1, highest = -1;  // MIDI numbers; -1 when there are no pitches
  int span() const { return lowest < 0 ? 0 : highest - lowest; }
};
NOCTURNE_API PitchRange pitch_range(std::span<const std::vector<int>> events);

// Fraction of tokens (from the second on) equal to the token before: 0 for
// fewer than two tokens.
NOCTURNE_API double repetition_rate(std::span<const std::int32_t> tokens);
// Distinct n-grams / all n-grams (positions 0..size-n): 1 = no n-gram repeats;
// 0 when the sequence is shorter than n. n >= 1.
NOCTURNE_API double distinct_ngram_ratio(std::span<const std::int32_t> tokens, std::int64_t n = 4);

// ---- copying from the corpus -----------------------------------------------

struct NOCTURNE_API CopiedPassage {
  std::int64_t length = 0;            // tokens
  std::int64_t generated_offset = 0;  // where the passage starts in the generated sequence
  std::int64_t piece = -1;            // which corpus piece holds it (its first occurrence); -1 when length 0
  std::int64_t piece_offset = 0;      // where it starts in that piece
};

// A suffix automaton over the corpus pieces (kept apart, so no passage spans
// two pieces): the longest common substring with any sequence in time linear
// in that sequence's length. Symbols are any int32 values >= 0; negative ones
// in a query never match.
class NOCTURNE_API CorpusIndex {
 public:
  explicit CorpusIndex(std::span<const std::vector<std::int32_t>> pieces);
  CopiedPassage longest_copy(std::span<const std::int32_t> generated) const;
  std::size_t states() const { return len_.size(); }

 private:
  std::int32_t transition(std::int32_t state, std::int32_t symbol) const;

  // State s: longest string length, suffix link, first end position in the
  // concatenated corpus, transitions (sorted by symbol) in [edge_begin_[s], edge_begin_[s+1]).
  std::vector<std::int32_t> len_, link_;
  std::vector<std::int64_t> first_end_;
  std::vector<std::int64_t> edge_begin_;
  std::vector<std::pair<std::int32_t, std::int32_t>> edges_;
  std::vector<std::int64_t> piece_begin_;  // piece k starts at piece_begin_[k] in the concatenation
};

}  // namespace nocturne
