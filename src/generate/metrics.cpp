// Evaluation measures: the model on held-out windows, statistics of token
// sequences, and the longest passage copied from the corpus.

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <string>

#include "nocturne/error.hpp"
#include "nocturne/evaluate.hpp"

namespace nocturne::inline v0 {

HeldoutMetrics evaluate_windows(Model& model, std::span<const std::int32_t> tokens,
                                std::span<const std::int64_t> starts,
                                const EvaluationProgress& progress) {
  const std::size_t w = std::size_t(model.config().window), vocab = std::size_t(model.config().vocab);
  const std::size_t batch_max = std::size_t(model.max_batch());
  for (std::int64_t s : starts)
    if (s < 0 || std::size_t(s) + w >= tokens.size())
      throw ShapeError("evaluate: window start " + std::to_string(s) + " leaves no target in " +
                       std::to_string(tokens.size()) + " tokens");
  HeldoutMetrics m;
  double loss = 0;
  std::int64_t top1 = 0, top5 = 0;
  std::vector<std::int32_t> staged, targets;
  for (std::size_t first = 0; first < starts.size(); first += batch_max) {
    const std::size_t n = std::min(batch_max, starts.size() - first);
    staged.resize(w * n);
    targets.resize(n);
    for (std::size_t b = 0; b < n; ++b) {
      const std::size_t s = std::size_t(starts[first + b]);
      for (std::size_t t = 0; t < w; ++t) staged[t * n + b] = tokens[s + t];
      targets[b] = tokens[s + w];
    }
    model.set_batch(staged, targets);
    const std::vector<float> probs = model.predict();
    for (std::size_t b = 0; b < n; ++b) {
      const float* row = probs.data() + b * vocab;
      const float p = row[targets[b]];
      loss -= std::log(std::max(double(p), 1e-30));
      std::size_t greater = 0, first_max = 0;
      for (std::size_t v = 0; v < vocab; ++v) {
        if (row[v] > p) ++greater;
        if (row[v] > row[first_max]) first_max = v;
      }
      if (first_max == std::size_t(targets[b])) ++top1;
      if (greater < 5) ++top5;
    }
    if (progress && !progress(std::int64_t(first + n), std::int64_t(starts.size())))
      throw Cancelled("evaluate: cancelled after " + std::to_string(first + n) + " of " +
                      std::to_string(starts.size()) + " windows");
  }
  m.windows = std::int64_t(starts.size());
  if (m.windows > 0) {
    m.cross_entropy = loss / double(m.windows);
    m.perplexity = std::exp(m.cross_entropy);
    m.top1 = double(top1) / double(m.windows);
    m.top5 = double(top5) / double(m.windows);
  }
  return m;
}

PitchClassHistogram pitch_class_histogram(std::span<const std::vector<int>> events) {
  PitchClassHistogram h{};
  double total = 0;
  for (const auto& event : events)
    for (int pitch : event) {
      h[std::size_t(((pitch % 12) + 12) % 12)] += 1;
      total += 1;
    }
  if (total > 0)
    for (double& v : h) v /= total;
  return h;
}

namespace {
PitchClassHistogram normalised(const PitchClassHistogram& h, const char* what) {
  double total = 0;
  for (double v : h) {
    if (!(v >= 0) || !std::isfinite(v)) throw ConfigError(std::string(what) + ": histogram with a negative or non-finite entry");
    total += v;
  }
  if (!(total > 0)) throw ConfigError(std::string(what) + ": empty histogram");
  PitchClassHistogram out;
  for (std::size_t i = 0; i < 12; ++i) out[i] = h[i] / total;
  return out;
}
}  // namespace

double jensen_shannon_divergence(const PitchClassHistogram& p_in, const PitchClassHistogram& q_in) {
  const PitchClassHistogram p = normalised(p_in, "Jensen-Shannon"), q = normalised(q_in, "Jensen-Shannon");
  double js = 0;
  for (std::size_t i = 0; i < 12; ++i) {
    const double m = 0.5 * (p[i] + q[i]);
    if (p[i] > 0) js += 0.5 * p[i] * std::log2(p[i] / m);
    if (q[i] > 0) js += 0.5 * q[i] * std::log2(q[i] / m);
  }
  return std::clamp(js, 0.0, 1.0);
}

double total_variation_distance(const PitchClassHistogram& p_in, const PitchClassHistogram& q_in) {
  const PitchClassHistogram p = normalised(p_in, "total variation"), q = normalised(q_in, "total variation");
  double d = 0;
  for (std::size_t i = 0; i < 12; ++i) d += std::abs(p[i] - q[i]);
  return 0.5 * d;
}

PitchRange pitch_range(std::span<const std::vector<int>> events) {
  PitchRange r;
  for (const auto& event : events)
    for (int pitch : event) {
      if (r.lowest < 0 || pitch < r.lowest) r.lowest = pitch;
      if (r.highest < 0 || pitch > r.highest) r.highest = pitch;
    }
  return r;
}

double repetition_rate(std::span<const std::int32_t> tokens) {
  if (tokens.size() < 2) return 0;
  std::size_t same = 0;
  for (std::size_t i = 1; i < tokens.size(); ++i) same += tokens[i] == tokens[i - 1];
  return double(same) / double(tokens.size() - 1);
}

double distinct_ngram_ratio(std::span<const std::int32_t> tokens, std::int64_t n) {
  if (n < 1) throw ConfigError("distinct n-gram ratio: n must be >= 1, got " + std::to_string(n));
  if (tokens.size() < std::size_t(n)) return 0;
  std::set<std::vector<std::int32_t>> seen;
  const std::size_t count = tokens.size() - std::size_t(n) + 1;
  for (std::size_t i = 0; i < count; ++i) seen.emplace(tokens.begin() + std::ptrdiff_t(i), tokens.begin() + std::ptrdiff_t(i) + n);
  return double(seen.size()) / double(count);
}

// ---- suffix automaton --------------------------------------------------------

CorpusIndex::CorpusIndex(std::span<const std::vector<std::int32_t>> pieces) {
  std::vector<std::map<std::int32_t, std::int32_t>> next(1);
  len_.assign(1, 0);
  link_.assign(1, -1);
  first_end_.assign(1, -1);
  std::int32_t last = 0;
  std::int64_t pos = 0;
  auto extend = [&](std::int32_t c) {
    const auto cur = std::int32_t(len_.size());
    len_.push_back(len_[std::size_t(last)] + 1);
    link_.push_back(0);
    first_end_.push_back(pos);
    next.emplace_back();
    std::int32_t p = last;
    while (p != -1 && !next[std::size_t(p)].count(c)) {
      next[std::size_t(p)][c] = cur;
      p = link_[std::size_t(p)];
    }
    if (p != -1) {
      const std::int32_t q = next[std::size_t(p)][c];
      if (len_[std::size_t(p)] + 1 == len_[std::size_t(q)]) {
        link_[std::size_t(cur)] = q;
      } else {
        const auto clone = std::int32_t(len_.size());
        len_.push_back(len_[std::size_t(p)] + 1);
        link_.push_back(link_[std::size_t(q)]);
        first_end_.push_back(first_end_[std::size_t(q)]);
        next.push_back(next[std::size_t(q)]);
        while (p != -1) {
          auto it = next[std::size_t(p)].find(c);
          if (it == next[std::size_t(p)].end() || it->second != q) break;
          it->second = clone;
          p = link_[std::size_t(p)];
        }
        link_[std::size_t(q)] = clone;
        link_[std::size_t(cur)] = clone;
      }
    }
    last = cur;
    ++pos;
  };
  for (std::size_t k = 0; k < pieces.size(); ++k) {
    piece_begin_.push_back(pos);
    for (std::int32_t c : pieces[k]) {
      if (c < 0) throw ConfigError("corpus index: negative symbol " + std::to_string(c) + " in piece " + std::to_string(k));
      extend(c);
    }
    extend(-1 - std::int32_t(k));  // a separator no query can match
  }
  edge_begin_.assign(len_.size() + 1, 0);
  for (std::size_t s = 0; s < next.size(); ++s) {
    edge_begin_[s] = std::int64_t(edges_.size());
    for (const auto& [symbol, target] : next[s]) edges_.emplace_back(symbol, target);
  }
  edge_begin_[next.size()] = std::int64_t(edges_.size());
}

std::int32_t CorpusIndex::transition(std::int32_t state, std::int32_t symbol) const {
  const auto begin = edges_.begin() + edge_begin_[std::size_t(state)];
  const auto end = edges_.begin() + edge_begin_[std::size_t(state) + 1];
  const auto it = std::lower_bound(begin, end, std::pair<std::int32_t, std::int32_t>(symbol, INT32_MIN));
  return it != end && it->first == symbol ? it->second : -1;
}

CopiedPassage CorpusIndex::longest_copy(std::span<const std::int32_t> generated) const {
  CopiedPassage best;
  std::int32_t state = 0;
  std::int64_t length = 0;
  std::int32_t best_state = 0;
  std::int64_t best_end = -1;
  for (std::size_t i = 0; i < generated.size(); ++i) {
    const std::int32_t c = generated[i];
    if (c < 0) {
      state = 0;
      length = 0;
      continue;
    }
    while (state != 0 && transition(state, c) < 0) {
      state = link_[std::size_t(state)];
      length = len_[std::size_t(state)];
    }
    const std::int32_t t = transition(state, c);
    if (t >= 0) {
      state = t;
      ++length;
    } else {
      state = 0;
      length = 0;
    }
    if (length > best.length) {
      best.length = length;
      best_state = state;
      best_end = std::int64_t(i);
    }
  }
  if (best.length == 0) return best;
  best.generated_offset = best_end - best.length + 1;
  const std::int64_t corpus_start = first_end_[std::size_t(best_state)] - best.length + 1;
  const auto it = std::upper_bound(piece_begin_.begin(), piece_begin_.end(), corpus_start);
  best.piece = std::int64_t(it - piece_begin_.begin()) - 1;
  best.piece_offset = corpus_start - piece_begin_[std::size_t(best.piece)];
  return best;
}

}  // namespace nocturne
