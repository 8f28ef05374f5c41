#include "cli/outputs.hpp"

#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>

#include "midi/atomic_write.hpp"
#include "nocturne/error.hpp"
#include "nocturne/generate.hpp"
#include "nocturne/machine.hpp"
#include "nocturne/timed_tokens.hpp"
#include "nocturne/tokenizer.hpp"

namespace nocturne::inline v0::cli {

namespace fs = std::filesystem;

void print_warning(const std::string& message) { std::fprintf(stderr, "nocturne: warning: %s\n", message.c_str()); }

void print_note(const std::string& message) { std::fprintf(stderr, "nocturne: %s\n", message.c_str()); }

Corpus read_corpus_cli(const fs::path& folder, bool strict, const std::function<void(const std::string&)>& warn,
                       TokenKind tokens) {
  CorpusReadOptions options;
  options.tokens = tokens;
  options.on_skip = [&](const std::string& name, const Error& why) {
    if (strict) throw FileError(std::string(why.what()) + " (--strict: stopping at the first unreadable file)");
    if (warn) warn("skipping unreadable MIDI file " + name + ": " + why.what());
  };
  return read_corpus(folder, options);
}

void require_token_kind(const LoadedModel& loaded, const std::string& tokens_option) {
  if (tokens_option.empty() || parse_token_kind(tokens_option) == loaded.data.tokens) return;
  const std::string uses(token_kind_name(loaded.data.tokens));
  throw ConfigError("--tokens " + tokens_option + ": " + loaded.path.string() + " is a model of " + uses +
                    " tokens; leave out --tokens, or use a model trained with --tokens " + tokens_option);
}

Primers cli_primers(const std::string& primer, const std::string& data, std::int64_t count, std::uint64_t seed,
                    const LoadedModel& loaded) {
  PrimerRequest request;
  request.primer = primer;
  request.data = data;
  request.count = count;
  request.seed = seed;
  request.reading.on_skip = [](const std::string& name, const Error& why) {
    print_warning("skipping unreadable MIDI file " + name + ": " + why.what());
  };
  Primers primers = make_primers(request, loaded);
  for (const std::string& note : primers.notes) std::printf("primer: %s\n", note.c_str());
  return primers;
}

void add_model_device_options(CLI::App& cmd, DeviceRequest& device) {
  cmd.add_option("--device", device.device, "auto, cpu or cuda")->capture_default_str();
  cmd.add_option("--precision", device.precision,
                 "GEMM operands: fp32, tf32 or bf16 (tensor cores on the GPU; an emulation on the CPU)")
      ->capture_default_str();
  cmd.add_option("--lstm-impl", device.lstm_impl,
                 "LSTM layers: classic ('ours' is its former name), fused (on the CPU too), persistent (fused with "
                 "persistent forward kernels where they fit) or cudnn (GPU only)")
      ->capture_default_str();
  cmd.add_option("--threads", device.threads, kThreadsHelp);
}

void place_model_cli(LoadedModel& loaded, const DeviceRequest& device, int max_batch, const std::string& batch_option) {
  place_model(loaded, device, max_batch, batch_option);
  if (!loaded.device.note.empty()) print_note(loaded.device.note);
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
