#pragma once
// A training run's folder:
//   config.json       the settings, the data and the corpus statistics
//   vocabulary.txt    one symbol a line, in index order
//   history.csv       one row per completed epoch
//   loss.png          the loss curves
//   last.ckpt         the latest completed epoch (epoch 0 = the initial model)
//   best.ckpt         the epoch with the lowest validation loss (training loss
//                     when there is no held-out set)
//   demo-corpus/      the generated MIDI files, for `--data demo`
// Every file is replaced atomically (temporary file + rename).

#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace nocturne::cli {

struct HistoryRow {
  int epoch = 0;
  double loss = 0, accuracy = 0;
  std::optional<double> val_loss, val_accuracy, val_perplexity;
  double seconds = 0, windows_per_second = 0;
};

nlohmann::json to_json(const HistoryRow& row);
HistoryRow history_row_from_json(const nlohmann::json& j);

inline constexpr const char* kHistoryHeader =
    "epoch,loss,accuracy,val_loss,val_accuracy,val_perplexity,seconds,windows_per_second";

class RunFolder {
 public:
  explicit RunFolder(std::filesystem::path root) : root_(std::move(root)) {}

  const std::filesystem::path& root() const { return root_; }
  std::filesystem::path config() const { return root_ / "config.json"; }
  std::filesystem::path vocabulary() const { return root_ / "vocabulary.txt"; }
  std::filesystem::path history() const { return root_ / "history.csv"; }
  std::filesystem::path loss_plot() const { return root_ / "loss.png"; }
  std::filesystem::path last() const { return root_ / "last.ckpt"; }
  std::filesystem::path best() const { return root_ / "best.ckpt"; }
  std::filesystem::path demo_corpus() const { return root_ / "demo-corpus"; }

  // Creates the folder for a new run and checks that files can be written
  // there. Throws FileError when it already holds a run (use --resume) or is
  // not writable.
  void create_fresh() const;
  // Checks that the folder holds a run to resume and removes temporary files
  // an interrupted write left behind. Throws FileError.
  void open_existing() const;

  void write_text(const std::filesystem::path& path, const std::string& text) const;
  void write_json(const std::filesystem::path& path, const nlohmann::json& j) const;
  void write_history(std::span<const HistoryRow> rows) const;

 private:
  std::filesystem::path root_;
};

// Reads a JSON file; throws FileError naming it when unreadable or malformed.
nlohmann::json read_json(const std::filesystem::path& path);

// The CSV text of history rows (header included); empty cells where a value is absent.
std::string history_csv(std::span<const HistoryRow> rows);

}  // namespace nocturne::cli
