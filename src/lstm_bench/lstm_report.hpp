#pragma once
// The LSTM benchmark's results: per-repetition statistics, one row per
// (shape, variant, phase), the run's description, and the three ways they are
// written out (CSV, JSON, the table on stdout). Columns: docs/benchmarks.md.

#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "nocturne/backend.hpp"

namespace nocturne::inline v0::bench {

inline constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

struct Stats {
  double median = kNaN, min = kNaN, p10 = kNaN, p90 = kNaN;
  int reps = 0;
};

// Median, min and the 10th and 90th percentiles of per-repetition milliseconds.
Stats summarize(std::vector<double> ms);

struct Row {
  std::string device, label, impl, variant, math, phase, status, note;
  LstmShape shape;
  Stats stats;
  double build_ms = kNaN;   // cudnnBuildRNNDynamic (persist_dynamic only)
  double check_err = kNaN;  // normalised difference from the check reference
};

// The run's description: `# key: value` lines in the CSV, "meta" in the JSON,
// in the order the keys were first set.
class Meta {
 public:
  void set(const std::string& key, const std::string& value);
  const std::vector<std::pair<std::string, std::string>>& entries() const { return entries_; }

 private:
  std::vector<std::pair<std::string, std::string>> entries_;
};

std::string shape_text(const LstmShape& s);
// "%.6g", or "" for a value that is not finite.
std::string number_text(double v);

std::string csv_text(const Meta& meta, const std::vector<Row>& rows);
std::string json_text(const Meta& meta, const std::vector<Row>& rows);

// Per shape and phase: ours against the best cuDNN (cuda), or ours against
// oneDNN (cpu).
void print_table(const std::vector<Row>& rows);

}  // namespace nocturne::bench
