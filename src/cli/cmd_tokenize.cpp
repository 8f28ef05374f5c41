// nocturne tokenize <midi-folder> --json <out.json>: the unfiltered tokens of
// every MIDI file, keyed by its path relative to the folder.

#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/commands.hpp"
#include "cli/outputs.hpp"
#include "midi/atomic_write.hpp"
#include "nocturne/corpus.hpp"

namespace nocturne::cli {

namespace {
struct TokenizeArgs {
  std::string folder;
  std::string json_path;
  bool strict = false;
};

void run_tokenize(const TokenizeArgs& args) {
  // Unreadable files are skipped with a warning, as train skips them (--strict: stop).
  const auto corpus = read_corpus(args.folder, print_warning, args.strict, nullptr);
  nlohmann::ordered_json out = nlohmann::ordered_json::object();
  std::size_t total = 0;
  for (const auto& file : corpus) {
    out[file.name] = file.tokens;
    total += file.tokens.size();
  }
  detail::write_file_atomically(args.json_path, out.dump(1) + "\n");
  std::printf("%zu files, %zu tokens -> %s\n", corpus.size(), total, args.json_path.c_str());
}
void add_tokenize_command(CLI::App& app) {
  auto args = std::make_shared<TokenizeArgs>();
  CLI::App* cmd = app.add_subcommand("tokenize", "Tokenize every MIDI file of a folder (music21-compatible tokens)");
  cmd->add_option("midi-folder", args->folder, "Folder searched recursively for .mid/.midi files")->required();
  cmd->add_option("--json", args->json_path, "Output JSON file {\"<relative path>\": [tokens...]}")->required();
  cmd->add_flag("--strict", args->strict, "Stop at the first unreadable MIDI file instead of skipping it");
  cmd->callback([args] { run_tokenize(*args); });
}

}  // namespace

static const bool registered = register_command(10, add_tokenize_command);

}  // namespace nocturne::cli
