// The LilyPond score of timed music (nocturne/timed_score.hpp).

#include <sstream>
#include <string>
#include <vector>

#include "nocturne/render.hpp"
#include "nocturne/timed_score.hpp"
#include "render/lilypond_text.hpp"
#include "render/timed_layout.hpp"

namespace nocturne::inline v0 {

namespace {

// One staff's music: the events' pitches on that staff (treble from middle C
// up) laid out on their own, so that a staff's notes are cut only by its own
// onsets, ends and bar lines. A piece of no single note value is written as
// tied values; a bar check ends every bar, so LilyPond reports one that does
// not add up.
std::string staff_music(std::span<const TimedEvent> events, bool treble, std::int64_t end) {
  std::vector<TimedEvent> staff;
  for (const TimedEvent& e : events) {
    TimedEvent part = e;
    std::erase_if(part.pitches, [&](int pitch) { return (pitch >= 60) != treble; });
    if (!part.pitches.empty()) staff.push_back(std::move(part));
  }
  const detail::TimedLayout layout = detail::timed_layout(staff, end);
  std::ostringstream m;
  for (const detail::TimedPiece& piece : layout.pieces) {
    const std::vector<const detail::NoteValue*> values = detail::note_values(piece.to - piece.from);
    for (std::size_t k = 0; k < values.size(); ++k) {
      const detail::NoteValue& v = *values[k];
      std::string note = piece.tones.empty() ? "r" : "<";
      for (std::size_t i = 0; i < piece.tones.size(); ++i) {
        note += (i ? " " : "") + detail::lily_pitch(piece.tones[i].pitch);
        if (k + 1 < values.size() || piece.tones[i].tied_on) note += '~';
      }
      if (!piece.tones.empty()) note += '>';
      note += std::to_string(v.lily) + std::string(std::size_t(v.dots), '.');
      m << (v.triplet ? "\\tuplet 3/2 { " + note + " }" : note) << ' ';
    }
    if (piece.to % detail::kBarUnits == 0) m << "|\n    ";
  }
  return m.str();
}

}  // namespace

std::string timed_lilypond_text(std::span<const TimedEvent> events, const std::string& title) {
  const std::int64_t end = detail::timed_layout(events).end;  // also checks the events
  return detail::lily_piano_score(title, staff_music(events, true, end), staff_music(events, false, end));
}

std::vector<std::filesystem::path> write_timed_lilypond_png(const std::filesystem::path& png,
                                                            std::span<const TimedEvent> events,
                                                            const std::string& title) {
  if (!lilypond_available()) return {};
  return detail::engrave_lilypond(png, timed_lilypond_text(events, title));
}

}  // namespace nocturne
