#pragma once
// A trained model ready to use: the checkpoint (a file, or a run folder's
// best.ckpt, else its last.ckpt), its vocabulary and what its metadata says
// about the training data, placed on a device. And the primers generation
// starts from: a held-out window of that data, a MIDI file, or a token list.
//
// Lifetimes: a TrainedModel owns its backend and its model (the model is
// destroyed first). Threads: one TrainedModel is used by one thread at a time;
// distinct TrainedModels may be used from distinct threads (the CPU BLAS
// thread count is process-wide, device.hpp).

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "nocturne/checkpoint.hpp"
#include "nocturne/corpus.hpp"
#include "nocturne/device.hpp"
#include "nocturne/export.hpp"
#include "nocturne/model.hpp"

namespace nocturne::inline v0 {

// What a checkpoint written by a training run (training_run.hpp) says about
// its data; the defaults where the metadata is absent or from another writer.
struct NOCTURNE_API TrainingDataInfo {
  std::optional<std::filesystem::path> folder;
  std::int64_t min_count = 100;
  std::int64_t window = 40;
  std::string split = "random";
  double heldout = 0.2;
  std::uint64_t seed = 1;
  std::vector<std::string> skipped;
  TokenKind tokens = TokenKind::recipe;  // settings.tokens; checkpoints from before it: recipe
};

// A checkpoint's token stream: timed when its vocabulary holds duration or
// shift tokens, else its metadata's settings.tokens, else (checkpoints from
// before timed tokens, other writers) recipe.
NOCTURNE_API TokenKind checkpoint_token_kind(const Checkpoint& checkpoint);

struct NOCTURNE_API TrainedModel {
  std::filesystem::path path;  // the checkpoint file
  Checkpoint checkpoint;       // vocabulary, configuration, parameters, metadata text
  TrainingDataInfo data;
  DeviceChoice device;          // declared before model: destroyed after it
  std::unique_ptr<Model> model;  // null until placed

  const std::vector<std::string>& vocabulary() const { return checkpoint.vocabulary; }
};

// `path` is a checkpoint, or a run folder (best.ckpt, else last.ckpt): the
// checkpoint and its metadata, no model yet. Throws FileError.
NOCTURNE_API TrainedModel open_trained_model(const std::filesystem::path& path);
// Chooses the device and uploads the model, sized for batches of up to
// max_batch windows, after require_model_memory (`batch_option` names what
// set max_batch in its message). The device's note is in trained.device.note.
NOCTURNE_API void place_model(TrainedModel& trained, const DeviceRequest& device, std::int64_t max_batch,
                              const std::string& batch_option = "batch");
// open_trained_model, then place_model: a model ready to predict and generate.
NOCTURNE_API TrainedModel load_model(const std::filesystem::path& path, const DeviceRequest& device = {},
                                     std::int64_t max_batch = 1);

// Windows as vocabulary indices of a model, over pieces kept apart.
struct NOCTURNE_API MappedCorpus {
  std::vector<std::int32_t> tokens;
  std::vector<PieceRange> pieces;
  std::int64_t dropped = 0;  // occurrences of symbols outside the model's vocabulary
};
NOCTURNE_API MappedCorpus map_corpus(std::span<const CorpusFile> files, std::span<const std::string> vocabulary);
// Window starts lying inside one piece.
NOCTURNE_API std::vector<std::int64_t> windows_within_pieces(const MappedCorpus& corpus, std::int64_t window);

// The windows to evaluate a model on, over the MIDI files `files` read from
// `folder`. On the folder the model trained on: the held-out pieces of a
// piece split with the run's seed and held-out fraction (exactly a --split
// piece run's validation pieces; a random-split run has seen every piece,
// which split_note says). On another folder, or when the rebuilt vocabulary
// differs (said in warnings): every window inside a piece.
struct NOCTURNE_API HeldoutWindows {
  std::vector<std::int32_t> tokens;  // the pieces as vocabulary indices
  std::vector<std::int64_t> starts;  // window starts in tokens
  std::vector<std::vector<std::int32_t>> training_pieces;  // the pieces trained on (for copy detection)
  std::vector<std::string> training_names;
  std::string split_note;  // which windows these are, for people
  std::int64_t heldout_pieces = 0;
  std::vector<std::string> warnings;
};
NOCTURNE_API HeldoutWindows heldout_windows(const TrainedModel& trained, const std::filesystem::path& folder,
                                            std::span<const CorpusFile> files);

// ---- primers ------------------------------------------------------------------

struct NOCTURNE_API PrimerRequest {
  std::string primer = "heldout";  // heldout, a .mid file, or tokens:"C4 E4 0.4.7"
  std::filesystem::path data;      // the held-out pool's folder (empty: the run's)
  std::int64_t count = 1;          // outputs
  std::uint64_t seed = 1;          // which held-out windows
  CorpusReadOptions reading;       // for the held-out pool's files
};

struct NOCTURNE_API Primers {
  std::vector<std::vector<std::int32_t>> indices;  // one per output
  std::string source;                              // for people and the JSON
  std::vector<std::string> notes;                  // what was dropped or substituted, for people
};

// Held-out: a window of the training data's held-out split, rebuilt from the
// checkpoint's metadata (a random window of vocabulary symbols, said in
// notes, when the data folder is unknown or absent). Throws ConfigError /
// FileError naming the primer at fault.
NOCTURNE_API Primers make_primers(const PrimerRequest& request, const TrainedModel& trained);

}  // namespace nocturne
