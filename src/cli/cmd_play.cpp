// nocturne play <file.mid> | --model <checkpoint>: plays a MIDI file, or a
// piece the model writes on the spot, on a MIDI output port (RtMidi, ALSA).
// Where no MIDI system exists it says so in one line and exits 1, before any
// model is loaded.

#include <cstdio>
#include <memory>
#include <string>

#include "cli/commands.hpp"
#include "cli/outputs.hpp"
#include "cli/signals.hpp"
#include "nocturne/corpus.hpp"
#include "nocturne/error.hpp"
#include "nocturne/generate.hpp"
#include "nocturne/render.hpp"

namespace nocturne::inline v0::cli {

namespace {

struct PlayArgs {
  std::string file;
  std::string model;
  int notes = 100;
  double temperature = 0;  // 0: greedy (the recipe)
  std::uint64_t seed = 1;
  std::string primer = "heldout";
  std::string data;
  int port = 0;
  bool virtual_port = false;
  bool list = false;
};

// A new piece from the model: the primer followed by `notes` generated tokens.
MidiFile compose(const PlayArgs& a) {
  if (a.notes < 1) throw ConfigError("--notes must be >= 1, got " + std::to_string(a.notes));
  GenerationRequest request;
  request.notes = a.notes;
  request.seed = a.seed;
  request.sampling.greedy = a.temperature == 0;
  if (a.temperature != 0) request.sampling.temperature = a.temperature;
  request.sampling.validate();
  LoadedModel loaded = load_model(a.model);
  if (!loaded.device.note.empty()) print_note(loaded.device.note);
  const Primers primers = cli_primers(a.primer, a.data, 1, a.seed, loaded);
  std::printf("composing %d notes with %s (%s, primer: %s)\n", a.notes, loaded.path.string().c_str(),
              request.sampling.describe().c_str(), primers.source.c_str());
  const auto generated = generate_tokens(*loaded.model, primers.indices, request);
  std::vector<std::string> symbols;
  for (std::int32_t t : primers.indices.front()) symbols.push_back(loaded.checkpoint.vocabulary[std::size_t(t)]);
  for (std::int32_t t : generated.front()) symbols.push_back(loaded.checkpoint.vocabulary[std::size_t(t)]);
  return tokens_to_midi(symbols);
}

void run_play(const PlayArgs& a) {
  if (a.list) {
    const auto ports = list_midi_outputs();
    if (ports.empty()) std::printf("no MIDI output ports\n");
    for (std::size_t i = 0; i < ports.size(); ++i) std::printf("%zu  %s\n", i, ports[i].c_str());
    return;
  }
  if (a.file.empty() && a.model.empty()) throw ConfigError("play: give a MIDI file or --model <checkpoint> (or --list)");
  if (!a.file.empty() && !a.model.empty())
    throw ConfigError("play: give a MIDI file or --model <checkpoint>, not both");
  // Says "no MIDI system" before anything else; a virtual port needs the
  // sequencer as much as a real one.
  (void)list_midi_outputs();
  const MidiFile midi = a.model.empty() ? read_midi(a.file) : compose(a);
  const double seconds = TempoMap(midi).seconds_at(midi.end_tick());
  PlaybackOptions options;
  options.port = a.port;
  options.virtual_port = a.virtual_port;
  StopSignals signals;
  std::printf("playing %s (%.1f s); Ctrl-C stops\n", a.model.empty() ? a.file.c_str() : "the new piece", seconds);
  std::fflush(stdout);
  play_midi(midi, options, [] { return !stop_requested(); });
}

void add_play_command(CLI::App& app) {
  auto a = std::make_shared<PlayArgs>();
  CLI::App* cmd = app.add_subcommand("play", "Play a MIDI file, or a piece a model writes, on a MIDI output port");
  cmd->add_option("file", a->file, "MIDI file to play");
  cmd->add_option("--model", a->model, "Compose a piece with this checkpoint (or run folder) and play it");
  cmd->add_option("--notes", a->notes, "Notes to compose with --model")->capture_default_str();
  cmd->add_option("--temperature", a->temperature, "Sample at this temperature (0: greedy, the recipe)")
      ->capture_default_str();
  cmd->add_option("--seed", a->seed, "Seed of the primer choice and the sampling")
      ->capture_default_str()
      ->check(seed_number());
  cmd->add_option("--primer", a->primer, "heldout, a .mid file, or tokens:\"C4 E4 0.4.7\"")->capture_default_str();
  cmd->add_option("--data", a->data, "Folder of the held-out primers (default: the run's data folder)");
  auto* port = cmd->add_option("--port", a->port, "Output port number (see --list)")->capture_default_str();
  cmd->add_flag("--virtual", a->virtual_port, "Open a virtual output port named nocturne instead")->excludes(port);
  cmd->add_flag("--list", a->list, "List the MIDI output ports");
  cmd->callback([a] { run_play(*a); });
}

}  // namespace

static const bool registered = register_command(60, add_play_command);

}  // namespace nocturne::cli
