// A folder of MIDI files -> token lists, files in sorted order.

#include <algorithm>

#include "nocturne/corpus.hpp"
#include "nocturne/error.hpp"

namespace nocturne {

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

std::vector<CorpusFile> load_corpus(const std::filesystem::path& folder, const TokenizerOptions& options) {
  std::vector<CorpusFile> corpus;
  for (const auto& path : find_midi_files(folder))
    corpus.push_back({path.lexically_relative(folder).generic_string(), tokenize_file(path, options)});
  return corpus;
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
