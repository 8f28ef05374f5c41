// The numbers behind the timed token stream's design (docs/tokenizer.md,
// "Timed tokens"): for each candidate way of writing the same notes, chords,
// durations and onsets of a corpus, the vocabulary, the share of tokens the
// recipe's rare-symbol filter drops, and the sequence lengths.
// Usage: timed_token_designs [folder] [min-count]

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <functional>
#include <string>
#include <vector>

#include "nocturne/corpus.hpp"
#include "nocturne/timed_tokens.hpp"

namespace {

using nocturne::MusicElement;
using Tokens = std::vector<std::string>;

std::string quarters(std::int64_t units) { return nocturne::duration_token(std::min(units, nocturne::timed_max_units)).substr(1); }
std::string quarters_unbounded(std::int64_t units) {
  std::string out;
  for (; units > nocturne::timed_max_units; units -= nocturne::timed_max_units) out += "4+";
  return out + quarters(units);
}

// Each design writes a piece's elements as tokens; `elements_damaged` counts
// elements that lose a token to the filter (a symbol, a duration or a shift).
struct Design {
  const char* name;
  std::function<std::vector<Tokens>(const std::vector<MusicElement>&)> per_element;  // tokens of element k
};

std::int64_t next_shift(const std::vector<MusicElement>& e, std::size_t k) {
  return k + 1 < e.size() ? e[k + 1].offset - e[k].offset : 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string folder = argc > 1 ? argv[1] : NOCTURNE_BENCH_CHOPIN_DIR;
  const std::int64_t min_count = argc > 2 ? std::atoll(argv[2]) : 100;
  try {
    std::vector<std::vector<MusicElement>> pieces;
    std::int64_t recipe_tokens = 0;
    for (const auto& path : nocturne::find_midi_files(folder)) {
      const nocturne::MidiFile file = nocturne::read_midi(path);
      pieces.push_back(nocturne::timed_elements(file));
      recipe_tokens += static_cast<std::int64_t>(nocturne::tokenize(file).size());
    }
    const std::vector<Design> designs = {
        {"A composite sym|dur|shift, one token per element",
         [](const std::vector<MusicElement>& e) {
           std::vector<Tokens> out;
           for (std::size_t k = 0; k < e.size(); ++k)
             out.push_back({e[k].token + "|" + quarters_unbounded(e[k].duration) + "|" + quarters_unbounded(next_shift(e, k))});
           return out;
         }},
        {"B composite sym|dur, then shift tokens",
         [](const std::vector<MusicElement>& e) {
           std::vector<Tokens> out;
           for (std::size_t k = 0; k < e.size(); ++k) {
             Tokens t{e[k].token + "|" + quarters_unbounded(e[k].duration)};
             for (std::int64_t s = next_shift(e, k); s > 0; s -= std::min(s, nocturne::timed_max_units))
               t.push_back(nocturne::shift_token(std::min(s, nocturne::timed_max_units)));
             out.push_back(t);
           }
           return out;
         }},
        {"C events sym, dur, shift (shift 0 written)",
         [](const std::vector<MusicElement>& e) {
           std::vector<Tokens> out;
           for (std::size_t k = 0; k < e.size(); ++k) {
             Tokens t{e[k].token};
             for (std::int64_t d = e[k].duration; d > 0 || t.size() == 1; d -= std::min(d, nocturne::timed_max_units))
               t.push_back(nocturne::duration_token(std::min(d, nocturne::timed_max_units)));
             const std::int64_t s0 = next_shift(e, k);
             if (s0 == 0) t.push_back("s0");
             for (std::int64_t s = s0; s > 0; s -= std::min(s, nocturne::timed_max_units))
               t.push_back(nocturne::shift_token(std::min(s, nocturne::timed_max_units)));
             out.push_back(t);
           }
           return out;
         }},
        {"D events sym, dur, shift (no shift token for 0): the timed stream",
         [](const std::vector<MusicElement>& e) {
           std::vector<Tokens> out;
           std::int64_t time = 0;
           for (const MusicElement& element : e) {
             // The shifts that lead to the element, the symbol, its durations.
             MusicElement at_time = element;
             at_time.offset -= time;
             out.push_back(nocturne::timed_tokens(std::vector<MusicElement>{at_time}));
             time = element.offset;
           }
           return out;
         }},
    };
    std::int64_t elements = 0;
    for (const auto& p : pieces) elements += static_cast<std::int64_t>(p.size());
    std::printf("%zu files, %lld notes and chords unsplit (recipe: %lld tokens, split at bar lines); min-count %lld\n",
                pieces.size(), static_cast<long long>(elements), static_cast<long long>(recipe_tokens),
                static_cast<long long>(min_count));
    for (const Design& design : designs) {
      std::vector<std::vector<Tokens>> written;
      Tokens all;
      for (const auto& p : pieces) {
        written.push_back(design.per_element(p));
        for (const Tokens& t : written.back()) all.insert(all.end(), t.begin(), t.end());
      }
      const auto counts = nocturne::count_symbols(all);
      std::int64_t rare_symbols = 0, rare_tokens = 0, damaged = 0;
      for (const auto& [symbol, n] : counts)
        if (n < min_count) ++rare_symbols, rare_tokens += n;
      for (const auto& piece : written)
        for (const Tokens& t : piece)
          damaged += std::any_of(t.begin(), t.end(), [&](const std::string& s) { return counts.at(s) < min_count; });
      // The kept vocabulary by part of the stream (composite symbols count as symbols).
      std::int64_t kept[3] = {0, 0, 0}, distinct[3] = {0, 0, 0};
      for (const auto& [symbol, n] : counts) {
        const auto part = symbol == "s0" ? nocturne::TimedComponent::shift
                                         : nocturne::timed_component(symbol).value_or(nocturne::TimedComponent::symbol);
        distinct[int(part)] += 1;
        kept[int(part)] += n >= min_count;
      }
      std::vector<std::int64_t> lengths;
      for (const auto& piece : written) {
        std::int64_t n = 0;
        for (const Tokens& t : piece) n += static_cast<std::int64_t>(t.size());
        lengths.push_back(n);
      }
      std::sort(lengths.begin(), lengths.end());
      const double total = static_cast<double>(all.size());
      std::printf("\n%s\n", design.name);
      std::printf("  tokens %zu (%.2f per element), distinct %zu, rare %lld symbols (%lld tokens, %.2f %%), "
                  "vocabulary kept %zu\n",
                  all.size(), total / static_cast<double>(elements), counts.size(), static_cast<long long>(rare_symbols),
                  static_cast<long long>(rare_tokens), 100.0 * static_cast<double>(rare_tokens) / total,
                  counts.size() - static_cast<std::size_t>(rare_symbols));
      std::printf("  elements losing a token to the filter %lld (%.2f %%); per piece min %lld, median %lld, max %lld "
                  "tokens; a window of 40 tokens spans %.1f elements\n",
                  static_cast<long long>(damaged), 100.0 * static_cast<double>(damaged) / static_cast<double>(elements),
                  static_cast<long long>(lengths.front()), static_cast<long long>(lengths[lengths.size() / 2]),
                  static_cast<long long>(lengths.back()), 40.0 * static_cast<double>(elements) / total);
      std::printf("  kept / distinct: symbols %lld / %lld, durations %lld / %lld, shifts %lld / %lld\n",
                  static_cast<long long>(kept[0]), static_cast<long long>(distinct[0]), static_cast<long long>(kept[1]),
                  static_cast<long long>(distinct[1]), static_cast<long long>(kept[2]),
                  static_cast<long long>(distinct[2]));
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "timed_token_designs: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
