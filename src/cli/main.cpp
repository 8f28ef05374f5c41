// nocturne: the command-line program over the library.

#include <algorithm>
#include <cstdio>
#include <exception>
#include <utility>
#include <vector>

#include "cli/commands.hpp"
#include "nocturne/error.hpp"
#include "nocturne/version.hpp"

namespace nocturne::cli {

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
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {  // --help, --version
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // One line, like every other error (CLI11's own printing adds a second).
    std::fprintf(stderr, "nocturne: error: %s (see --help)\n", e.what());
    return e.get_exit_code();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "nocturne: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
