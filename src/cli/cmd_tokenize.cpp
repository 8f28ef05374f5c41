// nocturne tokenize <midi-folder> --json <out.json> [--tokens recipe|timed]:
// the unfiltered tokens (the recipe's, or the timed stream) of every MIDI file, keyed by its path relative to the folder. A key is the
// path's bytes through escape_bytes: unchanged for UTF-8 names without '%',
// '%' as %25 and bytes that are not UTF-8 as %XX, so every name survives.
// `--json -` (or /dev/stdout) prints the JSON, and the summary goes to stderr.

#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/commands.hpp"
#include "cli/outputs.hpp"
#include "nocturne/byte_text.hpp"
#include "nocturne/corpus.hpp"
#include "nocturne/timed_tokens.hpp"

namespace nocturne::inline v0::cli {

namespace {
struct TokenizeArgs {
  std::string folder;
  std::string json_path;
  bool strict = false;
  std::string tokens = "recipe";
};

std::string tokens_json(const std::vector<CorpusFile>& corpus) {
  nlohmann::ordered_json out = nlohmann::ordered_json::object();
  for (const auto& file : corpus) out[escape_bytes(file.name)] = file.tokens;
  return out.dump(1) + "\n";
}

void run_tokenize(const TokenizeArgs& args) {
  // Unreadable files are skipped with a warning, as train skips them (--strict: stop).
  const std::vector<CorpusFile> corpus =
      read_corpus_cli(args.folder, args.strict, print_warning, parse_token_kind(args.tokens)).files;
  std::size_t total = 0;
  for (const auto& file : corpus) total += file.tokens.size();
  write_output_file(args.json_path, tokens_json(corpus));
  std::FILE* summary = writes_to_stdout(args.json_path) ? stderr : stdout;
  std::fprintf(summary, "%zu files, %zu tokens -> %s\n", corpus.size(), total, args.json_path.c_str());
}
void add_tokenize_command(CLI::App& app) {
  auto args = std::make_shared<TokenizeArgs>();
  CLI::App* cmd = app.add_subcommand("tokenize", "Tokenize every MIDI file of a folder (music21-compatible tokens)");
  cmd->add_option("midi-folder", args->folder, "Folder searched recursively for .mid/.midi files")->required();
  cmd->add_option("--json", args->json_path,
                  "Output JSON file {\"<relative path>\": [tokens...]} ('-': standard output)")
      ->required();
  cmd->add_option("--tokens", args->tokens, "recipe (pitch symbols) or timed (symbols with durations and shifts)")
      ->check(CLI::IsMember({"recipe", "timed"}));
  cmd->add_flag("--strict", args->strict, "Stop at the first unreadable MIDI file instead of skipping it");
  cmd->callback([args] { run_tokenize(*args); });
}

}  // namespace

static const bool registered = register_command(10, add_tokenize_command);

}  // namespace nocturne::cli
