#pragma once
// The files `nocturne generate` writes per output (cmd_generate.cpp lists
// them), and what it says about each.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "cli/outputs.hpp"
#include "nocturne/generate.hpp"
#include "nocturne/render.hpp"

namespace nocturne::inline v0::cli {

struct OutputOptions {
  std::filesystem::path out;
  std::uint64_t seed = 1;
  bool no_primer = false, no_score = false, no_audio = false, no_normalize = false;
  double gain_db = 0;
  std::string soundfont;
};

class OutputWriter {
 public:
  // Creates the folder and settles, before the work starts, what can be
  // written (audio needs FluidSynth and a soundfont, a PNG score LilyPond),
  // saying what will be left out. Throws FileError.
  explicit OutputWriter(const OutputOptions& options);
  // Writes output k (0-based; files output-NN.*) and prints what it wrote.
  void write(std::size_t k, const LoadedModel& loaded, const Primers& primers,
             const std::vector<std::int32_t>& generated, const GenerationRequest& request);
  // Writes every output in turn, then says which outputs past these an
  // earlier run left in the folder. A stop request (Ctrl-C) between outputs
  // keeps the ones written, says how many, and ends with the interrupted
  // exit code.
  void write_all(const LoadedModel& loaded, const Primers& primers,
                 const std::vector<std::vector<std::int32_t>>& generated, const GenerationRequest& request);

 private:
  OutputOptions o_;
  std::optional<std::filesystem::path> soundfont_;
  WavLevel level_;
  bool lilypond_ = false;
};

// "+3", "-6.5": a gain as the user would type it.
std::string format_db(double db);
// Throws ConfigError unless --gain is finite and within wav_max_gain_db.
void check_gain_option(double gain_db);

}  // namespace nocturne::cli
