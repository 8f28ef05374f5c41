#pragma once
// Each subcommand lives in its own cmd_<name>.cpp and registers itself:
//   static const bool registered = nocturne::cli::register_command(30, add_train_command);
// (the number orders the help listing). A command's callback throws
// nocturne::Error on failure; main() turns that into one line on stderr and
// exit code 1.

#include <CLI/CLI.hpp>

namespace nocturne::inline v0::cli {

using AddCommand = void (*)(CLI::App& app);

bool register_command(int order, AddCommand add);
void add_registered_commands(CLI::App& app);

// Whole numbers of at least `least` (CLI11's PositiveNumber would name a
// range up to DBL_MAX in its message): "--notes: must be a whole number >= 1, got 0".
CLI::Validator at_least(long long least);

// Seeds: whole numbers 0..2^64-1, nothing clamped or wrapped ("--seed: must be
// a whole number from 0 to 18446744073709551615, got '-1'").
CLI::Validator seed_number();

}  // namespace nocturne::cli
