// Live playback through RtMidi (ALSA sequencer), when it is built in.

#include <algorithm>
#include <chrono>
#include <thread>

#include "nocturne/error.hpp"
#include "nocturne/render.hpp"

#ifdef NOCTURNE_WITH_RTMIDI
#include <RtMidi.h>
#endif

namespace nocturne::inline v0 {

bool midi_playback_available() {
#ifdef NOCTURNE_WITH_RTMIDI
  return true;
#else
  return false;
#endif
}

#ifdef NOCTURNE_WITH_RTMIDI
namespace {

std::unique_ptr<RtMidiOut> open_output() {
  std::error_code ec;
  if (!std::filesystem::exists("/dev/snd/seq", ec))
    throw DeviceError("no MIDI system: the ALSA sequencer (/dev/snd/seq) is absent");
  try {
    auto out = std::make_unique<RtMidiOut>(RtMidi::LINUX_ALSA, "nocturne");
    out->setErrorCallback([](RtMidiError::Type, const std::string&, void*) {}, nullptr);
    return out;
  } catch (const RtMidiError& e) {
    throw DeviceError("no MIDI system: " + e.getMessage());
  }
}

struct Event {
  double seconds;
  int order;  // offs before ons at the same time
  std::vector<unsigned char> bytes;
};

}  // namespace

std::vector<std::string> list_midi_outputs() {
  auto out = open_output();
  std::vector<std::string> names;
  try {
    for (unsigned i = 0; i < out->getPortCount(); ++i) names.push_back(out->getPortName(i));
  } catch (const RtMidiError& e) {
    throw DeviceError("MIDI: " + e.getMessage());
  }
  return names;
}

void play_midi(const MidiFile& midi, const PlaybackOptions& options, const std::function<bool()>& keep_going) {
  auto out = open_output();
  try {
    if (options.virtual_port) {
      out->openVirtualPort("nocturne");
    } else {
      const unsigned ports = out->getPortCount();
      if (ports == 0) throw DeviceError("no MIDI output ports (start a synthesizer, or use --virtual)");
      if (options.port < 0 || unsigned(options.port) >= ports)
        throw DeviceError("MIDI port " + std::to_string(options.port) + " does not exist (there are " +
                          std::to_string(ports) + "; see --list)");
      out->openPort(unsigned(options.port));
    }
  } catch (const RtMidiError& e) {
    throw DeviceError("MIDI: " + e.getMessage());
  }
  const TempoMap tempo(midi);
  std::vector<Event> events;
  for (const MidiTrack& track : midi.tracks) {
    for (const ProgramChange& p : track.programs)
      events.push_back({tempo.seconds_at(p.tick), 0,
                        {static_cast<unsigned char>(0xC0 | (p.channel & 15)), static_cast<unsigned char>(p.program & 127)}});
    for (const Note& n : track.notes) {
      const auto status = static_cast<unsigned char>(n.channel & 15);
      events.push_back({tempo.seconds_at(n.on_tick), 2,
                        {static_cast<unsigned char>(0x90 | status), static_cast<unsigned char>(n.pitch & 127),
                         static_cast<unsigned char>(std::clamp(n.velocity, 1, 127))}});
      events.push_back({tempo.seconds_at(n.off_tick), 1,
                        {static_cast<unsigned char>(0x80 | status), static_cast<unsigned char>(n.pitch & 127), 0}});
    }
  }
  std::stable_sort(events.begin(), events.end(), [](const Event& a, const Event& b) {
    return a.seconds != b.seconds ? a.seconds < b.seconds : a.order < b.order;
  });
  const auto start = std::chrono::steady_clock::now();
  bool stopped = false;
  for (Event& e : events) {
    const auto due = start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                 std::chrono::duration<double>(e.seconds));
    while (std::chrono::steady_clock::now() < due) {
      if (keep_going && !keep_going()) {
        stopped = true;
        break;
      }
      std::this_thread::sleep_until(std::min(due, std::chrono::steady_clock::now() + std::chrono::milliseconds(10)));
    }
    if (stopped) break;
    out->sendMessage(&e.bytes);
  }
  for (unsigned char channel = 0; channel < 16; ++channel) {
    std::vector<unsigned char> off = {static_cast<unsigned char>(0xB0 | channel), 123, 0};
    out->sendMessage(&off);
  }
}

#else

std::vector<std::string> list_midi_outputs() {
  throw DeviceError("no MIDI playback in this build (RtMidi was not found)");
}
void play_midi(const MidiFile&, const PlaybackOptions&, const std::function<bool()>&) {
  throw DeviceError("no MIDI playback in this build (RtMidi was not found)");
}

#endif

}  // namespace nocturne
