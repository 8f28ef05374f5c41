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
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "cli/evaluate_generated.hpp"
#include "cli/evaluate_timed.hpp"
#include "cli/outputs.hpp"
#include "nocturne/error.hpp"
#include "nocturne/evaluate.hpp"

namespace nocturne::inline v0::cli {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct EvaluateArgs {
  std::string model;
  std::string data;
  std::string tokens;  // the model's token stream, when given: checked
  std::vector<std::string> generated;
  int batch = 256;
  bool batch_given = false;  // said when capped; the default is capped quietly
  bool json_output = false;
  DeviceRequest device;
};

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
  LoadedModel loaded = open_trained_model(a.model);
  require_token_kind(loaded, a.tokens);
  const std::vector<std::string>& vocab = loaded.checkpoint.vocabulary;
  const TrainingDataInfo& info = loaded.data;
  const std::int64_t window = loaded.checkpoint.model.window;
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
                                                                 : read_generated(a.generated, info.tokens);
  const std::vector<CorpusFile> files = read_corpus_cli(folder, false, print_warning, info.tokens).files;
  const HeldoutWindows held = heldout_windows(loaded, folder, files);
  for (const std::string& warning : held.warnings) print_warning(warning);
  const std::vector<std::int32_t>& tokens = held.tokens;
  const std::vector<std::int64_t>& starts = held.starts;
  const std::string& split_note = held.split_note;
  const std::int64_t heldout_pieces = held.heldout_pieces;
  if (starts.empty()) throw ConfigError(folder.string() + ": no held-out windows of " + std::to_string(window) + " tokens");
  place_model_cli(loaded, a.device, capped_batch(a.batch, starts.size(), a.batch_given),
                  "--batch " + std::to_string(a.batch));
  if (!loaded.device.emulation_note.empty())
    std::fprintf(stderr, "nocturne: note: %s\n", loaded.device.emulation_note.c_str());

  const HeldoutMetrics m = evaluate_windows(*loaded.model, tokens, starts, [](std::int64_t done, std::int64_t total) {
    progress_line("evaluating", done, total);
    return true;
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
  if (info.tokens == TokenKind::timed) {
    if (!a.json_output) std::printf("by part of the timed stream (target):\n");
    add_component_cross_entropy(report, *loaded.model, held, vocab, !a.json_output);
    if (!a.generated.empty()) add_timing_statistics(report, pieces, vocab, held, !a.json_output);
  }

  if (!a.generated.empty()) add_generated_statistics(report, pieces, vocab, held, !a.json_output);
  // Names that are not UTF-8 (a file, the data folder) show U+FFFD where a byte is not.
  if (a.json_output) std::printf("%s\n", report.dump(2, ' ', false, json::error_handler_t::replace).c_str());
}

void add_evaluate_command(CLI::App& app) {
  auto a = std::make_shared<EvaluateArgs>();
  CLI::App* cmd = app.add_subcommand("evaluate", "Held-out cross-entropy, perplexity and accuracy; statistics of generated music");
  cmd->add_option("--model", a->model, "Checkpoint file, or a run folder (its best.ckpt)")->required();
  cmd->add_option("--data", a->data, "MIDI folder (default: the folder the model trained on)");
  cmd->add_option("--tokens", a->tokens, "recipe or timed: the model's token stream (checked; default: the model's)")
      ->check(CLI::IsMember({"recipe", "timed"}));
  cmd->add_option("--generated", a->generated, "Generated pieces: folders (their .tokens.json, else MIDI files) or files");
  auto* batch = cmd->add_option("--batch", a->batch, "Windows per batch")->capture_default_str()->check(at_least(1));
  cmd->add_flag("--json", a->json_output, "Print one JSON object instead of the table");
  add_model_device_options(*cmd, a->device);
  cmd->callback([a, batch] {
    a->batch_given = batch->count() > 0;
    run_evaluate(*a);
  });
}

}  // namespace

static const bool registered = register_command(50, add_evaluate_command);

}  // namespace nocturne::cli
