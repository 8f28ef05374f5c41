// A trained model from a checkpoint or a run folder, placed on a device.

#include "nocturne/trained_model.hpp"

#include <nlohmann/json.hpp>

#include "nocturne/error.hpp"
#include "nocturne/generate.hpp"
#include "nocturne/timed_tokens.hpp"
#include "run/run_folder.hpp"

namespace nocturne::inline v0 {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

TrainingDataInfo data_info(const Checkpoint& checkpoint) {
  TrainingDataInfo info;
  info.window = checkpoint.model.window;
  json m = json::object();
  try {
    if (!checkpoint.metadata.empty()) m = json::parse(checkpoint.metadata);
    if (!m.is_object()) return info;
    if (m.contains("data")) info.folder = get_path(m["data"], "folder");
    if (m.contains("data") && m["data"].is_object() && m["data"].contains("skipped"))
      info.skipped = m["data"]["skipped"].get<std::vector<std::string>>();
    if (m.contains("settings") && m["settings"].is_object()) {
      const json& s = m["settings"];
      if (s.contains("min_count")) info.min_count = s["min_count"].get<std::int64_t>();
      if (s.contains("split")) info.split = s["split"].get<std::string>();
      if (s.contains("heldout")) info.heldout = s["heldout"].get<double>();
      if (s.contains("seed")) info.seed = s["seed"].get<std::uint64_t>();
    }
  } catch (const json::exception&) {
    // Metadata from another writer: keep the defaults.
  } catch (const FileError&) {
    // A malformed escaped path: as if none were named.
  }
  info.tokens = checkpoint_token_kind(checkpoint);
  return info;
}

}  // namespace

TokenKind checkpoint_token_kind(const Checkpoint& checkpoint) {
  // Durations and shifts in the vocabulary make a timed model whatever the metadata says.
  for (const std::string& symbol : checkpoint.vocabulary)
    if (timed_component(symbol) != TimedComponent::symbol) return TokenKind::timed;
  try {
    const json m = json::parse(checkpoint.metadata);
    if (m.is_object() && m.contains("settings") && m["settings"].is_object() && m["settings"].contains("tokens"))
      return parse_token_kind(m["settings"]["tokens"].get<std::string>());
  } catch (const json::exception&) {
    // Metadata from another writer: the recipe's.
  } catch (const ConfigError&) {
    // An unknown kind, from a later writer: its vocabulary holds symbols only.
  }
  return TokenKind::recipe;
}

TrainedModel open_trained_model(const fs::path& path) {
  TrainedModel trained;
  std::error_code ec;
  trained.path = path;
  if (fs::is_directory(path, ec)) {
    trained.path = fs::exists(path / "best.ckpt", ec) ? path / "best.ckpt" : path / "last.ckpt";
    if (!fs::exists(trained.path, ec))
      throw FileError(path.string() + ": a folder without best.ckpt or last.ckpt (is it a run folder?)");
  } else if (!fs::exists(path, ec)) {
    throw FileError(path.string() + ": no such checkpoint");
  }
  trained.checkpoint = load_checkpoint(trained.path);
  trained.data = data_info(trained.checkpoint);
  return trained;
}

void place_model(TrainedModel& trained, const DeviceRequest& device, std::int64_t max_batch,
                 const std::string& batch_option) {
  trained.model.reset();  // before the backend it was made on
  trained.device = choose_device(device);
  require_model_memory(trained.device, trained.checkpoint.model, max_batch, false, batch_option);
  trained.model = std::make_unique<Model>(*trained.device.backend, trained.checkpoint.model, max_batch);
  trained.model->upload_parameters(trained.checkpoint.parameters);
}

TrainedModel load_model(const fs::path& path, const DeviceRequest& device, std::int64_t max_batch) {
  TrainedModel trained = open_trained_model(path);
  place_model(trained, device, max_batch, "max_batch " + std::to_string(max_batch));
  return trained;
}

MappedCorpus map_corpus(std::span<const CorpusFile> files, std::span<const std::string> vocabulary) {
  MappedCorpus corpus;
  for (const CorpusFile& file : files) {
    const MappedTokens mapped = map_to_vocabulary(file.tokens, vocabulary);
    PieceRange range{file.name, std::int64_t(corpus.tokens.size()), 0};
    corpus.tokens.insert(corpus.tokens.end(), mapped.indices.begin(), mapped.indices.end());
    range.end = std::int64_t(corpus.tokens.size());
    corpus.pieces.push_back(range);
    corpus.dropped += mapped.dropped;
  }
  return corpus;
}

std::vector<std::int64_t> windows_within_pieces(const MappedCorpus& corpus, std::int64_t window) {
  std::vector<std::int64_t> starts;
  for (const PieceRange& p : corpus.pieces)
    for (std::int64_t s = p.begin; s + window < p.end; ++s) starts.push_back(s);
  return starts;
}

}  // namespace nocturne
