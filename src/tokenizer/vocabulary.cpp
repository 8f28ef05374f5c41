#include <algorithm>
#include <fstream>

#include "midi/atomic_write.hpp"
#include "nocturne/corpus.hpp"
#include "nocturne/error.hpp"

namespace nocturne::inline v0 {

Vocabulary::Vocabulary(std::vector<std::string> symbols) : symbols_(std::move(symbols)) {
  std::sort(symbols_.begin(), symbols_.end());
  symbols_.erase(std::unique(symbols_.begin(), symbols_.end()), symbols_.end());
}

const std::string& Vocabulary::symbol(std::int32_t index) const {
  if (index < 0 || static_cast<std::size_t>(index) >= symbols_.size())
    throw ConfigError("vocabulary index " + std::to_string(index) + " is outside 0.." +
                      std::to_string(static_cast<std::int64_t>(symbols_.size()) - 1));
  return symbols_[static_cast<std::size_t>(index)];
}

std::optional<std::int32_t> Vocabulary::find(std::string_view symbol) const {
  auto it = std::lower_bound(symbols_.begin(), symbols_.end(), symbol);
  if (it == symbols_.end() || *it != symbol) return std::nullopt;
  return static_cast<std::int32_t>(it - symbols_.begin());
}

std::int32_t Vocabulary::index(std::string_view symbol) const {
  if (auto i = find(symbol)) return *i;
  throw ConfigError("symbol '" + std::string(symbol) + "' is not in the vocabulary");
}

void Vocabulary::save(const std::filesystem::path& path) const {
  std::string text;
  for (const auto& s : symbols_) text += s + "\n";
  detail::write_file_atomically(path, text);
}

Vocabulary Vocabulary::load(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw FileError(path.string() + ": cannot open the vocabulary");
  std::vector<std::string> symbols;
  std::string line;
  for (int line_number = 1; std::getline(in, line); ++line_number) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) throw FileError(path.string() + ": line " + std::to_string(line_number) + ": empty symbol");
    if (!symbols.empty() && !(symbols.back() < line))
      throw FileError(path.string() + ": line " + std::to_string(line_number) + ": symbols are not sorted and unique");
    symbols.push_back(line);
  }
  return Vocabulary(std::move(symbols));
}

}  // namespace nocturne
