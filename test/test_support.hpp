#pragma once
// Helpers shared by the tests.

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>

namespace nocturne::inline v0::test {

// A test executable that needs something absent says why through this hook:
// set_skip_reason() from a static initialiser in that executable.
inline std::optional<std::string>& skip_reason_slot() {
  static std::optional<std::string> reason;
  return reason;
}
inline std::optional<std::string> skip_reason() { return skip_reason_slot(); }
inline bool set_skip_reason(std::string reason) {
  skip_reason_slot() = std::move(reason);
  return true;
}

// A path in the temporary folder that no other test process uses: `name`
// plus this process's id, so that test runs of several build folders at once
// (or of several checkouts on one machine) never share or delete each other's
// files.
inline std::filesystem::path temp_path(const std::string& name) {
  return std::filesystem::temp_directory_path() / (name + "-" + std::to_string(::getpid()));
}

// The Chopin corpus folder, or nullopt where it is absent (a fresh clone).
inline std::optional<std::filesystem::path> chopin_dir() {
  std::filesystem::path dir = NOCTURNE_CHOPIN_DIR;
  if (const char* env = std::getenv("NOCTURNE_CHOPIN_DIR")) dir = env;
  if (std::filesystem::is_directory(dir) && std::filesystem::exists(dir / "music21-tokens.json")) return dir;
  return std::nullopt;
}

// Registers a skip for a whole executable when the corpus is absent:
//   static const bool needs_corpus = nocturne::test::require_chopin();
inline bool require_chopin() {
  if (!chopin_dir())
    return set_skip_reason("the Chopin corpus (../shared/data/chopin with music21-tokens.json) is absent; "
                           "set NOCTURNE_CHOPIN_DIR to run these tests");
  return true;
}

}  // namespace nocturne::test
