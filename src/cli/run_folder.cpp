#include "cli/run_folder.hpp"

#include <cstdio>
#include <fstream>
#include <sstream>
#include <system_error>

#include "midi/atomic_write.hpp"
#include "nocturne/error.hpp"

namespace nocturne::cli {

namespace {

std::string number(double value) {
  char text[40];
  std::snprintf(text, sizeof(text), "%.9g", value);
  return text;
}

std::string optional_number(const std::optional<double>& value) { return value ? number(*value) : std::string(); }

nlohmann::json optional_json(const std::optional<double>& value) {
  return value ? nlohmann::json(*value) : nlohmann::json(nullptr);
}

std::optional<double> optional_from(const nlohmann::json& j, const char* key) {
  if (!j.contains(key) || j.at(key).is_null()) return std::nullopt;
  return j.at(key).get<double>();
}

// A temporary file left behind by a write that a kill interrupted: ".name.tmp-...".
bool is_leftover_temporary(const std::filesystem::path& p) {
  const std::string name = p.filename().string();
  return name.size() > 1 && name[0] == '.' && name.find(".tmp-") != std::string::npos;
}

}  // namespace

nlohmann::json to_json(const HistoryRow& row) {
  return {{"epoch", row.epoch},
          {"loss", row.loss},
          {"accuracy", row.accuracy},
          {"val_loss", optional_json(row.val_loss)},
          {"val_accuracy", optional_json(row.val_accuracy)},
          {"val_perplexity", optional_json(row.val_perplexity)},
          {"seconds", row.seconds},
          {"windows_per_second", row.windows_per_second}};
}

HistoryRow history_row_from_json(const nlohmann::json& j) {
  HistoryRow row;
  row.epoch = j.at("epoch").get<int>();
  row.loss = j.at("loss").get<double>();
  row.accuracy = j.at("accuracy").get<double>();
  row.val_loss = optional_from(j, "val_loss");
  row.val_accuracy = optional_from(j, "val_accuracy");
  row.val_perplexity = optional_from(j, "val_perplexity");
  row.seconds = j.at("seconds").get<double>();
  row.windows_per_second = j.at("windows_per_second").get<double>();
  return row;
}

std::string history_csv(std::span<const HistoryRow> rows) {
  std::string text = std::string(kHistoryHeader) + "\n";
  for (const HistoryRow& r : rows)
    text += std::to_string(r.epoch) + "," + number(r.loss) + "," + number(r.accuracy) + "," +
            optional_number(r.val_loss) + "," + optional_number(r.val_accuracy) + "," +
            optional_number(r.val_perplexity) + "," + number(r.seconds) + "," + number(r.windows_per_second) + "\n";
  return text;
}

void RunFolder::create_fresh() const {
  std::error_code ec;
  if (std::filesystem::exists(root_ / "last.ckpt", ec))
    throw FileError(root_.string() + ": already holds a training run; continue it with --resume " + root_.string() +
                    " or choose another --out");
  if (std::filesystem::exists(root_, ec) && !std::filesystem::is_directory(root_, ec))
    throw FileError(root_.string() + ": exists and is not a folder");
  std::filesystem::create_directories(root_, ec);
  if (ec) throw FileError(root_.string() + ": cannot create the run folder: " + ec.message());
  // Try a write now rather than after the corpus is loaded.
  const std::filesystem::path probe = root_ / ".nocturne-write-test";
  {
    std::ofstream out(probe, std::ios::binary | std::ios::trunc);
    if (!out || !(out << "ok") || !out.flush())
      throw FileError(root_.string() + ": the run folder is not writable");
  }
  std::filesystem::remove(probe, ec);
}

void RunFolder::open_existing() const {
  std::error_code ec;
  if (!std::filesystem::is_directory(root_, ec)) throw FileError(root_.string() + ": no such run folder");
  if (!std::filesystem::exists(last(), ec))
    throw FileError(root_.string() + ": no last.ckpt here, so nothing to resume (start a run with --data)");
  for (const auto& entry : std::filesystem::directory_iterator(root_, ec))
    if (entry.is_regular_file() && is_leftover_temporary(entry.path())) std::filesystem::remove(entry.path(), ec);
}

void RunFolder::write_text(const std::filesystem::path& path, const std::string& text) const {
  detail::write_file_atomically(path, text);
}

void RunFolder::write_json(const std::filesystem::path& path, const nlohmann::json& j) const {
  write_text(path, j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
}

void RunFolder::write_history(std::span<const HistoryRow> rows) const { write_text(history(), history_csv(rows)); }

nlohmann::json read_json(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw FileError(path.string() + ": cannot open for reading");
  std::stringstream text;
  text << in.rdbuf();
  try {
    return nlohmann::json::parse(text.str());
  } catch (const nlohmann::json::exception& e) {
    throw FileError(path.string() + ": malformed JSON: " + e.what());
  }
}

}  // namespace nocturne::cli
