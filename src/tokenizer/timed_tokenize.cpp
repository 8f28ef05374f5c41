// MIDI -> timed tokens: the recipe's notes and chords, in one part, with
// their durations and the shifts between onsets (nocturne/timed_tokens.hpp).

#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>
#include <numeric>
#include <tuple>

#include "nocturne/error.hpp"
#include "nocturne/timed_tokens.hpp"

namespace nocturne::inline v0 {

std::string_view token_kind_name(TokenKind kind) { return kind == TokenKind::timed ? "timed" : "recipe"; }

TokenKind parse_token_kind(std::string_view name) {
  if (name == "recipe") return TokenKind::recipe;
  if (name == "timed") return TokenKind::timed;
  throw ConfigError("tokens: '" + std::string(name) + "' is not a token kind (recipe or timed)");
}

namespace {

std::string fraction_token(char prefix, std::int64_t units) {
  const std::int64_t g = std::gcd(units, kUnitsPerQuarter);
  const std::int64_t num = units / std::max<std::int64_t>(g, 1), den = units == 0 ? 1 : kUnitsPerQuarter / g;
  std::string out(1, prefix);
  out += std::to_string(num);
  if (den != 1) out += "/" + std::to_string(den);
  return out;
}

// "d3/4" -> units; nullopt unless the text is prefix, a number, optionally '/' and
// a number, with a whole value in units inside the range.
std::optional<std::int64_t> parse_fraction(std::string_view token) {
  if (token.size() < 2 || (token[0] != 'd' && token[0] != 's')) return std::nullopt;
  const char* p = token.data() + 1;
  const char* end = token.data() + token.size();
  std::int64_t num = 0, den = 1;
  auto r = std::from_chars(p, end, num);
  if (r.ec != std::errc() || r.ptr == p || num < 0) return std::nullopt;
  if (r.ptr != end) {
    if (*r.ptr != '/') return std::nullopt;
    const char* q = r.ptr + 1;
    r = std::from_chars(q, end, den);
    if (r.ec != std::errc() || r.ptr == q || r.ptr != end || den < 1) return std::nullopt;
  }
  if (num > timed_max_units) return std::nullopt;  // bounds the product below
  if ((num * kUnitsPerQuarter) % den != 0) return std::nullopt;
  const std::int64_t units = num * kUnitsPerQuarter / den;
  if (units > timed_max_units || (token[0] == 's' && units == 0)) return std::nullopt;
  return units;
}

void check_units(std::int64_t units, bool zero_allowed, const char* what) {
  if (units < (zero_allowed ? 0 : 1) || units > timed_max_units)
    throw ConfigError(std::string(what) + " token: " + std::to_string(units) + " units is outside " +
                      (zero_allowed ? "0" : "1") + ".." + std::to_string(timed_max_units));
}

// Appends value as tokens of at most timed_max_units each.
void append_chunks(std::vector<std::string>& out, char prefix, std::int64_t units) {
  while (units > timed_max_units) {
    out.push_back(fraction_token(prefix, timed_max_units));
    units -= timed_max_units;
  }
  if (units > 0 || prefix == 'd') out.push_back(fraction_token(prefix, units));
}

}  // namespace

std::optional<TimedComponent> timed_component(std::string_view token) {
  if (parse_fraction(token)) return token[0] == 'd' ? TimedComponent::duration : TimedComponent::shift;
  try {
    (void)token_pitches(token);
    return TimedComponent::symbol;
  } catch (const ConfigError&) {
    return std::nullopt;
  }
}

std::int64_t timed_token_units(std::string_view token) {
  if (const auto units = parse_fraction(token)) return *units;
  throw ConfigError("'" + std::string(token) + "' is not a duration or shift token");
}

std::string duration_token(std::int64_t units) {
  check_units(units, true, "duration");
  return fraction_token('d', units);
}

std::string shift_token(std::int64_t units) {
  check_units(units, false, "shift");
  return fraction_token('s', units);
}

namespace {

std::int64_t snap_to_grid(std::int64_t tick, int ticks_per_quarter) {
  // In whole units: the nearest multiple of a 1/4 (48 units) and of a 1/3
  // (64 units) quarter; the nearer wins, the 1/4 grid on a tie. A point of
  // either grid maps to itself, so a decoded file snaps to what it holds.
  const double units = static_cast<double>(tick) * kUnitsPerQuarter / ticks_per_quarter;
  auto nearest = [&](std::int64_t step) {
    return static_cast<std::int64_t>(std::floor(units / static_cast<double>(step) + 0.5)) * step;
  };
  const std::int64_t quarter = nearest(kUnitsPerQuarter / 4), third = nearest(kUnitsPerQuarter / 3);
  return std::fabs(static_cast<double>(third) - units) < std::fabs(static_cast<double>(quarter) - units) ? third
                                                                                                         : quarter;
}

// The first point of either grid after `units` (a point of the grids itself).
std::int64_t next_grid_point(std::int64_t units) {
  auto next = [&](std::int64_t step) { return (units / step + 1) * step; };
  return std::min(next(kUnitsPerQuarter / 4), next(kUnitsPerQuarter / 3));
}

}  // namespace

std::vector<MusicElement> timed_elements(const MidiFile& file, const TokenizerOptions& options) {
  if (file.ticks_per_quarter <= 0)
    throw ConfigError("tokenize: ticks_per_quarter must be positive, got " + std::to_string(file.ticks_per_quarter));
  // One part: every track's notes as the reader paired them. Each onset and
  // offset snaps to the grid on its own (no look-ahead, so snapping a snapped
  // file changes nothing); notes that then start and end together are a chord.
  std::map<std::pair<std::int64_t, std::int64_t>, std::vector<int>> groups;  // (onset, duration) -> pitches
  std::int64_t notes = 0;
  for (const MidiTrack& track : file.tracks)
    for (const Note& n : track.notes) {
      if (++notes > options.max_tokens)
        throw ConfigError("tokenize: more than " + std::to_string(options.max_tokens) +
                          " notes, the limit for one file (is the file damaged?)");
      const std::int64_t on = snap_to_grid(n.on_tick, file.ticks_per_quarter);
      std::int64_t duration = snap_to_grid(n.off_tick, file.ticks_per_quarter) - on;
      // A note too short for the grid lasts to the next grid point; a zero-length one is a grace note.
      if (duration <= 0) duration = n.duration() > 0 ? next_grid_point(on) - on : 0;
      if (duration > options.max_bars * timed_max_units)
        throw ConfigError("tokenize: a note lasts more than " + std::to_string(options.max_bars) +
                          " bars of 4/4 (is the file damaged?)");
      groups[{on, duration}].push_back(n.pitch);
    }
  std::vector<MusicElement> elements;
  for (auto& [key, pitches] : groups) {
    std::sort(pitches.begin(), pitches.end());
    pitches.erase(std::unique(pitches.begin(), pitches.end()), pitches.end());
    MusicElement e;
    e.offset = key.first;
    e.duration = key.second;
    e.is_chord = pitches.size() > 1;
    e.token = e.is_chord ? chord_token(pitches) : pitch_name(pitches.front());
    e.pitches = std::move(pitches);
    elements.push_back(std::move(e));
  }
  // At one onset the longer first (a held bass before what moves above it),
  // then by symbol: nothing here depends on the octaves a chord decodes to.
  std::sort(elements.begin(), elements.end(), [](const MusicElement& a, const MusicElement& b) {
    return std::make_tuple(a.offset, -a.duration, std::string_view(a.token)) <
           std::make_tuple(b.offset, -b.duration, std::string_view(b.token));
  });
  return elements;
}

std::vector<std::string> timed_tokens(std::span<const MusicElement> elements) {
  std::vector<std::string> out;
  std::int64_t time = 0;
  for (const MusicElement& e : elements) {
    append_chunks(out, 's', e.offset - time);
    time = e.offset;
    out.push_back(e.token);
    append_chunks(out, 'd', e.duration);
  }
  return out;
}

std::vector<std::string> tokenize_timed(const MidiFile& file, const TokenizerOptions& options) {
  return timed_tokens(timed_elements(file, options));
}

std::vector<std::string> tokenize_timed_file(const std::filesystem::path& path, const TokenizerOptions& options) {
  const MidiFile file = read_midi(path);
  try {
    return tokenize_timed(file, options);
  } catch (const ConfigError& e) {
    throw FileError(path.string() + ": " + e.what());
  }
}

}  // namespace nocturne
