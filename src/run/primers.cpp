// Primers for generation (trained_model.hpp): a held-out window of the training data, a MIDI
// file, or a token list, as vocabulary indices of the model.


#include <optional>
#include <string>
#include <vector>

#include "nocturne/error.hpp"
#include "nocturne/generate.hpp"
#include "nocturne/rng.hpp"
#include "nocturne/timed_tokens.hpp"
#include "nocturne/tokenizer.hpp"
#include "nocturne/trained_model.hpp"
#include "core/rng_streams.hpp"

namespace nocturne::inline v0 {

namespace {

namespace fs = std::filesystem;

// Draws of the held-out primer choice (apart from the sampling streams).
constexpr std::uint32_t kPrimerStream = rng_stream::split + 0x800;

Primers heldout_primers(const PrimerRequest& a, const TrainedModel& loaded) {
  const TrainingDataInfo& info = loaded.data;
  const std::vector<std::string>& vocab = loaded.checkpoint.vocabulary;
  const std::int64_t window = loaded.checkpoint.model.window;
  std::optional<fs::path> folder;
  std::error_code ec;
  if (!a.data.empty()) {
    folder = a.data;
  } else if (info.folder && fs::is_directory(*info.folder, ec)) {
    folder = info.folder;
  }
  Primers p;
  if (!folder) {
    const std::string which = info.folder ? info.folder->string() + " is absent" : "is unknown";
    p.notes.push_back("the training data folder " + which +
                      " (give --data <midi-folder>); using a random window of vocabulary symbols");
    for (std::int64_t k = 0; k < a.count; ++k) {
      std::vector<std::int32_t> w;
      for (std::int64_t t = 0; t < window; ++t)
        w.push_back(std::int32_t(random_below(vocab.size(), a.seed, kPrimerStream + 1, std::uint64_t(k * window + t))));
      p.indices.push_back(std::move(w));
    }
    p.source = "random vocabulary window";
    return p;
  }
  CorpusReadOptions reading = a.reading;
  reading.tokens = info.tokens;  // the model's stream
  const std::vector<CorpusFile> files = read_corpus(*folder, reading).files;
  DatasetOptions options;
  options.min_count = info.min_count;
  options.window = window;
  options.split = info.split == "piece" ? SplitMode::piece : SplitMode::random;
  options.seed = info.seed;
  options.heldout_fraction = info.heldout > 0 ? info.heldout : 0.2;
  const Dataset dataset = build_dataset(files, options);
  const std::vector<std::int64_t>& pool = dataset.heldout_starts.empty() ? dataset.train_starts : dataset.heldout_starts;
  if (pool.empty()) throw ConfigError(folder->string() + ": no windows of " + std::to_string(window) + " tokens");
  for (std::int64_t k = 0; k < a.count; ++k) {
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

Primers make_primers(const PrimerRequest& a, const TrainedModel& loaded) {
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
  const std::vector<std::string> symbols =
      loaded.data.tokens == TokenKind::timed ? tokenize_timed_file(file) : tokenize_file(file);
  const MappedTokens mapped = map_to_vocabulary(symbols, vocab);
  if (mapped.dropped > 0) {
    std::string kinds;
    for (std::size_t i = 0; i < mapped.dropped_kinds.size() && i < 5; ++i) kinds += (i ? ", " : "") + mapped.dropped_kinds[i];
    p.notes.push_back("dropped " + std::to_string(mapped.dropped) + " of " + std::to_string(symbols.size()) +
                      " tokens not in the model's vocabulary (" + kinds +
                      (mapped.dropped_kinds.size() > 5 ? ", ..." : "") + ")");
  }
  if (mapped.indices.empty()) throw ConfigError(a.primer + ": none of its tokens is in the model's vocabulary");
  p.indices.assign(std::size_t(a.count), mapped.indices);
  p.source = "MIDI file " + a.primer;
  return p;
}

}  // namespace nocturne
