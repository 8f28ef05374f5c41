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
//   .nocturne-run     the marker that says the folder is a run of ours
// Every file is replaced atomically (temporary file + rename).
//
// A fresh run uses a folder only when it is new, empty, or marked as a run
// that never saved a checkpoint: a user's folder (the data folder, say) is
// never written into.

#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "nocturne/training_run.hpp"

namespace nocturne::inline v0 {

nlohmann::json to_json(const HistoryRow& row);
HistoryRow history_row_from_json(const nlohmann::json& j);

inline constexpr const char* kHistoryHeader =
    "epoch,loss,accuracy,val_loss,val_accuracy,val_perplexity,seconds,windows_per_second,lr";

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
  std::filesystem::path marker() const { return root_ / kRunMarker; }

  static constexpr const char* kRunMarker = ".nocturne-run";

  // Creates the folder for a new run, or takes an existing one that is empty
  // or marked as ours without a checkpoint, and writes the marker (which also
  // checks that files can be written there). Throws FileError when it holds a
  // run already (use --resume), holds other files, or is not writable;
  // nothing is written then.
  void create_fresh(const std::string& run_id) const;
  // Checks that the folder holds a run to resume and removes temporary files
  // an interrupted write left behind. Throws FileError.
  void open_existing() const;
  // Writes the marker where it is missing (a run from before markers).
  void mark(const std::string& run_id) const;

  void write_text(const std::filesystem::path& path, const std::string& text) const;
  void write_json(const std::filesystem::path& path, const nlohmann::json& j) const;
  void write_history(std::span<const HistoryRow> rows) const;

 private:
  std::filesystem::path root_;
};

// A new run's identity, stored in the metadata of its checkpoints ("run_id"):
// 128 random bits in hex.
std::string new_run_id();

// Paths in JSON metadata, losslessly: "<key>" holds the path for reading (its
// bytes when they are UTF-8) and "<key>_bytes" its exact bytes, percent-escaped
// (escape_bytes), which readers prefer; metadata from before "<key>_bytes" has
// only "<key>".
void put_path(nlohmann::json& object, const std::string& key, const std::filesystem::path& path);
std::optional<std::filesystem::path> get_path(const nlohmann::json& object, const std::string& key);

// Reads a JSON file; throws FileError naming it when unreadable or malformed.
nlohmann::json read_json(const std::filesystem::path& path);


}  // namespace nocturne
