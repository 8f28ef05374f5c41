// nocturne evaluate: honest measures of a trained model and of generated music.
//
// The model: cross-entropy (nats), perplexity, top-1 and top-5 accuracy on
// held-out windows split by piece. On the folder the model trained on, the
// held-out pieces are those of a piece split with the run's seed and held-out
// fraction (exactly the validation pieces of a --split piece run; a --split
// random run has seen every piece, which the output says). On another folder,
// every window inside a piece counts.
//
// Generated pieces (output-NN.tokens.json, whose "generated" tokens are used,
// or MIDI files, tokenized): the pitch-class histogram's Jensen-Shannon
// divergence (bits) and total variation distance to the corpus, the pitch
// range, the repetition rate (tokens equal to the one before), the distinct
// 4-gram ratio, and the longest passage copied from the corpus's training
// pieces (in tokens).

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <unordered_map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "cli/outputs.hpp"
#include "nocturne/error.hpp"
#include "nocturne/evaluate.hpp"
#include "nocturne/generate.hpp"
#include "nocturne/tokenizer.hpp"

namespace nocturne::cli {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct EvaluateArgs {
  std::string model;
  std::string data;
  std::vector<std::string> generated;
  int batch = 256;
  bool batch_given = false;  // said when capped; the default is capped quietly
  bool json_output = false;
  DeviceRequest device;
};

struct GeneratedPiece {
  std::string name;
  std::vector<std::string> tokens;
};

std::vector<GeneratedPiece> read_generated(const std::vector<std::string>& inputs) {
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
      piece.tokens = tokenize_file(file);
    }
    pieces.push_back(std::move(piece));
  }
  return pieces;
}

// More windows per batch than there are windows only takes memory.
int capped_batch(int batch, std::size_t windows, bool given) {
  if (batch < 1 || std::size_t(batch) <= windows) return std::max(batch, 1);
  if (given)
    print_note("--batch " + std::to_string(batch) + " is more than the " + std::to_string(windows) +
               " held-out windows: using " + std::to_string(windows));
  return int(windows);
}

std::string fixed(double v, int digits) {
  char text[48];
  std::snprintf(text, sizeof text, "%.*f", digits, v);
  return text;
}

