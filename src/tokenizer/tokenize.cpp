// MIDI -> notes and chords -> tokens, step by step as music21's MIDI import
// (midi.translate) and the recipe's walk over the merged piano part do it.

#include <algorithm>
#include <map>
#include <tuple>

#include "nocturne/error.hpp"
#include "nocturne/tokenizer.hpp"
#include "tokenizer/music21_quantize.hpp"

namespace nocturne::inline v0 {

namespace {

// A note or chord before quantization, in ticks.
struct TickElement {
  std::int64_t on_tick;
  std::int64_t duration_ticks;  // of the chord's last-gathered note, as music21 does
  std::vector<int> pitches;
};

// music21 (midi.translate.getNotesFromEvents) walks a track's events backwards
// and gives each note-on the first note-off of its pitch and channel that
// follows it in the file, whether or not an earlier note-on already took that
// note-off: a note struck again before it was released ends at the next
// note-off, not at its own. The reader pairs first in, first out, so the k-th
// note of a key holds the k-th note-off; re-pair from those ticks. A note-off
// at the tick of a later note-on is taken to precede it (release, then strike).
// (Note lists built in memory need not be in that order: both sides are sorted.)
std::vector<Note> music21_pairing(std::vector<Note> notes) {
  std::map<std::pair<int, int>, std::vector<std::size_t>> by_key;
  for (std::size_t i = 0; i < notes.size(); ++i) by_key[{notes[i].channel, notes[i].pitch}].push_back(i);
  std::vector<std::int64_t> offs;
  for (auto& [key, indices] : by_key) {
    std::stable_sort(indices.begin(), indices.end(),
                     [&](std::size_t a, std::size_t b) { return notes[a].on_tick < notes[b].on_tick; });
    offs.clear();
    for (std::size_t i : indices) offs.push_back(notes[i].off_tick);
    std::sort(offs.begin(), offs.end());
    for (std::size_t j = 0; j < indices.size(); ++j) {
      Note& n = notes[indices[j]];
      const auto first_after = std::upper_bound(offs.begin(), offs.begin() + static_cast<std::ptrdiff_t>(j), n.on_tick);
      n.off_tick = first_after == offs.begin() + static_cast<std::ptrdiff_t>(j) ? offs[j] : *first_after;
    }
  }
  return notes;
}

// Greedy chord grouping over notes sorted by onset: note i gathers every later
// note j whose onset lies within the window and whose offset lies within it of
// note i's offset. Like music21, a note that an earlier chord already gathered
// can be gathered again (it then sounds in both chords).
std::vector<TickElement> group_chords(std::vector<Note> notes, int ticks_per_quarter, int divisor,
                                     bool* voices_required) {
  // Notes that start together are taken lowest pitch first: the order that
  // reproduces the reference tokens (file order does not, see docs/tokenizer.md).
  std::stable_sort(notes.begin(), notes.end(),
                   [](const Note& a, const Note& b) { return std::tie(a.on_tick, a.pitch) < std::tie(b.on_tick, b.pitch); });
  std::vector<TickElement> out;
  std::vector<bool> gathered(notes.size(), false);
  const std::int64_t tpq = ticks_per_quarter;
  for (std::size_t i = 0; i < notes.size(); ++i) {
    if (gathered[i]) continue;
    TickElement element{notes[i].on_tick, notes[i].duration(), {notes[i].pitch}};
    for (std::size_t j = i + 1; j < notes.size(); ++j) {
      // |delta| < tpq / divisor and |delta| > tpq / divisor, in integers.
      if (divisor * std::abs(notes[j].on_tick - notes[i].on_tick) >= tpq) break;
      if (divisor * std::abs(notes[j].off_tick - notes[i].off_tick) > tpq) {
        *voices_required = true;  // starts with note i but ends apart: music21 will make voices
        continue;
      }
      element.pitches.push_back(notes[j].pitch);
      element.duration_ticks = notes[j].duration();
      gathered[j] = true;
    }
    out.push_back(std::move(element));
  }
  return out;
}

std::int64_t quantized_offset(std::int64_t tick, int ticks_per_quarter) {
  return detail::quantize_quarters(static_cast<double>(tick) / ticks_per_quarter).units;
}

// Bar lines from time signatures: each bar takes the signature in force at its start.
class BarLines {
 public:
  struct Meter {
    std::int64_t offset;
    std::int64_t bar_length;
  };
  BarLines(std::vector<Meter> meters, std::int64_t max_bars) : meters_(std::move(meters)), max_bars_(max_bars) {
    std::stable_sort(meters_.begin(), meters_.end(), [](const Meter& a, const Meter& b) { return a.offset < b.offset; });
    if (meters_.empty() || meters_.front().offset > 0) meters_.insert(meters_.begin(), {0, 4 * kUnitsPerQuarter});
    starts_.push_back(0);
  }
  // The start of the bar that contains `offset`.
  std::int64_t bar_start(std::int64_t offset) {
    bar_end(offset);
    return *(std::upper_bound(starts_.begin(), starts_.end(), offset) - 1);
  }
  // The end of the bar that contains `offset`.
  std::int64_t bar_end(std::int64_t offset) {
    while (starts_.back() <= offset) {
      if (std::int64_t(starts_.size()) > max_bars_)
        throw ConfigError("tokenize: the music runs past " + std::to_string(max_bars_) +
                          " bars (is the file damaged?)");
      starts_.push_back(starts_.back() + length_at(starts_.back()));
    }
    return *std::upper_bound(starts_.begin(), starts_.end(), offset);
  }

