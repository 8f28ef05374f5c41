// The MusicXML score of timed music (nocturne/timed_score.hpp).

#include "nocturne/timed_score.hpp"

#include <sstream>

#include "midi/atomic_write.hpp"
#include "render/timed_layout.hpp"
#include "render/xml_text.hpp"

namespace nocturne::inline v0 {

std::string timed_musicxml_text(std::span<const TimedEvent> events, const std::string& title) {
  const detail::TimedLayout layout = detail::timed_layout(events);
  const std::int64_t step = layout.step, divisions = kUnitsPerQuarter / step;

  std::ostringstream x;
  detail::write_musicxml_opening(x, title);
  auto write_value = [&](std::int64_t units) {
    x << "        <duration>" << units / step << "</duration>\n";
  };
  auto write_type = [&](std::int64_t units, bool accidental) {
    x << "        <voice>1</voice>\n";
    const detail::NoteValue* v = detail::note_value(units);
    if (v) {
      x << "        <type>" << v->type << "</type>\n";
      for (int d = 0; d < v->dots; ++d) x << "        <dot/>\n";
    }
    if (accidental) x << "        <accidental>sharp</accidental>\n";
    if (v && v->triplet)
      x << "        <time-modification>\n          <actual-notes>3</actual-notes>\n"
           "          <normal-notes>2</normal-notes>\n        </time-modification>\n";
  };
  for (const detail::TimedPiece& piece : layout.pieces) {
    const std::int64_t from = piece.from, to = piece.to;
    if (from % detail::kBarUnits == 0) {
      const std::int64_t bar = from / detail::kBarUnits;
      x << "    <measure number=\"" << bar + 1 << "\">\n";
      if (bar == 0)
        x << "      <attributes>\n        <divisions>" << divisions
          << "</divisions>\n        <key>\n          <fifths>0</fifths>\n"
             "        </key>\n        <time>\n          <beats>4</beats>\n          <beat-type>4</beat-type>\n"
             "        </time>\n        <clef>\n          <sign>G</sign>\n          <line>2</line>\n"
             "        </clef>\n      </attributes>\n";
    }
    const std::int64_t length = to - from;
    if (piece.tones.empty()) {
      x << "      <note>\n        <rest/>\n";
      write_value(length);
      write_type(length, false);
      x << "      </note>\n";
    }
    for (std::size_t k = 0; k < piece.tones.size(); ++k) {
      const detail::TimedTone& n = piece.tones[k];
      const detail::Spelling s = detail::kSharps[n.pitch % 12];
      x << "      <note>\n";
      if (k > 0) x << "        <chord/>\n";
      x << "        <pitch>\n          <step>" << s.step << "</step>\n";
      if (s.alter) x << "          <alter>" << s.alter << "</alter>\n";
      x << "          <octave>" << n.pitch / 12 - 1 << "</octave>\n        </pitch>\n";
      write_value(length);
      if (n.tied_in) x << "        <tie type=\"stop\"/>\n";
      if (n.tied_on) x << "        <tie type=\"start\"/>\n";
      write_type(length, s.alter != 0 && !n.tied_in);
      if (n.tied_in || n.tied_on) {
        x << "        <notations>\n";
        if (n.tied_in) x << "          <tied type=\"stop\"/>\n";
        if (n.tied_on) x << "          <tied type=\"start\"/>\n";
        x << "        </notations>\n";
      }
      x << "      </note>\n";
    }
    if (to % detail::kBarUnits == 0) {
      if (to == layout.end)
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
