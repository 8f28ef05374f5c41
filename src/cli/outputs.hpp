#pragma once
// Shared by the commands: warnings and notes on stderr, the corpus read with
// --strict or not, and the files written per generated piece.

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>

#include "nocturne/corpus.hpp"
#include "nocturne/device.hpp"
#include "nocturne/trained_model.hpp"

namespace nocturne::inline v0::cli {

// The CLI's name for the library's trained model (nocturne/trained_model.hpp).
using LoadedModel = TrainedModel;

// "nocturne: warning: <message>" on stderr.
void print_warning(const std::string& message);
// "nocturne: <message>" on stderr: what a setting was changed to, and why.
void print_note(const std::string& message);

// read_corpus with the CLI's policy: an unreadable file is skipped with a
// warning on stderr, or, with strict, stops everything with a FileError that
// says --strict.
Corpus read_corpus_cli(const std::filesystem::path& folder, bool strict,
                       const std::function<void(const std::string&)>& warn = print_warning,
                       TokenKind tokens = TokenKind::recipe);

// make_primers with the held-out pool read as read_corpus_cli does; the
// primer's notes printed on stdout ("primer: ...").
// With --tokens given (recipe or timed): the model's token stream must be that
// one; a ConfigError in one line says which the model uses otherwise.
void require_token_kind(const LoadedModel& loaded, const std::string& tokens_option);

Primers cli_primers(const std::string& primer, const std::string& data, std::int64_t count, std::uint64_t seed,
                    const LoadedModel& loaded);

// --device, --precision, --lstm-impl and --threads of the commands that run a trained model.
void add_model_device_options(CLI::App& cmd, DeviceRequest& device);

// place_model, then the device's note on stderr.
void place_model_cli(LoadedModel& loaded, const DeviceRequest& device, int max_batch, const std::string& batch_option);

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
