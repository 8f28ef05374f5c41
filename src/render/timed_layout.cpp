// Timed music cut into a score's pieces (timed_layout.hpp).

#include "render/timed_layout.hpp"

#include <algorithm>
#include <numeric>
#include <set>
#include <string>

#include "nocturne/error.hpp"

namespace nocturne::inline v0::detail {

namespace {

struct Sounding {
  int pitch;
  std::int64_t on, end;
};

// Longest first, so that note_values cuts a length into few values.
constexpr NoteValue kValues[] = {
    {768, "whole", 1, 0, false},   {576, "half", 2, 1, false},   {384, "half", 2, 0, false},
    {288, "quarter", 4, 1, false}, {256, "half", 2, 0, true},    {192, "quarter", 4, 0, false},
    {144, "eighth", 8, 1, false},  {128, "quarter", 4, 0, true}, {96, "eighth", 8, 0, false},
    {72, "16th", 16, 1, false},    {64, "eighth", 8, 0, true},   {48, "16th", 16, 0, false},
    {32, "16th", 16, 0, true},     {24, "32nd", 32, 0, false},   {16, "32nd", 32, 0, true}};
static_assert(kUnitsPerQuarter == 192, "the note values are written for 192 units a quarter");

}  // namespace

const NoteValue* note_value(std::int64_t units) {
  for (const NoteValue& v : kValues)
    if (v.units == units) return &v;
  return nullptr;
}

std::vector<const NoteValue*> note_values(std::int64_t units) {
  // The fewest values that add up (a greedy cut can strand a remainder: 80
  // is 64 + 16, not 72 + 8), longest first; lengths are multiples of 8 units.
  constexpr std::int64_t kQuantum = 8;
  if (units < 0 || units % kQuantum != 0 || units > 64 * kBarUnits)
    throw ConfigError("score: a length of " + std::to_string(units) + " units has no note values");
  const std::size_t n = std::size_t(units / kQuantum);
  constexpr int kNone = 1 << 30;
  std::vector<int> fewest(n + 1, kNone);
  fewest[0] = 0;
  for (std::size_t u = 1; u <= n; ++u)
    for (const NoteValue& v : kValues) {
      const std::size_t q = std::size_t(v.units / kQuantum);
      if (q <= u && fewest[u - q] + 1 < fewest[u]) fewest[u] = fewest[u - q] + 1;
    }
  if (fewest[n] == kNone)
    throw ConfigError("score: a length of " + std::to_string(units) + " units is off the grid of note values");
  std::vector<const NoteValue*> out;
  for (std::size_t u = n; u > 0;)
    for (const NoteValue& v : kValues) {  // longest first
      const std::size_t q = std::size_t(v.units / kQuantum);
      if (q <= u && fewest[u - q] == fewest[u] - 1) {
        out.push_back(&v);
        u -= q;
        break;
      }
    }
  return out;
}

TimedLayout timed_layout(std::span<const TimedEvent> events, std::int64_t end_at_least) {
  std::vector<Sounding> notes;
  std::set<std::int64_t> cuts{0};
  for (const TimedEvent& e : events) {
    if (e.offset < 0 || e.duration < 0)
      throw ConfigError("score: an event at " + std::to_string(e.offset) + " lasting " + std::to_string(e.duration) +
                        " units: onsets and durations are not negative");
    for (int pitch : e.pitches)
      if (pitch < 0 || pitch > 127) throw ConfigError("score: MIDI pitch " + std::to_string(pitch) + " outside 0..127");
    if (e.duration == 0) continue;  // grace notes are left out
    for (int pitch : e.pitches) notes.push_back({pitch, e.offset, e.offset + e.duration});
    cuts.insert(e.offset);
    cuts.insert(e.offset + e.duration);
  }
  TimedLayout layout;
  const std::int64_t last = std::max({kBarUnits, *cuts.rbegin(), end_at_least});
  layout.end = (last + kBarUnits - 1) / kBarUnits * kBarUnits;
  for (std::int64_t bar = kBarUnits; bar < layout.end; bar += kBarUnits) cuts.insert(bar);
  cuts.insert(layout.end);
  layout.step = kUnitsPerQuarter;
  for (std::int64_t c : cuts) layout.step = std::gcd(layout.step, c);

  // Notes by onset; `active` holds those that may sound in the current piece.
  std::sort(notes.begin(), notes.end(), [](const Sounding& a, const Sounding& b) { return a.on < b.on; });
  std::size_t next = 0;
  std::vector<Sounding> active;
  const std::vector<std::int64_t> points(cuts.begin(), cuts.end());
  for (std::size_t i = 0; i + 1 < points.size(); ++i) {
    const std::int64_t from = points[i], to = points[i + 1];
    while (next < notes.size() && notes[next].on <= from) active.push_back(notes[next++]);
    std::erase_if(active, [&](const Sounding& n) { return n.end <= from; });
    std::vector<const Sounding*> chord;
    for (const Sounding& n : active) {
      auto same = std::find_if(chord.begin(), chord.end(), [&](const Sounding* c) { return c->pitch == n.pitch; });
      if (same == chord.end()) chord.push_back(&n);
      else if (n.on > (*same)->on) *same = &n;
    }
    std::sort(chord.begin(), chord.end(), [](const Sounding* a, const Sounding* b) { return a->pitch < b->pitch; });
    TimedPiece piece{from, to, {}};
    for (const Sounding* n : chord) piece.tones.push_back({n->pitch, n->on < from, n->end > to});
    layout.pieces.push_back(std::move(piece));
  }
  return layout;
}

}  // namespace nocturne::detail
