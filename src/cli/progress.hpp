#pragma once
// How a long command reports: a live progress bar on stderr when stderr is a
// terminal (plain lines otherwise), one summary line per epoch on stdout, or,
// with --jsonl, one JSON object per event on stdout and nothing else there.

#include <chrono>
#include <string>

#include <nlohmann/json.hpp>

#include "nocturne/trainer.hpp"

namespace nocturne::inline v0::cli {

class Reporter {
 public:
  explicit Reporter(bool jsonl);

  bool jsonl() const { return jsonl_; }
  // A line for people (stdout); in JSONL mode an {"event": "info"} object.
  void info(const std::string& message);
  // "nocturne: warning: ..." on stderr; in JSONL mode also a "warning" event.
  void warning(const std::string& message);
  // In JSONL mode prints `object` with "event": name first; otherwise nothing.
  void event(const std::string& name, nlohmann::json object);
  // Throttled: the bar at most ten times a second on a terminal, a plain line
  // every ten seconds elsewhere, a "progress" event every second in JSONL mode.
  void progress(const Progress& p, int total_epochs);
  // Removes the bar (before other output, and at the end).
  void clear_bar();

 private:
  void print_line(std::FILE* stream, const std::string& line);

  bool jsonl_ = false;
  bool tty_ = false;
  bool bar_shown_ = false;
  std::chrono::steady_clock::time_point last_;
};

// "1:02:03" or "2:03".
std::string format_duration(double seconds);

}  // namespace nocturne::cli
