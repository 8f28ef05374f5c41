// Filtered corpus -> indices, windows and a split.

#include <algorithm>
#include <cmath>
#include <numeric>

#include "nocturne/corpus.hpp"
#include "nocturne/error.hpp"
#include "tokenizer/corpus_internal.hpp"

namespace nocturne::inline v0 {

std::uint64_t SplitMix64::next() {
  std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

std::uint64_t SplitMix64::below(std::uint64_t bound) {
  // Rejection keeps the draw uniform.
  const std::uint64_t limit = ~0ull - (~0ull % bound);
  std::uint64_t x;
  do x = next(); while (x >= limit);
  return x % bound;
}

namespace {

template <typename T>
void shuffle(std::vector<T>& items, std::uint64_t seed) {
  SplitMix64 rng(seed);
  for (std::size_t i = items.size(); i > 1; --i) std::swap(items[i - 1], items[rng.below(i)]);
}

void split_random(Dataset& d, std::int64_t windows, const DatasetOptions& options) {
  std::vector<std::int64_t> starts(static_cast<std::size_t>(std::max<std::int64_t>(windows, 0)));
  std::iota(starts.begin(), starts.end(), 0);
  shuffle(starts, options.seed);
  const auto heldout = static_cast<std::size_t>(std::ceil(options.heldout_fraction * static_cast<double>(starts.size())));
  d.heldout_starts.assign(starts.begin(), starts.begin() + static_cast<std::ptrdiff_t>(heldout));
  d.train_starts.assign(starts.begin() + static_cast<std::ptrdiff_t>(heldout), starts.end());
}

void split_by_piece(Dataset& d, const DatasetOptions& options) {
  auto piece_windows = [&](const PieceRange& p) { return std::max<std::int64_t>(p.end - p.begin - d.window, 0); };
  std::int64_t total = 0;
  for (const auto& p : d.pieces) total += piece_windows(p);
  std::vector<std::size_t> order(d.pieces.size());
  std::iota(order.begin(), order.end(), 0);
  shuffle(order, options.seed);
  const double wanted = options.heldout_fraction * static_cast<double>(total);
  std::vector<bool> heldout(d.pieces.size(), false);
  std::int64_t held = 0;
  for (std::size_t k = 0; k + 1 < order.size() && static_cast<double>(held) < wanted; ++k) {
    heldout[order[k]] = true;  // the last piece in the order always stays in training
    held += piece_windows(d.pieces[order[k]]);
  }
  for (std::size_t p = 0; p < d.pieces.size(); ++p)
    for (std::int64_t s = d.pieces[p].begin; s + d.window < d.pieces[p].end; ++s)
      (heldout[p] ? d.heldout_starts : d.train_starts).push_back(s);
}

}  // namespace

Dataset build_dataset(std::span<const CorpusFile> files, const DatasetOptions& options, CorpusStats* stats) {
  if (options.window < 1) throw ConfigError("window must be at least 1, got " + std::to_string(options.window));
  if (options.min_count < 0) throw ConfigError("min_count must not be negative, got " + std::to_string(options.min_count));
  if (!(options.heldout_fraction >= 0.0 && options.heldout_fraction < 1.0))
    throw ConfigError("heldout_fraction must lie in [0, 1), got " + std::to_string(options.heldout_fraction));

  std::vector<std::string> all;
  std::vector<std::int64_t> file_ends;
  for (const auto& f : files) {
    all.insert(all.end(), f.tokens.begin(), f.tokens.end());
    file_ends.push_back(static_cast<std::int64_t>(all.size()));
  }
  if (files.empty()) throw ConfigError("no corpus files: the corpus is empty");
  if (all.empty()) throw ConfigError("no tokens: the corpus's " + std::to_string(files.size()) + " files hold no notes");
  const auto counts = count_symbols(all);
  const std::vector<std::string> kept =
      options.recipe_partial_filter ? filter_rare_recipe_partial(all, options.min_count) : filter_rare(all, options.min_count);
  if (kept.empty()) throw ConfigError("no tokens left after dropping symbols rarer than " + std::to_string(options.min_count));

  Dataset d;
  d.window = options.window;
  d.vocab = Vocabulary(kept);
  d.tokens.reserve(kept.size());
  for (const auto& t : kept) d.tokens.push_back(d.vocab.index(t));

  // Piece boundaries in the filtered list: per file, the tokens it keeps.
  // (The recipe's partial filter removes first occurrences, which need not be
  // the file's own; piece ranges are then only approximate, and it is a fidelity mode.)
  std::int64_t begin = 0;
  for (std::size_t f = 0; f < files.size(); ++f) {
    std::int64_t kept_here = 0;
    for (const auto& t : files[f].tokens) kept_here += counts.at(t) >= options.min_count ? 1 : 0;
    const std::int64_t end = std::min<std::int64_t>(begin + kept_here, static_cast<std::int64_t>(d.tokens.size()));
    d.pieces.push_back({files[f].name, begin, end});
    begin = end;
  }
  if (!d.pieces.empty()) d.pieces.back().end = static_cast<std::int64_t>(d.tokens.size());

  const std::int64_t windows = static_cast<std::int64_t>(d.tokens.size()) - d.window;
  if (options.split == SplitMode::random)
    split_random(d, windows, options);
  else
    split_by_piece(d, options);
  std::sort(d.train_starts.begin(), d.train_starts.end());
  std::sort(d.heldout_starts.begin(), d.heldout_starts.end());

  if (stats) {
    stats->files = static_cast<std::int64_t>(files.size());
    stats->tokens = static_cast<std::int64_t>(all.size());
    stats->distinct_symbols = static_cast<std::int64_t>(counts.size());
    stats->rare_symbols = stats->rare_occurrences = 0;
    for (const auto& [symbol, n] : counts)
      if (n < options.min_count) {
        ++stats->rare_symbols;
        stats->rare_occurrences += n;
      }
    stats->tokens_kept = static_cast<std::int64_t>(d.tokens.size());
    stats->vocabulary_size = static_cast<std::int64_t>(d.vocab.size());
    stats->train_windows = static_cast<std::int64_t>(d.train_starts.size());
    stats->heldout_windows = static_cast<std::int64_t>(d.heldout_starts.size());
    stats->windows = stats->train_windows + stats->heldout_windows;
  }
  return d;
}

}  // namespace nocturne
