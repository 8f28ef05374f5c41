// nocturne play <file.mid>: plays a MIDI file on a MIDI output port (RtMidi,
// ALSA). Where no MIDI system exists it says so in one line and exits 1.

#include <cstdio>
#include <memory>
#include <string>

#include "cli/commands.hpp"
#include "cli/signals.hpp"
#include "nocturne/error.hpp"
#include "nocturne/render.hpp"

namespace nocturne::cli {

namespace {

struct PlayArgs {
  std::string file;
  int port = 0;
  bool virtual_port = false;
  bool list = false;
};

void run_play(const PlayArgs& a) {
  if (a.list) {
    const auto ports = list_midi_outputs();
    if (ports.empty()) std::printf("no MIDI output ports\n");
    for (std::size_t i = 0; i < ports.size(); ++i) std::printf("%zu  %s\n", i, ports[i].c_str());
    return;
  }
  if (a.file.empty()) throw ConfigError("play: give a MIDI file (or --list)");
  const MidiFile midi = read_midi(a.file);
  const double seconds = TempoMap(midi).seconds_at(midi.end_tick());
  PlaybackOptions options;
  options.port = a.port;
  options.virtual_port = a.virtual_port;
  if (!a.virtual_port) (void)list_midi_outputs();  // says "no MIDI system" before anything else
  StopSignals signals;
  std::printf("playing %s (%.1f s); Ctrl-C stops\n", a.file.c_str(), seconds);
  std::fflush(stdout);
  play_midi(midi, options, [] { return !stop_requested(); });
}

void add_play_command(CLI::App& app) {
  auto a = std::make_shared<PlayArgs>();
  CLI::App* cmd = app.add_subcommand("play", "Play a MIDI file on a MIDI output port (ALSA)");
  cmd->add_option("file", a->file, "MIDI file to play");
  auto* port = cmd->add_option("--port", a->port, "Output port number (see --list)")->capture_default_str();
  cmd->add_flag("--virtual", a->virtual_port, "Open a virtual output port named nocturne instead")->excludes(port);
  cmd->add_flag("--list", a->list, "List the MIDI output ports");
  cmd->callback([a] { run_play(*a); });
}

}  // namespace

static const bool registered = register_command(60, add_play_command);

}  // namespace nocturne::cli
