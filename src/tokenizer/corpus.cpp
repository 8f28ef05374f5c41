// A folder of MIDI files -> token lists, files in sorted order.

#include <algorithm>

#include "nocturne/corpus.hpp"
#include "nocturne/error.hpp"
#include "nocturne/timed_tokens.hpp"
#include "tokenizer/corpus_internal.hpp"

namespace nocturne::inline v0 {

namespace {
bool is_midi_name(const std::filesystem::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext == ".mid" || ext == ".midi";
}
}  // namespace

std::vector<std::filesystem::path> find_midi_files(const std::filesystem::path& folder) {
  std::error_code ec;
  if (!std::filesystem::is_directory(folder, ec)) throw FileError(folder.string() + ": not a folder");
  std::vector<std::filesystem::path> files;
  for (auto it = std::filesystem::recursive_directory_iterator(folder, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file(ec) && is_midi_name(it->path())) files.push_back(it->path());
  }
  if (ec) throw FileError(folder.string() + ": cannot list the folder: " + ec.message());
  std::sort(files.begin(), files.end(), [&](const auto& a, const auto& b) {
    return a.lexically_relative(folder).generic_string() < b.lexically_relative(folder).generic_string();
  });
  return files;
}

namespace {

// Tokenizes `paths`; names[k] is how file k is called in `skipped` and messages.
Corpus read_files(std::span<const std::filesystem::path> paths, std::span<const std::string> names,
                  const CorpusReadOptions& options) {
  Corpus corpus;
  for (std::size_t k = 0; k < paths.size(); ++k) {
    try {
      corpus.files.push_back({names[k], options.tokens == TokenKind::timed
                                            ? tokenize_timed_file(paths[k], options.tokenizer)
                                            : tokenize_file(paths[k], options.tokenizer)});
    } catch (const Error& e) {
      if (options.on_bad_file == BadFilePolicy::stop) throw;
      if (options.on_skip) options.on_skip(names[k], e);
      corpus.skipped.push_back(names[k]);
    }
  }
  return corpus;
}

}  // namespace

Corpus read_corpus(const std::filesystem::path& folder, const CorpusReadOptions& options) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::exists(folder, ec)) throw FileError(folder.string() + ": no such data folder");
  if (!fs::is_directory(folder, ec)) throw FileError(folder.string() + ": the data path is not a folder");
  const std::vector<fs::path> paths = find_midi_files(folder);
  if (paths.empty()) {
    const bool empty = fs::directory_iterator(folder, ec) == fs::directory_iterator();
    throw FileError(folder.string() + ": no MIDI files (.mid or .midi) in the data folder" +
                    (empty ? " (it is empty)" : ""));
  }
  std::vector<std::string> names;
  for (const fs::path& path : paths) names.push_back(path.lexically_relative(folder).generic_string());
  Corpus corpus = read_files(paths, names, options);
  if (corpus.files.empty())
    throw FileError(folder.string() + ": none of its " + std::to_string(paths.size()) + " MIDI files could be read");
  return corpus;
}

Corpus read_corpus(std::span<const std::filesystem::path> files, const CorpusReadOptions& options) {
  if (files.empty()) throw FileError("read_corpus: the list of MIDI files is empty");
  std::vector<std::string> names;
  for (const auto& path : files) names.push_back(path.generic_string());
  Corpus corpus = read_files(files, names, options);
  if (corpus.files.empty())
    throw FileError("none of the " + std::to_string(files.size()) + " MIDI files given could be read");
  return corpus;
}

std::vector<CorpusFile> load_corpus(const std::filesystem::path& folder, const TokenizerOptions& options) {
  CorpusReadOptions read;
  read.tokenizer = options;
  read.on_bad_file = BadFilePolicy::stop;
  return read_corpus(folder, read).files;
}

std::map<std::string, std::int64_t> count_symbols(std::span<const std::string> tokens) {
  std::map<std::string, std::int64_t> counts;
  for (const auto& t : tokens) ++counts[t];
  return counts;
}

std::vector<std::string> filter_rare(std::span<const std::string> tokens, std::int64_t min_count) {
  const auto counts = count_symbols(tokens);
  std::vector<std::string> kept;
  for (const auto& t : tokens)
    if (counts.at(t) >= min_count) kept.push_back(t);
  return kept;
}

std::vector<std::string> filter_rare_recipe_partial(std::span<const std::string> tokens, std::int64_t min_count) {
  const auto counts = count_symbols(tokens);
  // Work on small integer ids: the loop is quadratic in the worst case.
  std::map<std::string_view, int> ids;
  std::vector<std::string_view> names;
  std::vector<int> list;
  std::vector<bool> rare;
  for (const auto& t : tokens) {
    auto [it, added] = ids.emplace(t, static_cast<int>(names.size()));
    if (added) {
      names.push_back(t);
      rare.push_back(counts.at(t) < min_count);
    }
    list.push_back(it->second);
  }
  // Python: `for element in list: if rare: list.remove(element)`. remove() drops
  // the first occurrence; the iterator's index then moves past the element
  // that slid into the current slot.
  for (std::size_t i = 0; i < list.size(); ++i) {
    if (!rare[static_cast<std::size_t>(list[i])]) continue;
    list.erase(std::find(list.begin(), list.end(), list[i]));
  }
  std::vector<std::string> kept;
  kept.reserve(list.size());
  for (int id : list) kept.emplace_back(names[static_cast<std::size_t>(id)]);
  return kept;
}

}  // namespace nocturne