void run_evaluate(const EvaluateArgs& a) {
  LoadedModel loaded = open_trained(a.model);
  const std::vector<std::string>& vocab = loaded.checkpoint.vocabulary;
  const TrainingDataInfo info = training_data_info(loaded);
  const std::int64_t window = loaded.checkpoint.model.window;
  std::error_code ec;
  fs::path folder;
  if (!a.data.empty())
    folder = a.data;
  else if (info.folder)
    folder = *info.folder;
  else
    throw ConfigError("evaluate: the checkpoint does not name its data folder; give --data <midi-folder>");
  // The generated pieces are read first, so that a bad --generated fails
  // before the held-out evaluation runs and prints.
  const std::vector<GeneratedPiece> pieces = a.generated.empty() ? std::vector<GeneratedPiece>{}
                                                                 : read_generated(a.generated);
  const std::vector<CorpusFile> files = read_corpus(folder, print_warning);
  const bool same_folder = info.folder && fs::equivalent(folder, *info.folder, ec);

  // Held-out windows and the corpus pieces the model trained on, as vocabulary indices.
  std::vector<std::int32_t> tokens;
  std::vector<std::int64_t> starts;
  std::vector<std::vector<std::int32_t>> training_pieces;
  std::vector<std::string> training_names;
  std::string split_note;
  std::int64_t heldout_pieces = 0;
  bool rebuilt = false;
  if (same_folder) {
    DatasetOptions options;
    options.min_count = info.min_count;
    options.window = window;
    options.split = SplitMode::piece;
    options.seed = info.seed;
    options.heldout_fraction = info.heldout > 0 ? info.heldout : 0.2;
    Dataset dataset = build_dataset(files, options);
    if (dataset.vocab.symbols() == vocab) {
      rebuilt = true;
      tokens = std::move(dataset.tokens);
      starts = std::move(dataset.heldout_starts);
      for (const PieceRange& p : dataset.pieces) {
        const bool held = std::any_of(starts.begin(), starts.end(), [&](std::int64_t s) { return s >= p.begin && s < p.end; });
        if (held) {
          ++heldout_pieces;
        } else {
          training_pieces.emplace_back(tokens.begin() + p.begin, tokens.begin() + p.end);
          training_names.push_back(p.name);
        }
      }
      split_note = info.split == "piece"
                       ? "the run's piece split (seed " + std::to_string(info.seed) + "): these pieces were not trained on"
                       : "a piece split (seed " + std::to_string(info.seed) +
                             "); the run used the recipe's random window split, so it has seen these pieces: "
                             "the measures are optimistic";
      if (info.split != "piece") {  // every piece was in training
        training_pieces.clear();
        training_names.clear();
        for (const PieceRange& p : dataset.pieces) {
          training_pieces.emplace_back(tokens.begin() + p.begin, tokens.begin() + p.end);
          training_names.push_back(p.name);
        }
      }
    } else {
      print_warning("the folder's rebuilt vocabulary differs from the model's; evaluating every window of every piece");
    }
  }
  if (!rebuilt) {
    const MappedCorpus mapped = map_corpus(files, vocab);
    tokens = mapped.tokens;
    starts = windows_within_pieces(mapped, window);
    heldout_pieces = std::int64_t(mapped.pieces.size());
    for (const PieceRange& p : mapped.pieces) {
      training_pieces.emplace_back(tokens.begin() + p.begin, tokens.begin() + p.end);
      training_names.push_back(p.name);
    }
    split_note = "every piece of " + folder.string() + " (not the folder the model trained on)";
    if (mapped.dropped > 0) split_note += "; " + std::to_string(mapped.dropped) + " tokens outside the vocabulary dropped";
  }
  if (starts.empty()) throw ConfigError(folder.string() + ": no held-out windows of " + std::to_string(window) + " tokens");
  place_model(loaded, a.device, capped_batch(a.batch, starts.size(), a.batch_given),
              "--batch " + std::to_string(a.batch));
  if (!loaded.device.emulation_note.empty())
    std::fprintf(stderr, "nocturne: note: %s\n", loaded.device.emulation_note.c_str());

  const HeldoutMetrics m = evaluate_windows(*loaded.model, tokens, starts, [](std::int64_t done, std::int64_t total) {
    progress_line("evaluating", done, total);
  });
  end_progress_line();

  json report = {{"model", loaded.path.string()},
                 {"data", folder.string()},
                 {"split", split_note},
                 {"heldout_pieces", heldout_pieces},
                 {"windows", m.windows},
                 {"cross_entropy", m.cross_entropy},
                 {"perplexity", m.perplexity},
                 {"top1", m.top1},
                 {"top5", m.top5}};
  if (!a.json_output) {
    std::printf("model        %s (epoch %d, vocabulary %zu) on %s\n", loaded.path.string().c_str(),
                loaded.checkpoint.epochs_done, vocab.size(), loaded.device.description.c_str());
    std::printf("held-out     %lld windows in %lld pieces: %s\n", static_cast<long long>(m.windows),
                static_cast<long long>(heldout_pieces), split_note.c_str());
    std::printf("cross-entropy %s nats, perplexity %s\n", fixed(m.cross_entropy, 4).c_str(), fixed(m.perplexity, 2).c_str());
    std::printf("accuracy     top-1 %s, top-5 %s\n", fixed(m.top1, 4).c_str(), fixed(m.top5, 4).c_str());
  }

  if (!a.generated.empty()) {
    std::vector<std::vector<int>> corpus_events;
    for (const auto& piece : training_pieces)
      for (std::int32_t t : piece) corpus_events.push_back(token_pitches(vocab[std::size_t(t)]));
    const PitchClassHistogram corpus_histogram = pitch_class_histogram(corpus_events);
    const PitchRange corpus_range = pitch_range(corpus_events);
    const CorpusIndex index(training_pieces);
    json generated = json::array();
    if (!a.json_output)
      std::printf("corpus       %zu training pieces, pitch range %d-%d\n"
                  "generated    tokens  JS(bits)  TV     range    repeat  distinct4  longest copy\n",
                  training_pieces.size(), corpus_range.lowest, corpus_range.highest);
    for (const GeneratedPiece& piece : pieces) {
      std::vector<std::vector<int>> events;
      std::vector<std::int32_t> ids;
      std::unordered_map<std::string, std::int32_t> lookup;
      for (std::size_t i = 0; i < vocab.size(); ++i) lookup.emplace(vocab[i], std::int32_t(i));
      for (const std::string& t : piece.tokens) {
        events.push_back(token_pitches(t));
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
      const std::string source = copy.piece >= 0 ? training_names[std::size_t(copy.piece)] : std::string("-");
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
      if (!a.json_output)
        std::printf("  %s\n               %6zu  %8s  %5s  %3d-%-3d  %6s  %9s  %lld tokens (%s at %lld)\n",
                    piece.name.c_str(), piece.tokens.size(), fixed(js, 4).c_str(), fixed(tv, 3).c_str(), range.lowest,
                    range.highest, fixed(repeat, 3).c_str(), fixed(distinct, 3).c_str(),
                    static_cast<long long>(copy.length), source.c_str(), static_cast<long long>(copy.piece_offset));
    }
    report["corpus_lowest"] = corpus_range.lowest;
    report["corpus_highest"] = corpus_range.highest;
    report["generated"] = generated;
  }
  // Names that are not UTF-8 (a file, the data folder) show U+FFFD where a byte is not.
  if (a.json_output) std::printf("%s\n", report.dump(2, ' ', false, json::error_handler_t::replace).c_str());
}

void add_evaluate_command(CLI::App& app) {
  auto a = std::make_shared<EvaluateArgs>();
  CLI::App* cmd = app.add_subcommand("evaluate", "Held-out cross-entropy, perplexity and accuracy; statistics of generated music");
  cmd->add_option("--model", a->model, "Checkpoint file, or a run folder (its best.ckpt)")->required();
  cmd->add_option("--data", a->data, "MIDI folder (default: the folder the model trained on)");
  cmd->add_option("--generated", a->generated, "Generated pieces: folders (their .tokens.json, else MIDI files) or files");
  auto* batch = cmd->add_option("--batch", a->batch, "Windows per batch")->capture_default_str()->check(at_least(1));
  cmd->add_flag("--json", a->json_output, "Print one JSON object instead of the table");
  cmd->add_option("--device", a->device.device, "auto, cpu or cuda")->capture_default_str();
  cmd->add_option("--precision", a->device.precision,
                  "GEMM operands: fp32, tf32 or bf16 (tensor cores on the GPU; an emulation on the CPU)")
      ->capture_default_str();
  cmd->add_option("--lstm-impl", a->device.lstm_impl,
                  "LSTM layers: classic ('ours' is its former name), fused (on the CPU too), persistent (fused with "
                  "persistent forward kernels where they fit) or cudnn (GPU only)")
      ->capture_default_str();
  cmd->add_option("--threads", a->device.threads, kThreadsHelp);
  cmd->callback([a, batch] {
    a->batch_given = batch->count() > 0;
    run_evaluate(*a);
  });
}

}  // namespace

static const bool registered = register_command(50, add_evaluate_command);

}  // namespace nocturne::cli
