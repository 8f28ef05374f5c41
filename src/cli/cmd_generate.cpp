// nocturne generate: new pieces from a trained model.
//
// Per output k (1-based, NN = two digits) in --out:
//   output-NN.mid          the tokens decoded as the recipe does (a quarter note
//                          per token, chords in octave 4, each chord once)
//   output-NN.tokens.json  the primer, the generated tokens and the settings
//   output-NN.musicxml     a score (quarter notes, 4/4)
//   output-NN.roll.png     a piano roll (the primer in grey)
//   output-NN.wav          audio through FluidSynth (when built in and a soundfont is found),
//                          its peak at -1 dBFS unless --no-normalize, then --gain
//   output-NN.png          an engraved score (when LilyPond is installed), beside output-NN.ly

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.hpp"
#include "cli/generate_outputs.hpp"
#include "cli/outputs.hpp"
#include "cli/signals.hpp"
#include "nocturne/error.hpp"
#include "nocturne/generate.hpp"
#include "nocturne/render.hpp"

namespace nocturne::inline v0::cli {

namespace {

namespace fs = std::filesystem;

struct GenerateArgs {
  std::string model;
  GenerationRequest request;  // --notes, --seed and the decoding options
  std::string tokens;  // the model's token stream, when given: checked
  std::string primer = "heldout";
  int count = 1;
  bool no_primer = false;
  std::string out = "generated";
  std::string soundfont;
  bool no_audio = false;
  bool no_normalize = false;
  double gain_db = 0;
  bool no_score = false;
  std::string data;
  int batch = 16;
  DeviceRequest device;
};

void run_generate(const GenerateArgs& a) {
  // Ctrl-C: while generating nothing is written; between outputs, the ones
  // finished stay. Either way exit 130 (a second Ctrl-C ends at once).
  StopSignals stop_signals;
  if (a.count < 1) throw ConfigError("--count must be >= 1, got " + std::to_string(a.count));
  const GenerationRequest& request = a.request;
  if (request.notes < 1) throw ConfigError("--notes must be >= 1, got " + std::to_string(request.notes));
  check_gain_option(a.gain_db);
  request.sampling.validate();

  LoadedModel loaded = open_trained_model(a.model);
  require_token_kind(loaded, a.tokens);
  require_generation_memory(a.count, request.notes, loaded.checkpoint.model.window, "lower --count or --notes");
  place_model_cli(loaded, a.device, std::min(a.count, std::max(a.batch, 1)),
                  a.count < a.batch ? "--count " + std::to_string(a.count) : "--batch " + std::to_string(a.batch));
  const std::vector<std::string>& vocab = loaded.checkpoint.vocabulary;
  std::printf("model: %s (vocabulary %zu, window %" PRId64 ", epoch %d) on %s\n", loaded.path.string().c_str(), vocab.size(),
              loaded.checkpoint.model.window, loaded.checkpoint.epochs_done, loaded.device.description.c_str());
  if (!loaded.device.emulation_note.empty())
    std::fprintf(stderr, "nocturne: note: %s\n", loaded.device.emulation_note.c_str());
  const Primers primers = cli_primers(a.primer, a.data, a.count, request.seed, loaded);
  std::printf("primer: %s, %zu tokens; decoding: %s, seed %llu; %d output%s of %" PRId64 " notes\n", primers.source.c_str(),
              primers.indices.front().size(), request.sampling.describe().c_str(),
              static_cast<unsigned long long>(request.seed), a.count, a.count == 1 ? "" : "s", request.notes);

  const OutputOptions options{a.out, request.seed, a.no_primer, a.no_score,
                              a.no_audio, a.no_normalize, a.gain_db, a.soundfont};
  OutputWriter writer(options);  // where the outputs go, and how, is settled before the work starts
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::vector<std::int32_t>> generated;
  try {
    generated = generate_tokens(*loaded.model, primers.indices, request, [](std::int64_t done, std::int64_t total) {
      if (stop_requested()) return false;
      progress_line("generating", done, total);
      return true;
    });
  } catch (const Cancelled&) {
    end_progress_line();
    std::printf("interrupted by %s while generating; nothing written\n", stop_signal_name());
    throw CLI::RuntimeError(kInterruptedExitCode);
  }
  end_progress_line();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("generated %d x %" PRId64 " tokens in %.2f s (%.2f ms per token)\n", a.count, request.notes, seconds,
              1e3 * seconds / (double(a.count) * double(request.notes)));
  std::fflush(stdout);

  writer.write_all(loaded, primers, generated, request);
}

void add_generate_command(CLI::App& app) {
  auto a = std::make_shared<GenerateArgs>();
  a->request.sampling.greedy = false;  // --greedy; settled in the callback
  CLI::App* cmd = app.add_subcommand("generate", "Generate new pieces from a trained model");
  cmd->add_option("--model", a->model, "Checkpoint file, or a run folder (its best.ckpt)")->required();
  cmd->add_option("--notes", a->request.notes, "New tokens per output")->capture_default_str()->check(at_least(1));
  SamplingOptions& sampling = a->request.sampling;
  auto* greedy = cmd->add_flag("--greedy", sampling.greedy,
                               "Take the most likely symbol each step (the recipe; the default without sampling options)");
  auto* t = cmd->add_option("--temperature", sampling.temperature, "Sampling temperature (> 0)")->capture_default_str();
  auto* k = cmd->add_option("--top-k", sampling.top_k, "Sample among the k most likely symbols (0 = all)")
                ->capture_default_str();
  auto* p = cmd->add_option("--top-p", sampling.top_p, "Sample from the smallest set of mass >= p (1 = all)")
                ->capture_default_str();
  greedy->excludes(t)->excludes(k)->excludes(p);
  cmd->add_option("--seed", a->request.seed, "Seed of the sampling draws and the held-out primer choice")
      ->capture_default_str()
      ->check(seed_number());
  cmd->add_option("--primer", a->primer, "heldout (a held-out window, the recipe), a .mid file, or tokens:\"C4 E4 0.4.7\"")
      ->capture_default_str();
  cmd->add_option("--count", a->count, "Number of outputs")->capture_default_str()->check(at_least(1));
  cmd->add_flag("--no-primer", a->no_primer, "Leave the primer out of the written outputs");
  cmd->add_option("--out", a->out, "Folder for the outputs")->capture_default_str();
  cmd->add_option("--soundfont", a->soundfont, "SoundFont (.sf2) for the WAV (default: FluidR3_GM or another installed one)");
  auto* no_audio = cmd->add_flag("--no-audio", a->no_audio, "Do not write WAV audio");
  auto* no_normalize = cmd->add_flag("--no-normalize", a->no_normalize,
                                     "Keep FluidSynth's own level (about -22 dBFS) instead of a -1 dBFS peak");
  auto* gain = cmd->add_option("--gain", a->gain_db, "WAV gain in dB, after the normalisation (or on FluidSynth's level)");
  no_audio->excludes(no_normalize)->excludes(gain);
  cmd->add_flag("--no-score", a->no_score, "Do not write MusicXML or LilyPond scores");
  cmd->add_option("--tokens", a->tokens, "recipe or timed: the model's token stream (checked; default: the model's)")
      ->check(CLI::IsMember({"recipe", "timed"}));
  cmd->add_option("--data", a->data, "MIDI folder for the held-out primer pool (default: the folder the model trained on)");
  cmd->add_option("--batch", a->batch, "Outputs generated together")->capture_default_str()->check(at_least(1));
  add_model_device_options(*cmd, a->device);
  cmd->callback([a, t, k, p] {
    GenerateArgs args = *a;
    // Any of --temperature, --top-k, --top-p asks for sampling; without them
    // (or with --greedy) the recipe's greedy decoding.
    const bool sampling_asked = t->count() + k->count() + p->count() > 0;
    args.request.sampling.greedy = a->request.sampling.greedy || !sampling_asked;
    run_generate(args);
  });
}

}  // namespace

static const bool registered = register_command(40, add_generate_command);

}  // namespace nocturne::cli
