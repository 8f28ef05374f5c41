// Standard MIDI File writer (format 1, no running status: simple to check).

#include <algorithm>
#include <string>

#include "midi/atomic_write.hpp"
#include "nocturne/error.hpp"
#include "nocturne/midi.hpp"

namespace nocturne::inline v0 {

namespace {

// Events at one tick are written in this order; a zero-length note's
// note-off follows its note-on so that the pair survives a re-read.
enum class Slot { names, meta, program, note_off, note_on, late_note_off };

struct PendingEvent {
  std::int64_t tick;
  Slot slot;
  std::size_t sequence;  // keeps insertion order within a slot
  std::vector<std::uint8_t> bytes;
};

// The largest variable-length quantity (and so delta time) SMF allows: 4 bytes of 7 bits.
constexpr std::uint64_t kMaxVlq = 0x0FFFFFFF;

void put_vlq(std::vector<std::uint8_t>& out, std::uint64_t value) {
  if (value > kMaxVlq)
    throw FileError("MIDI writer: variable-length value " + std::to_string(value) + " exceeds the SMF limit of " +
                    std::to_string(kMaxVlq));
  std::uint8_t buffer[4];
  int count = 0;
  buffer[count++] = static_cast<std::uint8_t>(value & 0x7F);
  while ((value >>= 7) != 0) buffer[count++] = static_cast<std::uint8_t>((value & 0x7F) | 0x80);
  while (count > 0) out.push_back(buffer[--count]);
}

void put_be(std::vector<std::uint8_t>& out, std::uint32_t value, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<std::uint8_t>((value >> (8 * i)) & 0xFF));
}

std::uint8_t checked_byte(int value, int limit, const char* what) {
  if (value < 0 || value > limit)
    throw ConfigError(std::string("MIDI writer: ") + what + " " + std::to_string(value) + " is outside 0.." +
                      std::to_string(limit));
  return static_cast<std::uint8_t>(value);
}

// The delta time before an event. A gap wider than one delta can hold (a
// file read with skipped events in between, say) is bridged with empty text
// events, which readers ignore, so that any track can be written.
void put_delta(std::vector<std::uint8_t>& out, std::uint64_t delta) {
  for (; delta > kMaxVlq; delta -= kMaxVlq) {
    put_vlq(out, kMaxVlq);
    out.insert(out.end(), {0xFF, 0x01, 0x00});
  }
  put_vlq(out, delta);
}

std::vector<std::uint8_t> meta(std::uint8_t type, const std::vector<std::uint8_t>& data) {
  std::vector<std::uint8_t> out{0xFF, type};
  put_vlq(out, data.size());
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

std::vector<std::uint8_t> text_meta(std::uint8_t type, const std::string& text) {
  return meta(type, std::vector<std::uint8_t>(text.begin(), text.end()));
}

int log2_exact(int denominator) {
  for (int e = 0; e <= 6; ++e)
    if ((1 << e) == denominator) return e;
  throw ConfigError("MIDI writer: time-signature denominator " + std::to_string(denominator) +
                    " is not a power of two up to 64");
}

std::vector<std::uint8_t> encode_track(const MidiTrack& track) {
  std::vector<PendingEvent> events;
  auto add = [&](std::int64_t tick, Slot slot, std::vector<std::uint8_t> bytes) {
    if (tick < 0) throw ConfigError("MIDI writer: negative tick " + std::to_string(tick));
    events.push_back({tick, slot, events.size(), std::move(bytes)});
  };
  for (const auto& name : track.track_names) add(name.tick, Slot::names, text_meta(0x03, name.text));
  for (const auto& name : track.instrument_names) add(name.tick, Slot::names, text_meta(0x04, name.text));
  for (const auto& tempo : track.tempos) {
    if (tempo.microseconds_per_quarter <= 0 || tempo.microseconds_per_quarter > 0xFFFFFF)
      throw ConfigError("MIDI writer: tempo " + std::to_string(tempo.microseconds_per_quarter) +
                        " microseconds per quarter is outside 1..16777215");
    const auto usec = static_cast<std::uint32_t>(tempo.microseconds_per_quarter);
    add(tempo.tick, Slot::meta,
        meta(0x51, {static_cast<std::uint8_t>(usec >> 16), static_cast<std::uint8_t>(usec >> 8),
                    static_cast<std::uint8_t>(usec)}));
  }
  for (const auto& ts : track.time_signatures)
    add(ts.tick, Slot::meta,
        meta(0x58, {checked_byte(ts.numerator, 255, "time-signature numerator"),
                    static_cast<std::uint8_t>(log2_exact(ts.denominator)),
                    checked_byte(ts.clocks_per_click, 255, "clocks per click"),
                    checked_byte(ts.thirty_seconds_per_quarter, 255, "32nds per quarter")}));
  for (const auto& ks : track.key_signatures)
    add(ks.tick, Slot::meta,
        meta(0x59, {static_cast<std::uint8_t>(static_cast<std::int8_t>(std::clamp(ks.sharps, -7, 7))),
                    static_cast<std::uint8_t>(ks.minor ? 1 : 0)}));
  for (const auto& pc : track.programs)
    add(pc.tick, Slot::program,
        {static_cast<std::uint8_t>(0xC0 | checked_byte(pc.channel, 15, "channel")),
         checked_byte(pc.program, 127, "program")});
  for (const auto& note : track.notes) {
    if (note.off_tick < note.on_tick)
      throw ConfigError("MIDI writer: note " + std::to_string(note.pitch) + " ends (tick " +
                        std::to_string(note.off_tick) + ") before it starts (tick " + std::to_string(note.on_tick) +
                        ")");
    const auto status = static_cast<std::uint8_t>(0x90 | checked_byte(note.channel, 15, "channel"));
    const std::uint8_t pitch = checked_byte(note.pitch, 127, "pitch");
    add(note.on_tick, Slot::note_on, {status, pitch, checked_byte(std::max(note.velocity, 1), 127, "velocity")});
    add(note.off_tick, note.off_tick == note.on_tick ? Slot::late_note_off : Slot::note_off, {status, pitch, 0});
  }
  std::sort(events.begin(), events.end(), [](const PendingEvent& a, const PendingEvent& b) {
    if (a.tick != b.tick) return a.tick < b.tick;
    if (a.slot != b.slot) return a.slot < b.slot;
    return a.sequence < b.sequence;
  });

  std::vector<std::uint8_t> body;
  std::int64_t now = 0;
  for (const auto& event : events) {
    put_delta(body, static_cast<std::uint64_t>(event.tick - now));
    body.insert(body.end(), event.bytes.begin(), event.bytes.end());
    now = event.tick;
  }
  put_delta(body, static_cast<std::uint64_t>(std::max<std::int64_t>(track.end_tick - now, 0)));
  body.insert(body.end(), {0xFF, 0x2F, 0x00});
  return body;
}

}  // namespace

std::vector<std::uint8_t> encode_midi(const MidiFile& file) {
  if (file.ticks_per_quarter <= 0 || file.ticks_per_quarter > 0x7FFF)
    throw ConfigError("MIDI writer: ticks_per_quarter " + std::to_string(file.ticks_per_quarter) +
                      " is outside 1..32767");
  if (file.tracks.empty() || file.tracks.size() > 0xFFFF)
    throw ConfigError("MIDI writer: a file needs 1..65535 tracks, got " + std::to_string(file.tracks.size()));
  std::vector<std::uint8_t> out{'M', 'T', 'h', 'd'};
  put_be(out, 6, 4);
  put_be(out, 1, 2);
  put_be(out, static_cast<std::uint32_t>(file.tracks.size()), 2);
  put_be(out, static_cast<std::uint32_t>(file.ticks_per_quarter), 2);
  for (const auto& track : file.tracks) {
    const auto body = encode_track(track);
    out.insert(out.end(), {'M', 'T', 'r', 'k'});
    put_be(out, static_cast<std::uint32_t>(body.size()), 4);
    out.insert(out.end(), body.begin(), body.end());
  }
  return out;
}

void write_midi(const std::filesystem::path& path, const MidiFile& file) {
  const auto bytes = encode_midi(file);
  detail::write_file_atomically(path, std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

}  // namespace nocturne
