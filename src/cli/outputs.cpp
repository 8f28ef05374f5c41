#include "cli/outputs.hpp"

#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>

#include "cli/run_folder.hpp"
#include "midi/atomic_write.hpp"
#include "nocturne/error.hpp"
#include "nocturne/generate.hpp"
#include "nocturne/machine.hpp"
#include "nocturne/tokenizer.hpp"

namespace nocturne::cli {

namespace fs = std::filesystem;
using nlohmann::json;

LoadedModel open_trained(const fs::path& path) {
  LoadedModel loaded;
  std::error_code ec;
  loaded.path = path;
  if (fs::is_directory(path, ec)) {
    loaded.path = fs::exists(path / "best.ckpt", ec) ? path / "best.ckpt" : path / "last.ckpt";
    if (!fs::exists(loaded.path, ec))
      throw FileError(path.string() + ": a folder without best.ckpt or last.ckpt (is it a run folder?)");
  } else if (!fs::exists(path, ec)) {
    throw FileError(path.string() + ": no such checkpoint");
  }
  loaded.checkpoint = load_checkpoint(loaded.path);
  loaded.metadata = json::object();
  if (!loaded.checkpoint.metadata.empty()) {
    try {
      loaded.metadata = json::parse(loaded.checkpoint.metadata);
    } catch (const json::exception&) {
      loaded.metadata = json::object();
    }
  }
  return loaded;
}

void place_model(LoadedModel& loaded, const DeviceRequest& device, int max_batch, const std::string& batch_option) {
  loaded.device = choose_device(device);
  if (!loaded.device.note.empty()) print_note(loaded.device.note);
  require_model_memory(loaded.device, loaded.checkpoint.model, max_batch, false, batch_option);
  loaded.model = std::make_unique<Model>(*loaded.device.backend, loaded.checkpoint.model, max_batch);
  loaded.model->upload_parameters(loaded.checkpoint.parameters);
}

LoadedModel load_model(const fs::path& path, const DeviceRequest& device, int max_batch,
                       const std::string& batch_option) {
  LoadedModel loaded = open_trained(path);
  place_model(loaded, device, max_batch, batch_option);
  return loaded;
}

void require_model_memory(const DeviceChoice& device, const ModelConfig& config, int max_batch, bool training,
                          const std::string& batch_option) {
  // Adamax's two moments are as large as the parameters. (memory_bytes saturates: so does the sum.)
  const std::uint64_t moments = training ? 2 * ParameterLayout(config).buffer_size() * sizeof(float) : 0;
  auto plus = [](std::uint64_t a, std::uint64_t b) { return a > UINT64_MAX - b ? UINT64_MAX : a + b; };
  const std::uint64_t fixed = plus(Model::memory_bytes(config, 1), moments);
  const std::uint64_t needed = plus(Model::memory_bytes(config, max_batch), moments);
  const bool sizes_dominate = fixed >= needed - fixed;
  const std::string what = "the model (" + std::to_string(ParameterLayout(config).parameter_count()) +
                           " parameters) with batches of " + std::to_string(max_batch) + " windows (" +
                           batch_option + ")";
  const std::string advice = sizes_dominate ? "lower the layer sizes (--hidden1, --hidden2, --dense, --window)"
                                            : "lower " + batch_option.substr(0, batch_option.find(' '));
  require_memory(needed, device_memory(device), what, advice);
}

TrainingDataInfo training_data_info(const LoadedModel& loaded) {
  TrainingDataInfo info;
  info.window = loaded.checkpoint.model.window;
  const json& m = loaded.metadata;
  try {
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
  return info;
}

void print_warning(const std::string& message) { std::fprintf(stderr, "nocturne: warning: %s\n", message.c_str()); }

void print_note(const std::string& message) { std::fprintf(stderr, "nocturne: %s\n", message.c_str()); }

std::vector<CorpusFile> read_corpus(const fs::path& folder, const std::function<void(const std::string&)>& warn,
                                    bool strict, std::vector<std::string>* skipped) {
  std::error_code ec;
  if (!fs::exists(folder, ec)) throw FileError(folder.string() + ": no such data folder");
  if (!fs::is_directory(folder, ec)) throw FileError(folder.string() + ": the data path is not a folder");
  const std::vector<fs::path> paths = find_midi_files(folder);
  if (paths.empty()) {
    const bool empty = fs::directory_iterator(folder, ec) == fs::directory_iterator();
    throw FileError(folder.string() + ": no MIDI files (.mid or .midi) in the data folder" +
                    (empty ? " (it is empty)" : ""));
  }
  std::vector<CorpusFile> files;
  for (const fs::path& path : paths) {
    const std::string name = path.lexically_relative(folder).generic_string();
    try {
      files.push_back({name, tokenize_file(path)});
    } catch (const Error& e) {
      if (strict) throw FileError(std::string(e.what()) + " (--strict: stopping at the first unreadable file)");
      if (warn) warn("skipping unreadable MIDI file " + name + ": " + e.what());
      if (skipped) skipped->push_back(name);
    }
  }
  if (files.empty())
    throw FileError(folder.string() + ": none of its " + std::to_string(paths.size()) + " MIDI files could be read");
  return files;
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

void write_output_file(const std::string& option_value, std::string_view bytes) {
  if (option_value != "-") return detail::write_file_atomically(option_value, bytes);
  std::fwrite(bytes.data(), 1, bytes.size(), stdout);
  if (std::fflush(stdout) != 0 || std::ferror(stdout))
    throw FileError(std::string("standard output: write failed: ") + std::strerror(errno));
}

bool writes_to_stdout(const std::string& option_value) {
  return option_value == "-" || option_value == "/dev/stdout" || option_value == "/dev/fd/1" ||
         option_value == "/proc/self/fd/1";
}

namespace {
bool shown = false;
std::chrono::steady_clock::time_point last_shown, last_plain;
std::int64_t last_done = -1;
}  // namespace

void progress_line(const std::string& what, std::int64_t done, std::int64_t total) {
  const auto now = std::chrono::steady_clock::now();
  if (!::isatty(2)) {
    // Off a terminal (a log, a pipe): a plain line on stderr every 10 s of
    // long work (stdout may be JSON).
    if (last_done < 0 || done < last_done) last_plain = now;  // a new piece of work
    last_done = done;
    if (now - last_plain >= std::chrono::seconds(10) && done < total) {
      last_plain = now;
      std::fprintf(stderr, "%s %lld/%lld\n", what.c_str(), static_cast<long long>(done),
                   static_cast<long long>(total));
    }
    return;
  }
  if (shown && done < total && now - last_shown < std::chrono::milliseconds(100)) return;
  last_shown = now;
  shown = true;
  std::fprintf(stderr, "\r%s %lld/%lld", what.c_str(), static_cast<long long>(done), static_cast<long long>(total));
  std::fflush(stderr);
}

void end_progress_line() {
  if (shown) std::fprintf(stderr, "\r\033[K");
  shown = false;
  last_done = -1;
}

}  // namespace nocturne::cli
