// Statistics of generated pieces against the corpus (evaluate_generated.hpp).

#include "cli/evaluate_generated.hpp"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <unordered_map>

#include "nocturne/error.hpp"
#include "nocturne/evaluate.hpp"
#include "nocturne/generate.hpp"
#include "nocturne/timed_tokens.hpp"
#include "nocturne/tokenizer.hpp"

namespace nocturne::inline v0::cli {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string fixed(double v, int digits) {
  char text[48];
  std::snprintf(text, sizeof text, "%.*f", digits, v);
  return text;
}

}  // namespace

std::vector<GeneratedPiece> read_generated(const std::vector<std::string>& inputs, TokenKind tokens) {
  std::vector<fs::path> files;
  std::error_code ec;
  for (const std::string& input : inputs) {
    const fs::path path(input);
    if (fs::is_directory(path, ec)) {
      std::vector<fs::path> json_files, midi_files;
      for (const auto& entry : fs::directory_iterator(path)) {
        if (!entry.is_regular_file(ec)) continue;  // a folder named x.mid, say
        const std::string name = entry.path().filename().string();
        if (name.size() > 12 && name.ends_with(".tokens.json")) json_files.push_back(entry.path());
        if (name.ends_with(".mid") || name.ends_with(".midi")) midi_files.push_back(entry.path());
      }
      auto& chosen = json_files.empty() ? midi_files : json_files;
      std::sort(chosen.begin(), chosen.end());
      if (chosen.empty()) throw FileError(path.string() + ": no .tokens.json or MIDI files to evaluate");
      files.insert(files.end(), chosen.begin(), chosen.end());
    } else if (fs::is_regular_file(path, ec)) {
      files.push_back(path);
    } else {
      throw FileError(input + ": no such file or folder");
    }
  }
  std::vector<GeneratedPiece> pieces;
  for (const fs::path& file : files) {
    GeneratedPiece piece{file.string(), {}};
    if (file.string().ends_with(".json")) {
      std::ifstream in(file);
      json j;
      try {
        in >> j;
        piece.tokens = j.contains("generated") ? j.at("generated").get<std::vector<std::string>>()
                                               : j.at("tokens").get<std::vector<std::string>>();
      } catch (const json::exception& e) {
        throw FileError(file.string() + ": not a tokens JSON file (" + e.what() + ")");
      }
    } else {
      piece.tokens = tokens == TokenKind::timed ? tokenize_timed_file(file) : tokenize_file(file);
    }
    pieces.push_back(std::move(piece));
  }
  return pieces;
}

namespace {
// Pitch statistics read the symbols of a timed stream, not its durations and shifts.
bool is_pitch_symbol(const std::string& token) {
  const auto part = timed_component(token);
  return part != TimedComponent::duration && part != TimedComponent::shift;
}
}  // namespace

void add_generated_statistics(json& report, const std::vector<GeneratedPiece>& pieces,
                              const std::vector<std::string>& vocab, const HeldoutWindows& held, bool table) {
  std::vector<std::vector<int>> corpus_events;
  for (const auto& piece : held.training_pieces)
    for (std::int32_t t : piece)
      if (is_pitch_symbol(vocab[std::size_t(t)])) corpus_events.push_back(token_pitches(vocab[std::size_t(t)]));
  const PitchClassHistogram corpus_histogram = pitch_class_histogram(corpus_events);
  const PitchRange corpus_range = pitch_range(corpus_events);
  const CorpusIndex index(held.training_pieces);
  json generated = json::array();
  if (table)
    std::printf("corpus       %zu training pieces, pitch range %d-%d\n"
                "generated    tokens  JS(bits)  TV     range    repeat  distinct4  longest copy\n",
                held.training_pieces.size(), corpus_range.lowest, corpus_range.highest);
  for (const GeneratedPiece& piece : pieces) {
    std::vector<std::vector<int>> events;
    std::vector<std::int32_t> ids;
    std::unordered_map<std::string, std::int32_t> lookup;
    for (std::size_t i = 0; i < vocab.size(); ++i) lookup.emplace(vocab[i], std::int32_t(i));
    for (const std::string& t : piece.tokens) {
      if (is_pitch_symbol(t)) events.push_back(token_pitches(t));
      const auto it = lookup.find(t);
      ids.push_back(it == lookup.end() ? -1 : it->second);
    }
    const PitchClassHistogram h = pitch_class_histogram(events);
    const bool has_pitches = std::any_of(h.begin(), h.end(), [](double v) { return v > 0; });
    const double js = has_pitches ? jensen_shannon_divergence(h, corpus_histogram) : 1.0;
    const double tv = has_pitches ? total_variation_distance(h, corpus_histogram) : 1.0;
    const PitchRange range = pitch_range(events);
    const double repeat = repetition_rate(ids), distinct = distinct_ngram_ratio(ids, 4);
    const CopiedPassage copy = index.longest_copy(ids);
    const std::string source = copy.piece >= 0 ? held.training_names[std::size_t(copy.piece)] : std::string("-");
    generated.push_back({{"file", piece.name},
                         {"tokens", piece.tokens.size()},
                         {"js_divergence_bits", js},
                         {"total_variation", tv},
                         {"lowest", range.lowest},
                         {"highest", range.highest},
                         {"repetition_rate", repeat},
                         {"distinct_4gram_ratio", distinct},
                         {"longest_copy", copy.length},
                         {"longest_copy_piece", source},
                         {"longest_copy_piece_offset", copy.piece_offset},
                         {"longest_copy_generated_offset", copy.generated_offset}});
    if (table)
      std::printf("  %s\n               %6zu  %8s  %5s  %3d-%-3d  %6s  %9s  %lld tokens (%s at %lld)\n",
                  piece.name.c_str(), piece.tokens.size(), fixed(js, 4).c_str(), fixed(tv, 3).c_str(), range.lowest,
                  range.highest, fixed(repeat, 3).c_str(), fixed(distinct, 3).c_str(),
                  static_cast<long long>(copy.length), source.c_str(), static_cast<long long>(copy.piece_offset));
  }
  report["corpus_lowest"] = corpus_range.lowest;
  report["corpus_highest"] = corpus_range.highest;
  report["generated"] = generated;
}

}  // namespace nocturne::cli
