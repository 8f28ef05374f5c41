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
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "cli/outputs.hpp"
#include "cli/primers.hpp"
#include "cli/signals.hpp"
#include "midi/atomic_write.hpp"
#include "nocturne/error.hpp"
#include "nocturne/generate.hpp"
#include "nocturne/machine.hpp"
#include "nocturne/render.hpp"
#include "nocturne/rng.hpp"
#include "nocturne/tokenizer.hpp"

namespace nocturne::cli {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct GenerateArgs {
  std::string model;
  int notes = 500;
  bool greedy = false;
  double temperature = 1.0;
  int top_k = 0;
  double top_p = 1.0;
  std::uint64_t seed = 1;
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

// "+3", "-6.5": a gain as the user would type it.
std::string format_db(double db) {
  char text[32];
  std::snprintf(text, sizeof text, "%+g", db);
  return text;
}

std::string two_digits(int k) {
  char text[16];
  std::snprintf(text, sizeof text, "%02d", k);
  return text;
}

// The files of an earlier run under this output's name that this run will
// not write again (audio or score left out now, say) go, so that no folder
// mixes the pieces of two runs under one name.
void remove_stale_outputs(const fs::path& out, const std::string& stem, bool score, bool lilypond, bool audio) {
  std::vector<std::string> stale;
  if (!audio) stale.push_back(".wav");
  if (!score) stale.push_back(".musicxml");
  if (!lilypond) stale.insert(stale.end(), {".ly", ".png", ".lilypond.log"});
  std::string removed;
  for (const std::string& suffix : stale) {
    std::error_code ec;
    if (fs::remove(out / (stem + suffix), ec)) removed += (removed.empty() ? "" : ", ") + stem + suffix;
  }
  if (!removed.empty()) std::printf("removed %s from an earlier run in %s\n", removed.c_str(), out.string().c_str());
}

// Earlier runs' outputs numbered past this run's are another run's pieces: said, not touched.
void note_other_outputs(const fs::path& out, int count) {
  int last = 0;
  for (int k = count + 1; fs::exists(out / ("output-" + two_digits(k) + ".mid")); ++k) last = k;
  if (last > 0)
    std::printf("note: %s also holds output-%s to output-%s from an earlier run\n", out.string().c_str(),
                two_digits(count + 1).c_str(), two_digits(last).c_str());
}

void run_generate(const GenerateArgs& a) {
  // Ctrl-C: while generating nothing is written; between outputs, the ones
  // finished stay. Either way exit 130 (a second Ctrl-C ends at once).
  StopSignals stop_signals;
  if (a.count < 1) throw ConfigError("--count must be >= 1, got " + std::to_string(a.count));
  if (a.notes < 1) throw ConfigError("--notes must be >= 1, got " + std::to_string(a.notes));
  if (!std::isfinite(a.gain_db) || std::abs(a.gain_db) > wav_max_gain_db)
    throw ConfigError("--gain must be within -" + format_db(wav_max_gain_db).substr(1) + "..+" +
                      format_db(wav_max_gain_db).substr(1) + " dB, got " + format_db(a.gain_db));
  GenerationRequest request;
  request.notes = a.notes;
  request.seed = a.seed;
  request.sampling.greedy = a.greedy;
  request.sampling.temperature = a.temperature;
  request.sampling.top_k = a.top_k;
  request.sampling.top_p = a.top_p;
  request.sampling.validate();

  LoadedModel loaded = open_trained(a.model);
  // Every output's primer and tokens stay in memory until the outputs are written.
  const std::uint64_t output_tokens =
      std::uint64_t(a.count) * (std::uint64_t(a.notes) + std::uint64_t(loaded.checkpoint.model.window));
  require_memory(output_tokens * sizeof(std::int32_t), available_memory(),
                 std::to_string(a.count) + " outputs of " + std::to_string(a.notes) + " notes",
                 "lower --count or --notes");
  place_model(loaded, a.device, std::min(a.count, std::max(a.batch, 1)),
              a.count < a.batch ? "--count " + std::to_string(a.count) : "--batch " + std::to_string(a.batch));
  const std::vector<std::string>& vocab = loaded.checkpoint.vocabulary;
  std::printf("model: %s (vocabulary %zu, window %d, epoch %d) on %s\n", loaded.path.string().c_str(), vocab.size(),
              loaded.checkpoint.model.window, loaded.checkpoint.epochs_done, loaded.device.description.c_str());
  if (!loaded.device.emulation_note.empty())
    std::fprintf(stderr, "nocturne: note: %s\n", loaded.device.emulation_note.c_str());
  const Primers primers = make_primers(PrimerRequest{a.primer, a.data, a.count, a.seed}, loaded);
  std::printf("primer: %s, %zu tokens; decoding: %s, seed %llu; %d output%s of %d notes\n", primers.source.c_str(),
              primers.indices.front().size(), request.sampling.describe().c_str(),
              static_cast<unsigned long long>(a.seed), a.count, a.count == 1 ? "" : "s", a.notes);

  // Where the outputs go, and how, is settled before the work starts.
  const fs::path out(a.out);
  std::error_code ec;
  fs::create_directories(out, ec);
  if (!fs::is_directory(out, ec)) throw FileError(out.string() + ": cannot create the output folder");
  std::optional<fs::path> soundfont;
  const WavLevel level{!a.no_normalize, a.gain_db};
  if (!a.no_audio) {
    if (!audio_rendering_available())
      std::printf("audio: not written (this build has no FluidSynth)\n");
    else if (!(soundfont = find_soundfont(a.soundfont)))
      std::printf("audio: not written (no soundfont found; give --soundfont <file.sf2>)\n");
  }
  const bool lilypond = !a.no_score && lilypond_available();
  if (!a.no_score && !lilypond)
    std::printf("score: MusicXML only, no PNG score: LilyPond is not installed (no lilypond program on PATH; "
                "Debian package lilypond, which tools/setup.sh installs)\n");
  std::fflush(stdout);

  struct Stopped {};
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::vector<std::int32_t>> generated;
  try {
    generated = generate_tokens(*loaded.model, primers.indices, request, [](int done, int total) {
      if (stop_requested()) throw Stopped{};
      progress_line("generating", done, total);
    });
  } catch (const Stopped&) {
    end_progress_line();
    std::printf("interrupted by %s while generating; nothing written\n", stop_signal_name());
    throw CLI::RuntimeError(kInterruptedExitCode);
  }
  end_progress_line();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("generated %d x %d tokens in %.2f s (%.2f ms per token)\n", a.count, a.notes, seconds,
              1e3 * seconds / (double(a.count) * double(a.notes)));
  std::fflush(stdout);

  for (std::size_t k = 0; k < generated.size(); ++k) {
    const std::string stem = "output-" + two_digits(int(k) + 1);
    if (stop_requested()) {
      std::printf("interrupted by %s: %zu of %zu outputs written\n", stop_signal_name(), k, generated.size());
      throw CLI::RuntimeError(kInterruptedExitCode);
    }
    remove_stale_outputs(out, stem, !a.no_score, lilypond, soundfont.has_value());
    std::vector<std::string> primer_symbols, new_symbols, all;
    for (std::int32_t t : primers.indices[k]) primer_symbols.push_back(vocab[std::size_t(t)]);
    for (std::int32_t t : generated[k]) new_symbols.push_back(vocab[std::size_t(t)]);
    if (!a.no_primer) all = primer_symbols;
    all.insert(all.end(), new_symbols.begin(), new_symbols.end());

    const MidiFile midi = tokens_to_midi(all);
    write_midi(out / (stem + ".mid"), midi);
    json j = {{"model", loaded.path.string()},
              {"output", k + 1},
              {"seed", a.seed},
              {"sampling_stream", sampling_stream(k)},
              {"decoding", request.sampling.describe()},
              {"greedy", request.sampling.greedy},
              {"temperature", request.sampling.temperature},
              {"top_k", request.sampling.top_k},
              {"top_p", request.sampling.top_p},
              {"primer_source", primers.source},
              {"primer_included", !a.no_primer},
              {"primer", primer_symbols},
              {"generated", new_symbols},
              {"tokens", all}};
    detail::write_file_atomically(out / (stem + ".tokens.json"),
                                  j.dump(2, ' ', false, json::error_handler_t::replace) + "\n");

    const std::vector<ScoreEvent> events = token_events(all);
    PianoRollOptions roll;
    if (!a.no_primer) roll.primer_end_tick = std::int64_t(primer_symbols.size()) * midi.ticks_per_quarter;
    write_piano_roll(out / (stem + ".roll.png"), midi, roll);
    std::string written = stem + ".mid, .tokens.json, .roll.png";
    if (!a.no_score) {
      write_musicxml(out / (stem + ".musicxml"), events, "Nocturne output " + std::to_string(k + 1));
      written += ", .musicxml";
      if (lilypond) {
        const auto pages = write_lilypond_png(out / (stem + ".png"), events, "Nocturne output " + std::to_string(k + 1));
        written += ", .ly, " + (pages.size() == 1 ? std::string(".png (score)")
                                                  : std::to_string(pages.size()) + " score pages");
      }
    }
    if (soundfont) {
      const WavInfo wav = write_wav(out / (stem + ".wav"), midi, *soundfont, level);
      char text[96];
      if (std::isfinite(wav.peak_dbfs))
        std::snprintf(text, sizeof text, ", .wav (%.1f s, peak %.1f dBFS%s)", wav.seconds, wav.peak_dbfs,
                      a.no_normalize && a.gain_db == 0 ? ", FluidSynth's level" : "");
      else
        std::snprintf(text, sizeof text, ", .wav (%.1f s, silent)", wav.seconds);
      written += text;
      if (wav.clipped > 0)  // by a gain past the peak, or FluidSynth's own level past full scale
        print_warning(stem + ".wav: " + std::to_string(wav.clipped) + " samples clipped at full scale (" +
                      (a.gain_db == 0 ? std::string("FluidSynth's level") : "--gain " + format_db(a.gain_db) + " dB") +
                      (a.no_normalize ? "" : " past the -1 dBFS peak") + ")");
    }
    std::printf("%s: %s\n", (out / stem).string().c_str(), written.c_str());
    std::fflush(stdout);
  }
  note_other_outputs(out, int(generated.size()));
}

void add_generate_command(CLI::App& app) {
  auto a = std::make_shared<GenerateArgs>();
  CLI::App* cmd = app.add_subcommand("generate", "Generate new pieces from a trained model");
  cmd->add_option("--model", a->model, "Checkpoint file, or a run folder (its best.ckpt)")->required();
  cmd->add_option("--notes", a->notes, "New tokens per output")->capture_default_str()->check(at_least(1));
  auto* greedy = cmd->add_flag("--greedy", a->greedy, "Take the most likely symbol each step (the recipe; the default without sampling options)");
  auto* t = cmd->add_option("--temperature", a->temperature, "Sampling temperature (> 0)")->capture_default_str();
  auto* k = cmd->add_option("--top-k", a->top_k, "Sample among the k most likely symbols (0 = all)")->capture_default_str();
  auto* p = cmd->add_option("--top-p", a->top_p, "Sample from the smallest set of mass >= p (1 = all)")->capture_default_str();
  greedy->excludes(t)->excludes(k)->excludes(p);
  cmd->add_option("--seed", a->seed, "Seed of the sampling draws and the held-out primer choice")
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
  cmd->add_option("--data", a->data, "MIDI folder for the held-out primer pool (default: the folder the model trained on)");
  cmd->add_option("--batch", a->batch, "Outputs generated together")->capture_default_str()->check(at_least(1));
  cmd->add_option("--device", a->device.device, "auto, cpu or cuda")->capture_default_str();
  cmd->add_option("--precision", a->device.precision,
                  "GEMM operands: fp32, tf32 or bf16 (tensor cores on the GPU; an emulation on the CPU)")
      ->capture_default_str();
  cmd->add_option("--lstm-impl", a->device.lstm_impl,
                  "LSTM layers: classic ('ours' is its former name), fused (on the CPU too), persistent (fused with "
                  "persistent forward kernels where they fit) or cudnn (GPU only)")
      ->capture_default_str();
  cmd->add_option("--threads", a->device.threads, kThreadsHelp);
  cmd->callback([a, t, k, p] {
    GenerateArgs args = *a;
    // Any of --temperature, --top-k, --top-p asks for sampling; without them
    // (or with --greedy) the recipe's greedy decoding.
    args.greedy = a->greedy || (t->count() == 0 && k->count() == 0 && p->count() == 0);
    run_generate(args);
  });
}

}  // namespace

static const bool registered = register_command(40, add_generate_command);

}  // namespace nocturne::cli
