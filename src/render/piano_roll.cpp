// Piano roll: time across, pitch up, one bar per note.

#include <algorithm>
#include <cmath>

#include "nocturne/error.hpp"
#include "nocturne/render.hpp"
#include "render/image.hpp"

namespace nocturne::inline v0 {

namespace {

using render::Canvas;
using render::Color;

constexpr int kLeftMargin = 40, kRightMargin = 20, kVerticalMargin = 10;
constexpr Color kWhiteKey{250, 250, 250};
constexpr Color kBlackKey{232, 232, 236};
constexpr Color kOctaveLine{170, 170, 180};
constexpr Color kBarLine{205, 205, 215};
constexpr Color kNote{200, 40, 60};
constexpr Color kNoteEdge{110, 20, 30};
constexpr Color kPrimer{150, 150, 160};
constexpr Color kPrimerEdge{90, 90, 100};
constexpr Color kLabel{60, 60, 60};

bool is_black_key(int pitch) {
  const int pc = ((pitch % 12) + 12) % 12;
  return pc == 1 || pc == 3 || pc == 6 || pc == 8 || pc == 10;
}

struct Layout {
  int low = 60, high = 71;  // whole octaves
  double pixels_per_tick = 0;
  ImageSize size;
};

Layout layout_for(std::span<const Note> notes, int ticks_per_quarter, const PianoRollOptions& options) {
  if (ticks_per_quarter <= 0)
    throw ConfigError("piano roll: ticks_per_quarter must be positive, got " + std::to_string(ticks_per_quarter));
  if (options.pixels_per_quarter <= 0 || options.pixels_per_pitch <= 0 || options.max_width <= kLeftMargin + kRightMargin)
    throw ConfigError("piano roll: scales must be positive and max_width above " +
                      std::to_string(kLeftMargin + kRightMargin));
  Layout layout;
  std::int64_t end_tick = 0;
  if (!notes.empty()) {
    int lo = 127, hi = 0;
    for (const Note& n : notes) {
      lo = std::min(lo, n.pitch);
      hi = std::max(hi, n.pitch);
      end_tick = std::max(end_tick, n.off_tick);
    }
    layout.low = lo - ((lo % 12) + 12) % 12;
    layout.high = hi + 11 - ((hi % 12) + 12) % 12;
  }
  const double quarters = double(end_tick) / ticks_per_quarter;
  double ppq = options.pixels_per_quarter;
  const int room = options.max_width - kLeftMargin - kRightMargin;
  if (std::ceil(quarters * ppq) > room) ppq = room / std::max(quarters, 1e-9);
  layout.pixels_per_tick = ppq / ticks_per_quarter;
  layout.size.width = kLeftMargin + std::min(room, int(std::ceil(quarters * ppq))) + kRightMargin;
  layout.size.height = (layout.high - layout.low + 1 + 4) * options.pixels_per_pitch + 2 * kVerticalMargin;
  return layout;
}

}  // namespace

ImageSize piano_roll_size(std::span<const Note> notes, int ticks_per_quarter, const PianoRollOptions& options) {
  return layout_for(notes, ticks_per_quarter, options).size;
}

void write_piano_roll(const std::filesystem::path& png, std::span<const Note> notes, int ticks_per_quarter,
                      const PianoRollOptions& options) {
  const Layout layout = layout_for(notes, ticks_per_quarter, options);
  const int row = options.pixels_per_pitch;
  Canvas canvas(layout.size.width, layout.size.height, Color{255, 255, 255});
  // Two spare rows above and below the octaves.
  auto row_top = [&](int pitch) { return kVerticalMargin + (layout.high + 2 - pitch) * row; };
  auto x_of = [&](std::int64_t tick) { return kLeftMargin + int(std::floor(double(tick) * layout.pixels_per_tick)); };
  const int right = layout.size.width - kRightMargin;

  for (int p = layout.low; p <= layout.high; ++p)
    canvas.fill_rect(kLeftMargin, row_top(p), right, row_top(p) + row - 1, is_black_key(p) ? kBlackKey : kWhiteKey);
  // Every 4 quarters (a 4/4 bar of the recipe's output).
  const double bar_pixels = 4.0 * ticks_per_quarter * layout.pixels_per_tick;
  if (bar_pixels >= 4)
    for (double x = kLeftMargin; x <= right; x += bar_pixels)
      canvas.line(int(x), row_top(layout.high), int(x), row_top(layout.low) + row - 1, kBarLine);
  for (int p = layout.low; p <= layout.high; ++p) {
    if (((p % 12) + 12) % 12 != 0) continue;
    const int y = row_top(p) + row - 1;
    canvas.line(kLeftMargin, y, right, y, kOctaveLine);
    canvas.text(4, y - 7, "C" + std::to_string(p / 12 - 1), kLabel);
  }
  for (const Note& n : notes) {
    const bool primer = n.on_tick < options.primer_end_tick;
    const int x0 = x_of(n.on_tick), x1 = std::max(x0 + 1, x_of(n.off_tick) - 1);
    const int y0 = row_top(n.pitch), y1 = y0 + row - 1;
    canvas.fill_rect(x0, y0, x1, y1, primer ? kPrimer : kNote);
    if (x1 - x0 >= 3 && row >= 4) canvas.rect(x0, y0, x1, y1, primer ? kPrimerEdge : kNoteEdge);
  }
  canvas.write_png(png);
}

void write_piano_roll(const std::filesystem::path& png, const MidiFile& midi, const PianoRollOptions& options) {
  std::vector<Note> notes;
  for (const MidiTrack& track : midi.tracks) notes.insert(notes.end(), track.notes.begin(), track.notes.end());
  write_piano_roll(png, notes, midi.ticks_per_quarter, options);
}

}  // namespace nocturne
