// What `nocturne generate` writes per output (generate_outputs.hpp).

#include "cli/generate_outputs.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "cli/signals.hpp"
#include "midi/atomic_write.hpp"
#include "nocturne/error.hpp"
#include "nocturne/timed_score.hpp"
#include "nocturne/timed_tokens.hpp"
#include "nocturne/tokenizer.hpp"

namespace nocturne::inline v0::cli {

namespace fs = std::filesystem;
using nlohmann::json;

std::string format_db(double db) {
  char text[32];
  std::snprintf(text, sizeof text, "%+g", db);
  return text;
}

void check_gain_option(double gain_db) {
  if (!std::isfinite(gain_db) || std::abs(gain_db) > wav_max_gain_db)
    throw ConfigError("--gain must be within -" + format_db(wav_max_gain_db).substr(1) + "..+" +
                      format_db(wav_max_gain_db).substr(1) + " dB, got " + format_db(gain_db));
}

namespace {

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

// Where the generated part of timed music starts: the onset of its first
// element (the primer's elements are decoded first, its symbols counted).
std::int64_t primer_end_tick(const std::vector<std::string>& primer, const std::vector<TimedEvent>& events,
                             int ticks_per_quarter) {
  const auto symbols = std::count_if(primer.begin(), primer.end(), [](const std::string& t) {
    return timed_component(t) == TimedComponent::symbol;
  });
  if (std::size_t(symbols) >= events.size()) return std::numeric_limits<std::int64_t>::max();
  return events[std::size_t(symbols)].offset * ticks_per_quarter / kUnitsPerQuarter;
}

}  // namespace

OutputWriter::OutputWriter(const OutputOptions& options) : o_(options), level_{!options.no_normalize, options.gain_db} {
  std::error_code ec;
  fs::create_directories(o_.out, ec);
  if (!fs::is_directory(o_.out, ec)) throw FileError(o_.out.string() + ": cannot create the output folder");
  if (!o_.no_audio) {
    if (!audio_rendering_available())
      std::printf("audio: not written (this build has no FluidSynth)\n");
    else if (!(soundfont_ = find_soundfont(o_.soundfont)))
      std::printf("audio: not written (no soundfont found; give --soundfont <file.sf2>)\n");
  }
  lilypond_ = !o_.no_score && lilypond_available();
  if (!o_.no_score && !lilypond_)
    std::printf("score: MusicXML only, no PNG score: LilyPond is not installed (no lilypond program on PATH; "
                "Debian package lilypond, which tools/setup.sh installs)\n");
  std::fflush(stdout);
}

void OutputWriter::write(std::size_t k, const LoadedModel& loaded, const Primers& primers,
                         const std::vector<std::int32_t>& generated, const GenerationRequest& request) {
  const std::vector<std::string>& vocab = loaded.vocabulary();
  const std::string stem = "output-" + two_digits(int(k) + 1);
  const bool timed = loaded.data.tokens == TokenKind::timed;
  remove_stale_outputs(o_.out, stem, !o_.no_score, lilypond_, soundfont_.has_value());
  std::vector<std::string> primer_symbols, new_symbols, all;
  for (std::int32_t t : primers.indices[k]) primer_symbols.push_back(vocab[std::size_t(t)]);
  for (std::int32_t t : generated) new_symbols.push_back(vocab[std::size_t(t)]);
  if (!o_.no_primer) all = primer_symbols;
  all.insert(all.end(), new_symbols.begin(), new_symbols.end());

  const std::vector<TimedEvent> timed_events = timed ? decode_timed(all) : std::vector<TimedEvent>{};
  const MidiFile midi = timed ? timed_events_to_midi(timed_events) : tokens_to_midi(all);
  write_midi(o_.out / (stem + ".mid"), midi);
  json j = {{"model", loaded.path.string()},
            {"output", k + 1},
            {"seed", o_.seed},
            {"sampling_stream", sampling_stream(k)},
            {"decoding", request.sampling.describe()},
            {"greedy", request.sampling.greedy},
            {"temperature", request.sampling.temperature},
            {"top_k", request.sampling.top_k},
            {"top_p", request.sampling.top_p},
            {"primer_source", primers.source},
            {"primer_included", !o_.no_primer},
            {"tokens_kind", token_kind_name(loaded.data.tokens)},
            {"primer", primer_symbols},
            {"generated", new_symbols},
            {"tokens", all}};
  detail::write_file_atomically(o_.out / (stem + ".tokens.json"),
                                j.dump(2, ' ', false, json::error_handler_t::replace) + "\n");

  const std::vector<ScoreEvent> events = timed ? std::vector<ScoreEvent>{} : token_events(all);
  PianoRollOptions roll;
  if (!o_.no_primer) roll.primer_end_tick = timed ? primer_end_tick(primer_symbols, timed_events, midi.ticks_per_quarter)
                                                  : std::int64_t(primer_symbols.size()) * midi.ticks_per_quarter;
  write_piano_roll(o_.out / (stem + ".roll.png"), midi, roll);
  std::string written = stem + ".mid, .tokens.json, .roll.png";
  if (!o_.no_score) {
    if (timed)
      write_timed_musicxml(o_.out / (stem + ".musicxml"), timed_events, "Nocturne output " + std::to_string(k + 1));
    else
      write_musicxml(o_.out / (stem + ".musicxml"), events, "Nocturne output " + std::to_string(k + 1));
    written += ", .musicxml";
    if (lilypond_) {
      const std::string title = "Nocturne output " + std::to_string(k + 1);
      const auto pages = timed ? write_timed_lilypond_png(o_.out / (stem + ".png"), timed_events, title)
                               : write_lilypond_png(o_.out / (stem + ".png"), events, title);
      written += ", .ly, " + (pages.size() == 1 ? std::string(".png (score)")
                                                : std::to_string(pages.size()) + " score pages");
    }
  }
  if (soundfont_) {
    const WavInfo wav = write_wav(o_.out / (stem + ".wav"), midi, *soundfont_, level_);
    char text[96];
    if (std::isfinite(wav.peak_dbfs))
      std::snprintf(text, sizeof text, ", .wav (%.1f s, peak %.1f dBFS%s)", wav.seconds, wav.peak_dbfs,
                    o_.no_normalize && o_.gain_db == 0 ? ", FluidSynth's level" : "");
    else
      std::snprintf(text, sizeof text, ", .wav (%.1f s, silent)", wav.seconds);
    written += text;
    if (wav.clipped > 0)  // by a gain past the peak, or FluidSynth's own level past full scale
      print_warning(stem + ".wav: " + std::to_string(wav.clipped) + " samples clipped at full scale (" +
                    (o_.gain_db == 0 ? std::string("FluidSynth's level") : "--gain " + format_db(o_.gain_db) + " dB") +
                    (o_.no_normalize ? "" : " past the -1 dBFS peak") + ")");
  }
  std::printf("%s: %s\n", (o_.out / stem).string().c_str(), written.c_str());
  std::fflush(stdout);
}

void OutputWriter::write_all(const LoadedModel& loaded, const Primers& primers,
                             const std::vector<std::vector<std::int32_t>>& generated,
                             const GenerationRequest& request) {
  for (std::size_t k = 0; k < generated.size(); ++k) {
    if (stop_requested()) {
      std::printf("interrupted by %s: %zu of %zu outputs written\n", stop_signal_name(), k, generated.size());
      throw CLI::RuntimeError(kInterruptedExitCode);
    }
    write(k, loaded, primers, generated[k], request);
  }
  note_other_outputs(o_.out, int(generated.size()));
}

}  // namespace nocturne::cli
