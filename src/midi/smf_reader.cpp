// Standard MIDI File reader. Every read is bounds-checked against the chunk it
// belongs to; no allocation is sized from a length before that length has been
// checked against the bytes actually present.

#include <algorithm>
#include <array>
#include <fstream>
#include <string>

#include "nocturne/error.hpp"
#include "nocturne/midi.hpp"

namespace nocturne::inline v0 {

namespace {

constexpr std::uint64_t kMaxFileBytes = 256ull << 20;  // far above any real score
constexpr std::size_t kChunkHeaderBytes = 8;

// A cursor over [begin, end) of the file; errors name the absolute offset.
class ByteCursor {
 public:
  ByteCursor(std::span<const std::uint8_t> bytes, std::size_t begin, std::size_t end, const std::string& name)
      : bytes_(bytes), pos_(begin), end_(end), name_(name) {}

  std::size_t position() const { return pos_; }
  std::size_t remaining() const { return end_ - pos_; }
  bool at_end() const { return pos_ >= end_; }

  [[noreturn]] void fail(std::size_t offset, const std::string& what) const {
    throw FileError(name_ + ": byte " + std::to_string(offset) + ": " + what);
  }

  std::uint8_t u8(const char* what) {
    if (pos_ >= end_) fail(pos_, std::string("truncated ") + what);
    return bytes_[pos_++];
  }
  std::uint8_t peek(const char* what) const {
    if (pos_ >= end_) fail(pos_, std::string("truncated ") + what);
    return bytes_[pos_];
  }
  std::uint32_t big_endian(int count, const char* what) {
    if (remaining() < static_cast<std::size_t>(count)) fail(pos_, std::string("truncated ") + what);
    std::uint32_t value = 0;
    for (int i = 0; i < count; ++i) value = (value << 8) | bytes_[pos_++];
    return value;
  }
  // A variable-length quantity: at most 4 bytes, 7 bits each (SMF limit 0x0FFFFFFF).
  std::uint32_t vlq(const char* what) {
    const std::size_t start = pos_;
    std::uint32_t value = 0;
    for (int i = 0; i < 4; ++i) {
      const std::uint8_t byte = u8(what);
      value = (value << 7) | (byte & 0x7Fu);
      if ((byte & 0x80u) == 0) return value;
    }
    fail(start, std::string("variable-length quantity longer than 4 bytes in ") + what);
  }
  std::span<const std::uint8_t> take(std::uint32_t count, const char* what) {
    if (count > remaining())
      fail(pos_, std::string(what) + " declares " + std::to_string(count) + " bytes but only " +
                     std::to_string(remaining()) + " remain in the chunk");
    auto view = bytes_.subspan(pos_, count);
    pos_ += count;
    return view;
  }

 private:
  std::span<const std::uint8_t> bytes_;
  std::size_t pos_;
  std::size_t end_;
  const std::string& name_;
};

std::string text_of(std::span<const std::uint8_t> data) { return std::string(data.begin(), data.end()); }

// Pairs note-ons with note-offs, first in first out per (channel, pitch).
class NotePairer {
 public:
  explicit NotePairer(std::vector<Note>& notes) : notes_(notes) {}

  void note_on(std::int64_t tick, int channel, int pitch, int velocity) {
    notes_.push_back(Note{pitch, velocity, channel, tick, kOpen});
    open_[key(channel, pitch)].push_back(notes_.size() - 1);
  }
  void note_off(std::int64_t tick, int channel, int pitch) {
    const std::size_t k = key(channel, pitch);
    auto& waiting = open_[k];
    if (head_[k] == waiting.size()) return;  // a note-off without a note-on: ignored
    notes_[waiting[head_[k]++]].off_tick = tick;
    if (head_[k] == waiting.size()) {
      waiting.clear();
      head_[k] = 0;
    }
  }
  // Note-ons never closed carry no duration: drop them, as music21 does.
  void finish() {
    std::erase_if(notes_, [](const Note& n) { return n.off_tick == kOpen; });
  }

