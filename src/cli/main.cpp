// nocturne: the command-line program over the library.

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstdint>
#include <exception>
#include <limits>
#include <new>
#include <string>
#include <utility>
#include <vector>

#include "cli/commands.hpp"
#include "nocturne/error.hpp"
#include "nocturne/version.hpp"

namespace nocturne::inline v0::cli {

namespace {
std::vector<std::pair<int, AddCommand>>& registry() {
  static std::vector<std::pair<int, AddCommand>> commands;
  return commands;
}
}  // namespace

bool register_command(int order, AddCommand add) {
  registry().emplace_back(order, add);
  return true;
}

CLI::Validator at_least(long long least) {
  const std::string rule = "must be a whole number >= " + std::to_string(least);
  return CLI::Validator(
      [least, rule](std::string& text) -> std::string {
        long long value = 0;
        const char* end = text.data() + text.size();
        const auto [stop, ec] = std::from_chars(text.data(), end, value);
        if (ec != std::errc() || stop != end || value < least) return rule + ", got '" + text + "'";
        return "";
      },
      "INT>=" + std::to_string(least));
}

CLI::Validator seed_number() {
  const std::string rule =
      "must be a whole number from 0 to " + std::to_string(std::numeric_limits<std::uint64_t>::max());
  return CLI::Validator(
      [rule](std::string& text) -> std::string {
        std::uint64_t value = 0;
        const char* end = text.data() + text.size();
        const auto [stop, ec] = std::from_chars(text.data(), end, value);  // no sign: "-1" stops at once
        if (ec != std::errc() || stop != end || text.empty()) return rule + ", got '" + text + "'";
        return "";
      },
      "UINT64");
}

void add_registered_commands(CLI::App& app) {
  auto commands = registry();
  std::sort(commands.begin(), commands.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  for (const auto& [order, add] : commands) add(app);
}

}  // namespace nocturne::cli

int main(int argc, char** argv) {
  CLI::App app{"nocturne: an LSTM that learns piano music from MIDI files"};
  app.set_version_flag("--version", nocturne::version_string);
  app.require_subcommand(1);
  nocturne::cli::add_registered_commands(app);
  // A first word that is neither an option nor a command: CLI11 would only say
  // that a command is required, as for no word at all.
  if (argc > 1 && argv[1][0] != '-') {
    std::string names;
    bool known = false;
    for (const CLI::App* command : app.get_subcommands([](const CLI::App*) { return true; })) {
      known = known || command->get_name() == argv[1];
      names += (names.empty() ? "" : ", ") + command->get_name();
    }
    if (!known) {
      std::fprintf(stderr, "nocturne: error: unknown command '%s' (the commands: %s; see --help)\n", argv[1],
                   names.c_str());
      return 106;  // CLI11's exit code for a missing or wrong command
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {  // --help, --version
    return app.exit(e);
  } catch (const CLI::RuntimeError& e) {
    // A command that stopped on purpose (Ctrl-C: 130) has said why already.
    return e.get_exit_code();
  } catch (const CLI::ParseError& e) {
    // One line, like every other error (CLI11's own printing adds a second).
    std::fprintf(stderr, "nocturne: error: %s (see --help)\n", e.what());
    return e.get_exit_code();
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "nocturne: error: out of memory (an allocation failed): lower --batch, --count or the "
                         "model's sizes, or free memory\n");
    // Leave at once: the BLAS library's exit handler waits for its threads,
    // which may be stuck retrying allocations that cannot succeed.
    std::fflush(nullptr);
    std::_Exit(1);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "nocturne: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
