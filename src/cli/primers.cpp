// Primers for generation: a held-out window of the training data, a MIDI
// file, or a token list, as vocabulary indices of the model.

#include "cli/primers.hpp"

#include <cstdio>
#include <optional>

#include "nocturne/error.hpp"
#include "nocturne/generate.hpp"
#include "nocturne/rng.hpp"
#include "nocturne/tokenizer.hpp"

namespace nocturne::cli {

namespace {

namespace fs = std::filesystem;

// Draws of the held-out primer choice (apart from the sampling streams).
constexpr std::uint32_t kPrimerStream = rng_stream::split + 0x800;

Primers heldout_primers(const PrimerRequest& a, const LoadedModel& loaded) {
  const TrainingDataInfo info = training_data_info(loaded);
  const std::vector<std::string>& vocab = loaded.checkpoint.vocabulary;
  const std::int64_t window = loaded.checkpoint.model.window;
  std::optional<fs::path> folder;
  std::error_code ec;
  if (!a.data.empty()) {
    folder = fs::path(a.data);
  } else if (info.folder && fs::is_directory(*info.folder, ec)) {
    folder = info.folder;
  }
  Primers p;
  if (!folder) {
    const std::string which = info.folder ? info.folder->string() + " is absent" : "is unknown";
    std::printf("primer: the training data folder %s (give --data <midi-folder>); "
                "using a random window of vocabulary symbols\n",
                which.c_str());
    for (int k = 0; k < a.count; ++k) {
      std::vector<std::int32_t> w;
      for (std::int64_t t = 0; t < window; ++t)
        w.push_back(std::int32_t(random_below(vocab.size(), a.seed, kPrimerStream + 1, std::uint64_t(k * window + t))));
      p.indices.push_back(std::move(w));
    }
    p.source = "random vocabulary window";
    return p;
  }
  const std::vector<CorpusFile> files = read_corpus(*folder, print_warning);
  DatasetOptions options;
  options.min_count = info.min_count;
  options.window = window;
  options.split = info.split == "piece" ? SplitMode::piece : SplitMode::random;
  options.seed = info.seed;
  options.heldout_fraction = info.heldout > 0 ? info.heldout : 0.2;
  const Dataset dataset = build_dataset(files, options);
  const std::vector<std::int64_t>& pool = dataset.heldout_starts.empty() ? dataset.train_starts : dataset.heldout_starts;
  if (pool.empty()) throw ConfigError(folder->string() + ": no windows of " + std::to_string(window) + " tokens");
  for (int k = 0; k < a.count; ++k) {
    const std::int64_t start = pool[random_below(pool.size(), a.seed, kPrimerStream, std::uint64_t(k))];
    std::vector<std::string> symbols;
    for (std::int32_t t : dataset.input(start)) symbols.push_back(dataset.vocab.symbol(t));
    const MappedTokens mapped = map_to_vocabulary(symbols, vocab);
    if (mapped.indices.empty()) throw ConfigError(folder->string() + ": its symbols are not in the model's vocabulary");
    p.indices.push_back(mapped.indices);
  }
  p.source = "held-out window of " + folder->string() + " (" + info.split + " split, seed " +
             std::to_string(info.seed) + ")";
  return p;
}

}  // namespace

Primers make_primers(const PrimerRequest& a, const LoadedModel& loaded) {
  const std::vector<std::string>& vocab = loaded.checkpoint.vocabulary;
  if (a.primer == "heldout") return heldout_primers(a, loaded);
  Primers p;
  if (a.primer.rfind("tokens:", 0) == 0) {
    const std::vector<std::string> symbols = split_token_list(a.primer.substr(7));
    const MappedTokens mapped = map_to_vocabulary(symbols, vocab);
    if (!mapped.dropped_kinds.empty())
      throw ConfigError("--primer: symbol '" + mapped.dropped_kinds.front() + "' is not in the model's vocabulary of " +
                        std::to_string(vocab.size()) + " symbols");
    if (mapped.indices.empty()) throw ConfigError("--primer tokens: the list is empty");
    p.indices.assign(std::size_t(a.count), mapped.indices);
    p.source = "tokens";
    return p;
  }
  const fs::path file(a.primer);
  std::error_code ec;
  if (!fs::is_regular_file(file, ec))
    throw FileError(a.primer + ": no such primer file (give heldout, a .mid file or tokens:\"C4 E4 0.4.7\")");
  const std::vector<std::string> symbols = tokenize_file(file);
  const MappedTokens mapped = map_to_vocabulary(symbols, vocab);
  if (mapped.dropped > 0) {
    std::string kinds;
    for (std::size_t i = 0; i < mapped.dropped_kinds.size() && i < 5; ++i) kinds += (i ? ", " : "") + mapped.dropped_kinds[i];
    std::printf("primer: dropped %lld of %zu tokens not in the model's vocabulary (%s%s)\n",
                static_cast<long long>(mapped.dropped), symbols.size(), kinds.c_str(),
                mapped.dropped_kinds.size() > 5 ? ", ..." : "");
  }
  if (mapped.indices.empty()) throw ConfigError(a.primer + ": none of its tokens is in the model's vocabulary");
  p.indices.assign(std::size_t(a.count), mapped.indices);
  p.source = "MIDI file " + a.primer;
  return p;
}

}  // namespace nocturne::cli
