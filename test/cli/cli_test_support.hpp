#pragma once
// Helpers for the end-to-end tests: run the built `nocturne` program, check
// its one-line errors, read what it left in a run folder.

#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <sstream>
#include <string>
#include <vector>

namespace nocturne::inline v0::test {

namespace fs = std::filesystem;

inline const char* cli_path() { return NOCTURNE_CLI_PATH; }

// Settings small enough that an epoch on the demo corpus takes well under a second.
inline const std::string kTiny =
    "--hidden1 16 --hidden2 8 --dense 8 --window 8 --min-count 1 --batch 32 --device cpu --threads 1";

struct TempDir {
  fs::path path;
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "nocturne-cli-XXXXXX").string();
    path = mkdtemp(pattern.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
};

inline std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

inline std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

struct RunResult {
  int exit_code = -1;
  std::string out, err;
  // Non-empty lines of stderr.
  std::vector<std::string> error_lines() const {
    std::vector<std::string> lines;
    std::istringstream in(err);
    for (std::string line; std::getline(in, line);)
      if (!line.empty()) lines.push_back(line);
    return lines;
  }
};

// Runs `nocturne <args>` through the shell (args are spliced in as written).
inline RunResult run_cli(const std::string& args) {
  static int counter = 0;
  const fs::path base = fs::temp_directory_path() / ("nocturne-cli-out-" + std::to_string(::getpid()) + "-" +
                                                     std::to_string(counter++));
  const std::string out = base.string() + ".out", err = base.string() + ".err";
  const std::string command =
      quote(cli_path()) + " " + args + " > " + quote(out) + " 2> " + quote(err) + " < /dev/null";
  const int status = std::system(command.c_str());
  RunResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = read_text(out);
  r.err = read_text(err);
  std::error_code ec;
  fs::remove(out, ec);
  fs::remove(err, ec);
  return r;
}

// Runs `args`, expects failure with exactly one stderr line containing every one of `words`.
inline void expect_one_line_error(const std::string& args, std::initializer_list<std::string> words) {
  const RunResult r = run_cli(args);
  INFO("nocturne " << args << "\nstdout: " << r.out << "\nstderr: " << r.err);
  CHECK(r.exit_code != 0);
  const auto lines = r.error_lines();
  REQUIRE(lines.size() == 1);
  for (const auto& w : words) CHECK(lines[0].find(w) != std::string::npos);
}

// Starts `nocturne <args...>` in the background with stdout and stderr into files.
inline pid_t spawn_cli(const std::vector<std::string>& args, const fs::path& log) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    FILE* f = std::freopen(log.c_str(), "w", stdout);
    if (f) ::dup2(::fileno(stdout), STDERR_FILENO);
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(cli_path()));
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(cli_path(), argv.data());
    std::_Exit(127);
  }
  return pid;
}

inline std::vector<std::string> split_words(const std::string& s) {
  std::istringstream in(s);
  std::vector<std::string> words;
  for (std::string w; in >> w;) words.push_back(w);
  return words;
}

// history.csv as rows of cells, header first.
inline std::vector<std::vector<std::string>> read_csv(const fs::path& path) {
  std::vector<std::vector<std::string>> rows;
  std::istringstream in(read_text(path));
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    std::vector<std::string> cells;
    std::string cell;
    std::istringstream fields(line);
    while (std::getline(fields, cell, ',')) cells.push_back(cell);
    if (!line.empty() && line.back() == ',') cells.push_back("");
    rows.push_back(cells);
  }
  return rows;
}

// The columns of history.csv that training computes (not the timings).
inline std::vector<std::string> history_results(const fs::path& path) {
  std::vector<std::string> values;
  const auto rows = read_csv(path);
  for (std::size_t r = 1; r < rows.size(); ++r)
    for (std::size_t c = 0; c < 6 && c < rows[r].size(); ++c) values.push_back(rows[r][c]);
  return values;
}

}  // namespace nocturne::test
