// nocturne corpus <midi-folder>: the recipe's data pipeline and its statistics.

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>

#include "cli/commands.hpp"
#include "cli/outputs.hpp"
#include "nocturne/corpus.hpp"

namespace nocturne::inline v0::cli {

namespace {
struct CorpusArgs {
  std::string folder;
  DatasetOptions options;
  std::string split = "random";
  bool strict = false;
};

void run_corpus(const CorpusArgs& args) {
  DatasetOptions options = args.options;
  options.split = args.split == "piece" ? SplitMode::piece : SplitMode::random;
  const auto started = std::chrono::steady_clock::now();
  // Unreadable files are skipped with a warning, as train skips them, so the
  // statistics are those of the corpus train would use (--strict: stop).
  std::vector<std::string> skipped;
  const Corpus read = read_corpus_cli(args.folder, args.strict);
  const std::vector<CorpusFile>& corpus = read.files;
  skipped = read.skipped;
  const auto tokenized = std::chrono::steady_clock::now();
  CorpusStats s;
  const Dataset dataset = build_dataset(corpus, options, &s);
  const auto finished = std::chrono::steady_clock::now();
  auto seconds = [](auto a, auto b) { return std::chrono::duration<double>(b - a).count(); };

  std::printf("files              %lld%s\n", static_cast<long long>(s.files),
              skipped.empty() ? "" : (" (" + std::to_string(skipped.size()) + " unreadable, skipped)").c_str());
  std::printf("tokens             %lld\n", static_cast<long long>(s.tokens));
  std::printf("distinct symbols   %lld\n", static_cast<long long>(s.distinct_symbols));
  std::printf("rare symbols       %lld (fewer than %lld occurrences), %lld occurrences%s\n",
              static_cast<long long>(s.rare_symbols), static_cast<long long>(options.min_count),
              static_cast<long long>(s.rare_occurrences),
              options.recipe_partial_filter ? " (recipe's partial filter: not all removed)" : "");
  std::printf("tokens kept        %lld\n", static_cast<long long>(s.tokens_kept));
  std::printf("vocabulary         %lld\n", static_cast<long long>(s.vocabulary_size));
  std::printf("windows            %lld of %lld steps (split %s, seed %llu)\n", static_cast<long long>(s.windows),
              static_cast<long long>(options.window), args.split.c_str(),
              static_cast<unsigned long long>(options.seed));
  std::printf("train / held-out   %lld / %lld\n", static_cast<long long>(s.train_windows),
              static_cast<long long>(s.heldout_windows));
  std::printf("time               %.3f s (read + tokenize %.3f s, pipeline %.3f s)\n", seconds(started, finished),
              seconds(started, tokenized), seconds(tokenized, finished));
  (void)dataset;
}
void add_corpus_command(CLI::App& app) {
  auto args = std::make_shared<CorpusArgs>();
  CLI::App* cmd = app.add_subcommand("corpus", "Tokenize a MIDI folder and print the recipe's corpus statistics");
  cmd->add_option("midi-folder", args->folder, "Folder searched recursively for .mid/.midi files")->required();
  cmd->add_option("--min-count", args->options.min_count, "Drop symbols occurring fewer times than this")
      ->capture_default_str()
      ->check(at_least(0));
  cmd->add_option("--window", args->options.window, "Input steps per window")
      ->capture_default_str()
      ->check(at_least(1));
  cmd->add_option("--split", args->split, "random (the recipe's, over windows) or piece (held-out pieces)")
      ->capture_default_str()
      ->check(CLI::IsMember({"random", "piece"}));
  cmd->add_option("--seed", args->options.seed, "Seed of the split")->capture_default_str()->check(seed_number());
  cmd->add_flag("--strict", args->strict, "Stop at the first unreadable MIDI file instead of skipping it");
  cmd->add_flag("--recipe-partial-filter", args->options.recipe_partial_filter,
                "Reproduce the recipe's remove-while-iterating filter (keeps some rare symbols)");
  cmd->callback([args] { run_corpus(*args); });
}

}  // namespace

static const bool registered = register_command(20, add_corpus_command);

}  // namespace nocturne::cli
