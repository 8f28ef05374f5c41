#include "run/run_folder.hpp"

#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>
#include <system_error>

#include "midi/atomic_write.hpp"
#include "nocturne/byte_text.hpp"
#include "nocturne/error.hpp"

namespace nocturne::inline v0 {

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
          {"windows_per_second", row.windows_per_second},
          {"lr", optional_json(row.lr)}};
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
  row.lr = optional_from(j, "lr");
  return row;
}

std::string history_csv(std::span<const HistoryRow> rows) {
  std::string text = std::string(kHistoryHeader) + "\n";
  for (const HistoryRow& r : rows)
    text += std::to_string(r.epoch) + "," + number(r.loss) + "," + number(r.accuracy) + "," +
            optional_number(r.val_loss) + "," + optional_number(r.val_accuracy) + "," +
            optional_number(r.val_perplexity) + "," + number(r.seconds) + "," + number(r.windows_per_second) + "," +
            optional_number(r.lr) + "\n";
  return text;
}

namespace {

bool is_empty_folder(const std::filesystem::path& folder) {
  std::error_code ec;
  return std::filesystem::directory_iterator(folder, ec) == std::filesystem::directory_iterator() && !ec;
}

std::string marker_text(const std::string& run_id) {
  return nlohmann::json{{"nocturne", "run folder"}, {"run_id", run_id}}.dump() + "\n";
}

}  // namespace

void RunFolder::create_fresh(const std::string& run_id) const {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::exists(last(), ec))
    throw FileError(root_.string() + ": already holds a training run; continue it with --resume " + root_.string() +
                    " or choose another --out");
  if (fs::exists(root_, ec) && !fs::is_directory(root_, ec))
    throw FileError(root_.string() + ": exists and is not a folder");
  if (fs::is_directory(root_, ec)) {
    // Files of the user's (the data folder, say) are never overwritten.
    if (!fs::exists(marker(), ec) && !is_empty_folder(root_))
      throw FileError(root_.string() + ": the folder exists, is not empty and is not a nocturne run folder (no " +
                      kRunMarker + " marker); choose a new or empty folder for --out");
  } else {
    fs::create_directories(root_, ec);
    if (ec) throw FileError(root_.string() + ": cannot create the run folder: " + ec.message());
  }
  // The marker is the first file: written now, it also checks that the folder
  // is writable before the corpus is loaded.
  try {
    detail::write_file_atomically(marker(), marker_text(run_id));
  } catch (const FileError& e) {
    throw FileError(root_.string() + ": the run folder is not writable (" + e.what() + ")");
  }
}

void RunFolder::open_existing() const {
  std::error_code ec;
  if (!std::filesystem::is_directory(root_, ec)) throw FileError(root_.string() + ": no such run folder");
  if (!std::filesystem::exists(last(), ec))
    throw FileError(root_.string() + ": no last.ckpt here, so nothing to resume (start a run with --data)");
  for (const auto& entry : std::filesystem::directory_iterator(root_, ec))
    if (entry.is_regular_file() && is_leftover_temporary(entry.path())) std::filesystem::remove(entry.path(), ec);
}

void RunFolder::mark(const std::string& run_id) const {
  std::error_code ec;
  if (!std::filesystem::exists(marker(), ec)) write_text(marker(), marker_text(run_id));
}

std::filesystem::path run_folder_to_resume(const std::filesystem::path& given) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::exists(given, ec) || fs::is_directory(given, ec)) return given;
  const fs::path folder = given.has_parent_path() ? given.parent_path() : fs::path(".");
  if (given.filename() == "last.ckpt") return folder;
  throw FileError(given.string() + ": --resume takes the run folder (the one holding last.ckpt, here " +
                  folder.string() + "), not a file");
}

std::string new_run_id() {
  std::random_device device;
  std::string id;
  char part[9];
  for (int i = 0; i < 4; ++i) {
    std::snprintf(part, sizeof part, "%08x", static_cast<unsigned>(device()));
    id += part;
  }
  return id;
}

void put_path(nlohmann::json& object, const std::string& key, const std::filesystem::path& path) {
  const std::string& bytes = path.native();
  object[key] = is_valid_utf8(bytes) ? bytes : display_text(bytes);
  object[key + "_bytes"] = escape_bytes(bytes);
}

std::optional<std::filesystem::path> get_path(const nlohmann::json& object, const std::string& key) {
  if (!object.is_object()) return std::nullopt;
  if (const auto it = object.find(key + "_bytes"); it != object.end() && it->is_string()) {
    try {
      return std::filesystem::path(unescape_bytes(it->get<std::string>()));
    } catch (const ConfigError& e) {
      throw FileError("metadata: " + key + "_bytes: " + e.what());
    }
  }
  if (const auto it = object.find(key); it != object.end() && it->is_string())
    return std::filesystem::path(it->get<std::string>());
  return std::nullopt;
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

}  // namespace nocturne
