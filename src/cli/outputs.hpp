#pragma once
// Shared by generate and evaluate: a trained model loaded from a checkpoint
// (or a run folder), the corpus it was trained on rebuilt from the
// checkpoint's metadata, and the files written per generated piece.

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/device_choice.hpp"
#include "nocturne/checkpoint.hpp"
#include "nocturne/corpus.hpp"
#include "nocturne/model.hpp"

namespace nocturne::cli {

struct LoadedModel {
  std::filesystem::path path;  // the checkpoint file
  Checkpoint checkpoint;
  nlohmann::json metadata;  // parsed checkpoint metadata (an empty object when none or malformed)
  DeviceChoice device;
  std::unique_ptr<Model> model;
};

// `path` is a checkpoint, or a run folder (best.ckpt, else last.ckpt): the
// checkpoint and its metadata, no model yet.
LoadedModel open_trained(const std::filesystem::path& path);
// Chooses the device and uploads the model, sized for batches of up to
// max_batch windows (after require_model_memory; `batch_option` names the
// option that set max_batch). The device's note, if any, goes to stderr.
void place_model(LoadedModel& loaded, const DeviceRequest& device, int max_batch, const std::string& batch_option);
// open_trained, then place_model.
LoadedModel load_model(const std::filesystem::path& path, const DeviceRequest& device, int max_batch,
                       const std::string& batch_option = "--batch");

// Refuses, before allocating, a model whose buffers for batches of max_batch
// windows (with the optimizer's moments when training) exceed the device's
// memory, naming the option to lower: `batch_option` ("--batch 512") or the
// layer sizes, whichever takes more. Throws ConfigError.
void require_model_memory(const DeviceChoice& device, const ModelConfig& config, int max_batch, bool training,
                          const std::string& batch_option);

// What the metadata says about the training data (train's "settings" and "data").
struct TrainingDataInfo {
  std::optional<std::filesystem::path> folder;
  std::int64_t min_count = 100;
  std::int64_t window = 40;
  std::string split = "random";
  double heldout = 0.2;
  std::uint64_t seed = 1;
  std::vector<std::string> skipped;
};
TrainingDataInfo training_data_info(const LoadedModel& loaded);

// "nocturne: warning: <message>" on stderr (what read_corpus's warn is given by most commands).
void print_warning(const std::string& message);
// "nocturne: <message>" on stderr: what a setting was changed to, and why.
void print_note(const std::string& message);

// Every readable MIDI file of `folder`, tokenized. An unreadable file is
// skipped, reported through warn and named in *skipped (when given); with
// strict it throws FileError instead. Throws FileError for a missing or
// empty folder and when no file can be read.
std::vector<CorpusFile> read_corpus(const std::filesystem::path& folder,
                                    const std::function<void(const std::string&)>& warn, bool strict = false,
                                    std::vector<std::string>* skipped = nullptr);

// Windows as vocabulary indices of the model, over pieces kept apart.
struct MappedCorpus {
  std::vector<std::int32_t> tokens;
  std::vector<PieceRange> pieces;
  std::int64_t dropped = 0;  // occurrences of symbols outside the model's vocabulary
};
MappedCorpus map_corpus(std::span<const CorpusFile> files, std::span<const std::string> vocabulary);

// Window starts lying inside one piece.
std::vector<std::int64_t> windows_within_pieces(const MappedCorpus& corpus, std::int64_t window);

// Writes an output file named by an option, through the atomic writer's
// policy (links followed, devices and FIFOs written directly); "-" is
// standard output. Throws FileError.
void write_output_file(const std::string& option_value, std::string_view bytes);
// Whether the option's value names standard output ("-", /dev/stdout).
bool writes_to_stdout(const std::string& option_value);

// "3 s", "1:02": for progress lines.
void progress_line(const std::string& what, std::int64_t done, std::int64_t total);
void end_progress_line();

}  // namespace nocturne::cli
