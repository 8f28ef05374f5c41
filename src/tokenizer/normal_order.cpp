// Forte's normal order, as music21 9.3 and later computes Chord.normalOrder.

#include <algorithm>
#include <string>

#include "nocturne/error.hpp"
#include "nocturne/tokenizer.hpp"

namespace nocturne::inline v0 {

std::vector<int> normal_order(std::span<const int> pitch_classes) {
  std::vector<int> pcs;
  for (int pc : pitch_classes) pcs.push_back(((pc % 12) + 12) % 12);
  std::sort(pcs.begin(), pcs.end());
  pcs.erase(std::unique(pcs.begin(), pcs.end()), pcs.end());
  const std::size_t n = pcs.size();
  if (n <= 1) return pcs;

  // Rotation k starts at pcs[k]; interval(k, m) is the distance from its first
  // to its m-th member. Compare the span (m = n-1) first, then m = 1, 2, ...;
  // a full tie keeps the earlier rotation, i.e. the lowest starting class.
  auto interval = [&](std::size_t k, std::size_t m) { return (pcs[(k + m) % n] - pcs[k] + 12) % 12; };
  auto better = [&](std::size_t a, std::size_t b) {
    if (interval(a, n - 1) != interval(b, n - 1)) return interval(a, n - 1) < interval(b, n - 1);
    for (std::size_t m = 1; m + 1 < n; ++m)
      if (interval(a, m) != interval(b, m)) return interval(a, m) < interval(b, m);
    return false;
  };
  std::size_t best = 0;
  for (std::size_t k = 1; k < n; ++k)
    if (better(k, best)) best = k;
  std::vector<int> out(n);
  for (std::size_t m = 0; m < n; ++m) out[m] = pcs[(best + m) % n];
  return out;
}

std::string chord_token(std::span<const int> midi_pitches) {
  if (midi_pitches.empty()) throw ConfigError("chord_token: a chord needs at least one pitch");
  std::string token;
  for (int pc : normal_order(midi_pitches)) {
    if (!token.empty()) token += '.';
    token += std::to_string(pc);
  }
  return token;
}

bool is_chord_token(std::string_view token) {
  return !token.empty() && token.front() >= '0' && token.front() <= '9';
}

std::vector<int> token_pitches(std::string_view token) {
  if (!is_chord_token(token)) return {parse_pitch_name(token)};
  std::vector<int> pitches;
  std::size_t start = 0;
  while (start <= token.size()) {
    const std::size_t dot = std::min(token.find('.', start), token.size());
    const std::string_view part = token.substr(start, dot - start);
    int pc = -1;
    if (part.empty() || part.size() > 2 || !std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; }))
      throw ConfigError("malformed chord token '" + std::string(token) + "'");
    pc = std::stoi(std::string(part));
    if (pc > 11) throw ConfigError("chord token '" + std::string(token) + "' has pitch class " + std::to_string(pc));
    pitches.push_back(60 + pc);  // the recipe places chords in octave 4
    start = dot + 1;
  }
  return pitches;
}

}  // namespace nocturne