 private:
  std::int64_t length_at(std::int64_t start) const {
    // The last signature at or before the bar's start (the later of two at one offset).
    auto it = std::upper_bound(meters_.begin(), meters_.end(), start,
                               [](std::int64_t o, const Meter& m) { return o < m.offset; });
    return std::max<std::int64_t>((it - 1)->bar_length, 1);
  }
  std::vector<Meter> meters_;
  std::int64_t max_bars_;
  std::vector<std::int64_t> starts_;
};

std::vector<BarLines::Meter> meters_of(const std::vector<TimeSignature>& signatures, int ticks_per_quarter) {
  std::vector<BarLines::Meter> meters;
  for (const auto& ts : signatures)
    meters.push_back({quantized_offset(ts.tick, ticks_per_quarter),
                      ts.numerator * 4 * kUnitsPerQuarter / std::max(ts.denominator, 1)});
  return meters;
}

// Ticks of the objects music21 creates from a track's meta events: they count
// when it looks ahead for the next onset while quantizing durations.
std::vector<std::int64_t> meta_ticks(const MidiTrack& track) {
  std::vector<std::int64_t> ticks;
  for (const auto& e : track.track_names) ticks.push_back(e.tick);
  for (const auto& e : track.instrument_names) ticks.push_back(e.tick);
  for (const auto& e : track.programs) ticks.push_back(e.tick);
  for (const auto& e : track.tempos) ticks.push_back(e.tick);
  for (const auto& e : track.time_signatures) ticks.push_back(e.tick);
  for (const auto& e : track.key_signatures) ticks.push_back(e.tick);
  return ticks;
}

[[noreturn]] void throw_too_many_tokens(std::int64_t limit) {
  throw ConfigError("tokenize: more than " + std::to_string(limit) +
                    " notes and chords (split at bar lines), the limit for one file (is the file damaged?)");
}

struct Ordered {
  MusicElement element;
  std::size_t creation;
};

// One element's piece waiting in a bar during makeTies.
struct Piece {
  std::size_t element;
  std::int64_t start;
  std::int64_t end;
  bool outside_voices;  // sits in a bar that has voices, outside all of them
};

void tokenize_track(const MidiTrack& track, int track_index, int ticks_per_quarter, const TokenizerOptions& options,
                    BarLines* bars, std::vector<Ordered>& out) {
  bool voices_required = false;
  const auto raw = group_chords(music21_pairing(track.notes), ticks_per_quarter, options.chord_window_divisor,
                                &voices_required);
  // Every note or chord is a token at least: the limit holds before any is made.
  if (out.size() + raw.size() > std::size_t(options.max_tokens)) throw_too_many_tokens(options.max_tokens);

  // Every quantized onset in the track, for the look-ahead of duration quantization.
  std::vector<std::int64_t> onsets;
  for (const auto& e : raw) onsets.push_back(quantized_offset(e.on_tick, ticks_per_quarter));
  std::vector<std::int64_t> all_onsets = onsets;
  for (std::int64_t tick : meta_ticks(track)) all_onsets.push_back(quantized_offset(tick, ticks_per_quarter));
  std::sort(all_onsets.begin(), all_onsets.end());
  all_onsets.erase(std::unique(all_onsets.begin(), all_onsets.end()), all_onsets.end());

  std::vector<MusicElement> elements(raw.size());
  for (std::size_t k = 0; k < raw.size(); ++k) {
    const TickElement& e = raw[k];
    const std::int64_t offset = onsets[k];
    const auto next = std::upper_bound(all_onsets.begin(), all_onsets.end(), offset);
    const double gap = next == all_onsets.end() ? 0.0 : static_cast<double>(*next - offset) / kUnitsPerQuarter;
    const bool grace = e.duration_ticks == 0;  // music21 turns a zero-length note into a grace note
    MusicElement& piece = elements[k];
    piece.duration =
        detail::quantize_quarters(static_cast<double>(e.duration_ticks) / ticks_per_quarter, grace, gap).units;
    piece.offset = offset;
    piece.pitches = e.pitches;
    piece.is_chord = e.pitches.size() > 1;
    piece.track = track_index;
    piece.token = piece.is_chord ? chord_token(piece.pitches) : pitch_name(piece.pitches.front());
  }
  if (bars == nullptr) {
    for (std::size_t k = 0; k < elements.size(); ++k) out.push_back({std::move(elements[k]), k});
    return;
  }

  // music21's makeMeasures puts each element in the bar where it starts; when
  // the track needs voices, makeVoices gives a bar voices if two of its
  // elements overlap (by their whole, unsplit durations; touching ends do not
  // count). makeTies then walks the bars in order and splits what crosses the
  // bar line, moving the rest to the next bar; but when both bars have voices
  // the rest lands in the next bar outside every voice (the voice ids never
  // match), where makeTies, looking only at voices, never splits it again: it
  // stays one token however many bar lines it crosses. A rest moved from a bar
  // with voices into one without gives that one a voice.
  std::map<std::int64_t, std::vector<Piece>> by_bar;  // bar start -> pieces, in creation order
  std::map<std::int64_t, std::vector<std::pair<std::int64_t, std::int64_t>>> spans;
  for (std::size_t k = 0; k < elements.size(); ++k) {
    const std::int64_t bar = bars->bar_start(elements[k].offset);
    const std::int64_t start = elements[k].offset;
    by_bar[bar].push_back({k, start, start + elements[k].duration, false});
    spans[bar].push_back({start, start + elements[k].duration});
  }
  std::map<std::int64_t, bool> has_voices;  // as makeVoices left it
  for (auto& [bar, list] : spans) {
    bool overlap = false;
    if (voices_required) {
      std::sort(list.begin(), list.end());
      std::int64_t latest_end = list.front().second;
      for (std::size_t i = 1; i < list.size() && !overlap; ++i) {
        overlap = list[i].first < latest_end;
        latest_end = std::max(latest_end, list[i].second);
      }
    }
    has_voices[bar] = overlap;
  }
  auto voiced = [&](std::int64_t bar) {
    const auto it = has_voices.find(bar);
    return it != has_voices.end() && it->second;
  };

  while (!by_bar.empty()) {
    const auto node = by_bar.begin();
    const std::int64_t bar = node->first;
    const std::vector<Piece> pieces = std::move(node->second);
    by_bar.erase(node);
    const std::int64_t bar_end = bars->bar_end(bar);
    const bool bar_voiced = voiced(bar);
    const bool next_voiced = voiced(bar_end);  // before any rest arrives
    bool moved_on = false;
    for (const Piece& p : pieces) {
      MusicElement piece = elements[p.element];
      piece.offset = p.start;
      piece.tied_from_previous_bar = p.start != elements[p.element].offset;
      if (p.end <= bar_end || p.start >= bar_end || (bar_voiced && p.outside_voices) ||
          elements[p.element].duration == 0) {
        piece.duration = p.end - p.start;
        out.push_back({std::move(piece), p.element});
        continue;
      }
      piece.duration = bar_end - p.start;
      out.push_back({std::move(piece), p.element});
      if (std::int64_t(out.size()) > options.max_tokens) throw_too_many_tokens(options.max_tokens);
      by_bar[bar_end].push_back({p.element, bar_end, p.end, bar_voiced && next_voiced});
      moved_on = true;
    }
    if (moved_on && bar_voiced) has_voices[bar_end] = true;
  }
}

}  // namespace

std::vector<MusicElement> tokenize_elements(const MidiFile& file, const TokenizerOptions& options) {
  if (file.ticks_per_quarter <= 0)
    throw ConfigError("tokenize: ticks_per_quarter must be positive, got " + std::to_string(file.ticks_per_quarter));
  if (options.chord_window_divisor <= 0)
    throw ConfigError("tokenize: chord_window_divisor must be positive, got " +
                      std::to_string(options.chord_window_divisor));
  if (options.max_bars <= 0 || options.max_tokens <= 0)
    throw ConfigError("tokenize: max_bars and max_tokens must be positive, got " + std::to_string(options.max_bars) +
                      " and " + std::to_string(options.max_tokens));
  // Tracks without notes form music21's conductor part; its time signatures make the bars.
  std::vector<TimeSignature> conductor;
  for (const auto& track : file.tracks)
    if (track.notes.empty())
      conductor.insert(conductor.end(), track.time_signatures.begin(), track.time_signatures.end());

  std::vector<Ordered> all;
  for (std::size_t t = 0; t < file.tracks.size(); ++t) {
    const MidiTrack& track = file.tracks[t];
    if (track.notes.empty()) continue;
    // Without a conductor signature, a track's own ones (or 4/4) make its bars.
    BarLines bars(meters_of(conductor.empty() ? track.time_signatures : conductor, file.ticks_per_quarter),
                  options.max_bars);
    tokenize_track(track, static_cast<int>(t), file.ticks_per_quarter, options,
                   options.split_at_barlines ? &bars : nullptr, all);
  }
  // The merged part in time order; at one offset grace notes first, then track
  // order, then elements that start there before pieces tied over the barline.
  std::stable_sort(all.begin(), all.end(), [](const Ordered& a, const Ordered& b) {
    auto key = [](const Ordered& o) {
      return std::make_tuple(o.element.offset, o.element.duration != 0, o.element.track,
                             o.element.tied_from_previous_bar, o.creation);
    };
    return key(a) < key(b);
  });
  std::vector<MusicElement> out;
  out.reserve(all.size());
  for (auto& o : all) out.push_back(std::move(o.element));
  return out;
}

std::vector<std::string> tokenize(const MidiFile& file, const TokenizerOptions& options) {
  std::vector<std::string> tokens;
  for (auto& element : tokenize_elements(file, options)) tokens.push_back(std::move(element.token));
  return tokens;
}

std::vector<std::string> tokenize_file(const std::filesystem::path& path, const TokenizerOptions& options) {
  const MidiFile file = read_midi(path);
  try {
    return tokenize(file, options);
  } catch (const ConfigError& e) {
    throw FileError(path.string() + ": " + e.what());
  }
}

}  // namespace nocturne
