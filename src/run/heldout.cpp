// The held-out windows of a trained model's data (trained_model.hpp).

#include <algorithm>

#include "nocturne/error.hpp"
#include "nocturne/trained_model.hpp"

namespace nocturne::inline v0 {

namespace fs = std::filesystem;

HeldoutWindows heldout_windows(const TrainedModel& trained, const fs::path& folder, std::span<const CorpusFile> files) {
  const std::vector<std::string>& vocab = trained.checkpoint.vocabulary;
  const TrainingDataInfo& info = trained.data;
  const std::int64_t window = trained.checkpoint.model.window;
  std::error_code ec;
  const bool same_folder = info.folder && fs::equivalent(folder, *info.folder, ec);
  HeldoutWindows h;
  bool rebuilt = false;
  if (same_folder) {
    DatasetOptions options;
    options.min_count = info.min_count;
    options.window = window;
    options.split = SplitMode::piece;
    options.seed = info.seed;
    options.heldout_fraction = info.heldout > 0 ? info.heldout : 0.2;
    Dataset dataset = build_dataset(files, options);
    if (dataset.vocab.symbols() == vocab) {
      rebuilt = true;
      h.tokens = std::move(dataset.tokens);
      h.starts = std::move(dataset.heldout_starts);
      for (const PieceRange& p : dataset.pieces) {
        const bool held =
            std::any_of(h.starts.begin(), h.starts.end(), [&](std::int64_t s) { return s >= p.begin && s < p.end; });
        if (held) {
          ++h.heldout_pieces;
        } else {
          h.training_pieces.emplace_back(h.tokens.begin() + p.begin, h.tokens.begin() + p.end);
          h.training_names.push_back(p.name);
        }
      }
      h.split_note =
          info.split == "piece"
              ? "the run's piece split (seed " + std::to_string(info.seed) + "): these pieces were not trained on"
              : "a piece split (seed " + std::to_string(info.seed) +
                    "); the run used the recipe's random window split, so it has seen these pieces: "
                    "the measures are optimistic";
      if (info.split != "piece") {  // every piece was in training
        h.training_pieces.clear();
        h.training_names.clear();
        for (const PieceRange& p : dataset.pieces) {
          h.training_pieces.emplace_back(h.tokens.begin() + p.begin, h.tokens.begin() + p.end);
          h.training_names.push_back(p.name);
        }
      }
    } else {
      h.warnings.push_back(
          "the folder's rebuilt vocabulary differs from the model's; evaluating every window of every piece");
    }
  }
  if (!rebuilt) {
    const MappedCorpus mapped = map_corpus(files, vocab);
    h.tokens = mapped.tokens;
    h.starts = windows_within_pieces(mapped, window);
    h.heldout_pieces = std::int64_t(mapped.pieces.size());
    for (const PieceRange& p : mapped.pieces) {
      h.training_pieces.emplace_back(h.tokens.begin() + p.begin, h.tokens.begin() + p.end);
      h.training_names.push_back(p.name);
    }
    h.split_note = "every piece of " + folder.string() + " (not the folder the model trained on)";
    if (mapped.dropped > 0) h.split_note += "; " + std::to_string(mapped.dropped) + " tokens outside the vocabulary dropped";
  }
  return h;
}

}  // namespace nocturne
