// The MusicXML score of timed music (nocturne/timed_score.hpp).

#include "nocturne/timed_score.hpp"

#include <algorithm>
#include <numeric>
#include <set>
#include <sstream>
#include <vector>

#include "midi/atomic_write.hpp"
#include "nocturne/error.hpp"
#include "render/xml_text.hpp"

namespace nocturne::inline v0 {

namespace {

constexpr std::int64_t kBar = 4 * kUnitsPerQuarter;  // 4/4

struct Spelling {
  char step;
  int alter;
};
constexpr Spelling kSharps[12] = {{'C', 0}, {'C', 1}, {'D', 0}, {'D', 1}, {'E', 0}, {'F', 0},
                                  {'F', 1}, {'G', 0}, {'G', 1}, {'A', 0}, {'A', 1}, {'B', 0}};

// A note value: its type, dots and whether it is a triplet (3 in the time of 2).
struct NoteValue {
  const char* type;
  int dots;
  bool triplet;
};
// The value of a duration in units, when it is a standard one.
const NoteValue* note_value(std::int64_t units) {
  static const std::pair<std::int64_t, NoteValue> values[] = {
      {768, {"whole", 0, false}}, {576, {"half", 1, false}},   {384, {"half", 0, false}},
      {288, {"quarter", 1, false}}, {192, {"quarter", 0, false}}, {144, {"eighth", 1, false}},
      {96, {"eighth", 0, false}}, {72, {"16th", 1, false}},     {48, {"16th", 0, false}},
      {24, {"32nd", 0, false}},   {256, {"half", 0, true}},     {128, {"quarter", 0, true}},
      {64, {"eighth", 0, true}},  {32, {"16th", 0, true}},      {16, {"32nd", 0, true}}};
  for (const auto& [length, value] : values)
    if (length == units) return &value;
  return nullptr;
}

struct Sounding {
  int pitch;
  std::int64_t on, end;
};

}  // namespace

std::string timed_musicxml_text(std::span<const TimedEvent> events, const std::string& title) {
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
  const std::int64_t end = std::max<std::int64_t>(kBar, (*cuts.rbegin() + kBar - 1) / kBar * kBar);
  for (std::int64_t bar = kBar; bar < end; bar += kBar) cuts.insert(bar);
  cuts.insert(end);
  // Divisions per quarter: the coarsest step every cut lies on.
  std::int64_t step = kUnitsPerQuarter;
  for (std::int64_t c : cuts) step = std::gcd(step, c);
  const std::int64_t divisions = kUnitsPerQuarter / step;

  std::ostringstream x;
  detail::write_musicxml_opening(x, title);
  // Notes sorted by onset; `active` holds those that may sound in the current piece.
  std::sort(notes.begin(), notes.end(), [](const Sounding& a, const Sounding& b) { return a.on < b.on; });
  std::size_t next = 0;
  std::vector<Sounding> active;
  const std::vector<std::int64_t> points(cuts.begin(), cuts.end());
  auto write_value = [&](std::int64_t units) {
    x << "        <duration>" << units / step << "</duration>\n";
  };
  auto write_type = [&](std::int64_t units, bool accidental) {
    x << "        <voice>1</voice>\n";
    const NoteValue* v = note_value(units);
    if (v) {
      x << "        <type>" << v->type << "</type>\n";
      for (int d = 0; d < v->dots; ++d) x << "        <dot/>\n";
    }
    if (accidental) x << "        <accidental>sharp</accidental>\n";
    if (v && v->triplet)
      x << "        <time-modification>\n          <actual-notes>3</actual-notes>\n"
           "          <normal-notes>2</normal-notes>\n        </time-modification>\n";
  };
  for (std::size_t i = 0; i + 1 < points.size(); ++i) {
    const std::int64_t from = points[i], to = points[i + 1];
    if (from % kBar == 0) {
      const std::int64_t bar = from / kBar;
      x << "    <measure number=\"" << bar + 1 << "\">\n";
      if (bar == 0)
        x << "      <attributes>\n        <divisions>" << divisions
          << "</divisions>\n        <key>\n          <fifths>0</fifths>\n"
             "        </key>\n        <time>\n          <beats>4</beats>\n          <beat-type>4</beat-type>\n"
             "        </time>\n        <clef>\n          <sign>G</sign>\n          <line>2</line>\n"
             "        </clef>\n      </attributes>\n";
    }
    while (next < notes.size() && notes[next].on <= from) active.push_back(notes[next++]);
    std::erase_if(active, [&](const Sounding& n) { return n.end <= from; });
    // One pitch once: the note that started last (a pitch struck again while held).
    std::vector<const Sounding*> chord;
    for (const Sounding& n : active) {
      auto same = std::find_if(chord.begin(), chord.end(), [&](const Sounding* c) { return c->pitch == n.pitch; });
      if (same == chord.end()) chord.push_back(&n);
      else if (n.on > (*same)->on) *same = &n;
    }
    std::sort(chord.begin(), chord.end(), [](const Sounding* a, const Sounding* b) { return a->pitch < b->pitch; });
    const std::int64_t length = to - from;
    if (chord.empty()) {
      x << "      <note>\n        <rest/>\n";
      write_value(length);
      write_type(length, false);
      x << "      </note>\n";
    }
    for (std::size_t k = 0; k < chord.size(); ++k) {
      const Sounding& n = *chord[k];
      const Spelling s = kSharps[n.pitch % 12];
      const bool tied_in = n.on < from, tied_on = n.end > to;
      x << "      <note>\n";
      if (k > 0) x << "        <chord/>\n";
      x << "        <pitch>\n          <step>" << s.step << "</step>\n";
      if (s.alter) x << "          <alter>" << s.alter << "</alter>\n";
      x << "          <octave>" << n.pitch / 12 - 1 << "</octave>\n        </pitch>\n";
      write_value(length);
      if (tied_in) x << "        <tie type=\"stop\"/>\n";
      if (tied_on) x << "        <tie type=\"start\"/>\n";
      write_type(length, s.alter != 0 && !tied_in);
      if (tied_in || tied_on) {
        x << "        <notations>\n";
        if (tied_in) x << "          <tied type=\"stop\"/>\n";
        if (tied_on) x << "          <tied type=\"start\"/>\n";
        x << "        </notations>\n";
      }
      x << "      </note>\n";
    }
    if (to % kBar == 0) {
      if (to == end)
        x << "      <barline location=\"right\">\n        <bar-style>light-heavy</bar-style>\n      </barline>\n";
      x << "    </measure>\n";
    }
  }
  detail::write_musicxml_closing(x);
  return x.str();
}

void write_timed_musicxml(const std::filesystem::path& path, std::span<const TimedEvent> events,
                          const std::string& title) {
  detail::write_file_atomically(path, timed_musicxml_text(events, title));
}

}  // namespace nocturne