 private:
  static constexpr std::int64_t kOpen = -1;
  static std::size_t key(int channel, int pitch) { return static_cast<std::size_t>(channel * 128 + pitch); }
  std::vector<Note>& notes_;
  // A queue per key: open_[k][head_[k]..] are the waiting note-ons, oldest first.
  // (Plain vectors: an empty one costs no allocation, unlike a deque.)
  std::array<std::vector<std::size_t>, 16 * 128> open_;
  std::array<std::size_t, 16 * 128> head_{};
};

void read_meta(ByteCursor& in, std::uint8_t type, std::int64_t tick, MidiTrack& track, bool& end_of_track) {
  const std::uint32_t length = in.vlq("meta event length");
  const auto data = in.take(length, "meta event");
  switch (type) {
    case 0x03:
      track.track_names.push_back({tick, text_of(data)});
      break;
    case 0x04:
      track.instrument_names.push_back({tick, text_of(data)});
      break;
    case 0x2F:
      end_of_track = true;
      break;
    case 0x51:
      if (data.size() >= 3) {
        const int usec = (data[0] << 16) | (data[1] << 8) | data[2];
        if (usec > 0) track.tempos.push_back({tick, usec});  // a zero tempo is meaningless: ignored
      }
      break;
    case 0x58:
      // Denominators beyond 2^6 (64th notes) do not occur in music; such events are ignored.
      if (data.size() >= 2 && data[0] > 0 && data[1] <= 6) {
        TimeSignature ts;
        ts.tick = tick;
        ts.numerator = data[0];
        ts.denominator = 1 << data[1];
        if (data.size() >= 4) {
          ts.clocks_per_click = data[2];
          ts.thirty_seconds_per_quarter = data[3];
        }
        track.time_signatures.push_back(ts);
      }
      break;
    case 0x59:
      if (data.size() >= 2) track.key_signatures.push_back({tick, static_cast<std::int8_t>(data[0]), data[1] != 0});
      break;
    default:
      break;  // other meta events (text, copyright, markers, SMPTE offset...) are skipped
  }
}

MidiTrack read_track(ByteCursor in) {
  MidiTrack track;
  NotePairer pairer(track.notes);
  std::int64_t tick = 0;
  int running_status = 0;  // 0: none yet
  bool end_of_track = false;
  while (!in.at_end() && !end_of_track) {
    tick += in.vlq("delta time");
    const std::size_t event_offset = in.position();
    int status = in.peek("event");
    if (status & 0x80) {
      in.u8("event");
    } else {
      if (running_status == 0) in.fail(event_offset, "running status with no previous status byte");
      status = running_status;
    }
    if (status == 0xFF) {
      const std::uint8_t type = in.u8("meta event type");
      read_meta(in, type, tick, track, end_of_track);
    } else if (status == 0xF0 || status == 0xF7) {
      in.take(in.vlq("sysex length"), "sysex event");
    } else if (status >= 0xF1) {
      // System common and real-time bytes have no place in a file; skip them by their size.
      const int data_bytes = status == 0xF2 ? 2 : (status == 0xF1 || status == 0xF3) ? 1 : 0;
      for (int i = 0; i < data_bytes; ++i) in.u8("system message");
    } else {
      running_status = status;
      const int kind = status & 0xF0;
      const int channel = status & 0x0F;
      const int data1 = in.u8("channel message") & 0x7F;
      const bool one_data_byte = kind == 0xC0 || kind == 0xD0;
      const int data2 = one_data_byte ? 0 : (in.u8("channel message") & 0x7F);
      if (kind == 0x90 && data2 > 0) {
        pairer.note_on(tick, channel, data1, data2);
      } else if (kind == 0x80 || kind == 0x90) {
        pairer.note_off(tick, channel, data1);
      } else if (kind == 0xC0) {
        track.programs.push_back({tick, channel, data1});
      }
    }
  }
  // A missing end-of-track event is tolerated: the chunk's end ends the track.
  pairer.finish();
  track.end_tick = tick;
  return track;
}

std::uint32_t little_endian32(std::span<const std::uint8_t> bytes, std::size_t at) {
  return std::uint32_t(bytes[at]) | std::uint32_t(bytes[at + 1]) << 8 | std::uint32_t(bytes[at + 2]) << 16 |
         std::uint32_t(bytes[at + 3]) << 24;
}

std::string printable_id(std::span<const std::uint8_t> id) {
  std::string text;
  for (std::uint8_t c : id) text += c >= 0x20 && c < 0x7F ? char(c) : '?';
  return text;
}

// An RMID file (RIFF "RMID", the Windows wrapper of a Standard MIDI File)
// holds the SMF bytes in its "data" chunk; returns where they lie. Other RIFF
// files (WAV, SoundFont, ...) are named for what they are.
std::span<const std::uint8_t> rmid_payload(std::span<const std::uint8_t> bytes, const ByteCursor& file,
                                           std::size_t& payload_offset) {
  if (bytes.size() < 12)
    file.fail(0, "a truncated RIFF file (" + std::to_string(bytes.size()) + " bytes), not a Standard MIDI File");
  const std::string form = printable_id(bytes.subspan(8, 4));
  if (form != "RMID") file.fail(8, "a RIFF '" + form + "' file, not a Standard MIDI File (nor an RMID file)");
  // Chunks: 4-byte id, little-endian 32-bit size, the data, a pad byte to an even size.
  const std::size_t end = std::min<std::size_t>(bytes.size(), std::size_t(little_endian32(bytes, 4)) + 8);
  for (std::size_t at = 12; at + 8 <= end;) {
    const std::uint32_t size = little_endian32(bytes, at + 4);
    if (size > end - at - 8)
      file.fail(at + 4, "RIFF chunk '" + printable_id(bytes.subspan(at, 4)) + "' of " + std::to_string(size) +
                            " bytes runs past the end of the file");
    if (printable_id(bytes.subspan(at, 4)) == "data") {
      payload_offset = at + 8;
      return bytes.subspan(at + 8, size);
    }
    at += 8 + size + (size & 1);
  }
  file.fail(12, "an RMID file without a \"data\" chunk (no MIDI data inside)");
}

MidiFile read_smf(std::span<const std::uint8_t> bytes, const std::string& name, bool riff_allowed) {
  ByteCursor file(bytes, 0, bytes.size(), name);
  if (bytes.empty()) file.fail(0, "empty file, not a Standard MIDI File");
  if (riff_allowed && bytes.size() >= 4 && std::equal(bytes.begin(), bytes.begin() + 4, "RIFF")) {
    std::size_t offset = 0;
    const auto payload = rmid_payload(bytes, file, offset);
    return read_smf(payload, name + " (RMID: the Standard MIDI File at byte " + std::to_string(offset) + ")", false);
  }
  if (bytes.size() < 4 || !std::equal(bytes.begin(), bytes.begin() + 4, "MThd"))
    file.fail(0, "not a Standard MIDI File (no MThd header)");
  file.take(4, "header id");
  const std::uint32_t header_length = file.big_endian(4, "header length");
  if (header_length < 6) file.fail(4, "header length " + std::to_string(header_length) + " is below 6");
  const std::size_t header_start = file.position();
  file.take(header_length, "header chunk");
  ByteCursor header(bytes, header_start, header_start + 6, name);

  MidiFile out;
  const std::uint32_t format = header.big_endian(2, "format");
  const std::uint32_t track_count = header.big_endian(2, "track count");
  const std::uint32_t division = header.big_endian(2, "division");
  if (format == 2) file.fail(8, "SMF format 2 (independent sequences) is unsupported");
  if (format > 2) file.fail(8, "unknown SMF format " + std::to_string(format));
  if (division == 0) file.fail(12, "division (ticks per quarter note) is 0");
  if (division & 0x8000u) file.fail(12, "SMPTE time division is unsupported");
  if (track_count == 0) file.fail(10, "the header declares 0 tracks: the file holds no music");
  // Each track needs at least its 8-byte chunk header: more tracks than that cannot be present.
  if (track_count > file.remaining() / kChunkHeaderBytes)
    file.fail(10, "truncated file or absurd track count: " + std::to_string(track_count) +
                      " tracks declared, only " + std::to_string(file.remaining()) + " bytes follow the header");
  if (format == 0 && track_count != 1)
    file.fail(10, "format 0 must have exactly one track, not " + std::to_string(track_count));
  out.format = static_cast<int>(format);
  out.ticks_per_quarter = static_cast<int>(division);

  while (out.tracks.size() < track_count) {
    const std::size_t chunk_start = file.position();
    if (file.remaining() < kChunkHeaderBytes)
      file.fail(chunk_start, "truncated: " + std::to_string(out.tracks.size()) + " of " +
                                 std::to_string(track_count) + " tracks present");
    const auto id = file.take(4, "chunk id");
    const std::uint32_t length = file.big_endian(4, "chunk length");
    if (length > file.remaining())
      file.fail(chunk_start + 4, "chunk length " + std::to_string(length) + " runs past the end of the file (" +
                                     std::to_string(file.remaining()) + " bytes left)");
    const std::size_t body = file.position();
    file.take(length, "chunk");
    if (std::equal(id.begin(), id.end(), "MTrk")) out.tracks.push_back(read_track(ByteCursor(bytes, body, body + length, name)));
    // Chunks of other types are skipped by their declared length, as the standard asks.
  }
  // Bytes after the last track (padding, garbage) are ignored.
  return out;
}

}  // namespace

MidiFile read_midi_bytes(std::span<const std::uint8_t> bytes, std::string_view name) {
  return read_smf(bytes, std::string(name), true);
}

MidiFile read_midi(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw FileError(path.string() + ": cannot open for reading");
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  if (size < 0) throw FileError(path.string() + ": cannot determine the file size");
  if (static_cast<std::uint64_t>(size) > kMaxFileBytes)
    throw FileError(path.string() + ": " + std::to_string(size) + " bytes is too large for a MIDI file");
  in.seekg(0, std::ios::beg);
  std::vector<std::uint8_t> bytes(static_cast<std::size_t>(size));
  in.read(reinterpret_cast<char*>(bytes.data()), size);
  if (in.gcount() != size) throw FileError(path.string() + ": read failed");
  return read_midi_bytes(bytes, path.string());
}

std::vector<TempoChange> MidiFile::tempo_changes() const {
  std::vector<TempoChange> all;
  for (const auto& t : tracks) all.insert(all.end(), t.tempos.begin(), t.tempos.end());
  std::stable_sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.tick < b.tick; });
  return all;
}

std::vector<TimeSignature> MidiFile::time_signatures() const {
  std::vector<TimeSignature> all;
  for (const auto& t : tracks) all.insert(all.end(), t.time_signatures.begin(), t.time_signatures.end());
  std::stable_sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.tick < b.tick; });
  return all;
}

std::int64_t MidiFile::end_tick() const {
  std::int64_t end = 0;
  for (const auto& t : tracks) end = std::max(end, t.end_tick);
  return end;
}

}  // namespace nocturne
