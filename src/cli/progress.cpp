#include "cli/progress.hpp"

#include <unistd.h>

#include <cmath>
#include <cstdio>

namespace nocturne::inline v0::cli {

namespace {
double since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}
}  // namespace

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const long total = std::lround(seconds);
  char text[32];
  if (total >= 3600)
    std::snprintf(text, sizeof(text), "%ld:%02ld:%02ld", total / 3600, total / 60 % 60, total % 60);
  else
    std::snprintf(text, sizeof(text), "%ld:%02ld", total / 60, total % 60);
  return text;
}

Reporter::Reporter(bool jsonl)
    : jsonl_(jsonl), tty_(::isatty(STDERR_FILENO) == 1), last_(std::chrono::steady_clock::now()) {}

void Reporter::print_line(std::FILE* stream, const std::string& line) {
  clear_bar();
  std::fputs(line.c_str(), stream);
  std::fputc('\n', stream);
  std::fflush(stream);
}

void Reporter::clear_bar() {
  if (!bar_shown_) return;
  std::fputs("\r\033[K", stderr);
  std::fflush(stderr);
  bar_shown_ = false;
}

void Reporter::info(const std::string& message) {
  if (jsonl_)
    event("info", {{"message", message}});
  else
    print_line(stdout, message);
}

void Reporter::warning(const std::string& message) {
  print_line(stderr, "nocturne: warning: " + message);
  if (jsonl_) event("warning", {{"message", message}});
}

void Reporter::event(const std::string& name, nlohmann::json object) {
  if (!jsonl_) return;
  nlohmann::json line = {{"event", name}};
  for (auto& [key, value] : object.items()) line[key] = value;
  // Non-finite numbers have no JSON spelling: they become null.
  std::puts(line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  std::fflush(stdout);
}

void Reporter::progress(const Progress& p, int total_epochs) {
  const bool last = p.step == p.steps;
  const double rate = p.seconds > 0 ? double(p.windows_done) / p.seconds : 0.0;
  const double eta = rate > 0 ? double(p.windows_total - p.windows_done) / rate : NAN;
  const double interval = jsonl_ ? 1.0 : tty_ ? 0.1 : 10.0;
  if (!last && since(last_) < interval) return;
  if (last && !tty_ && !jsonl_) return;  // the epoch summary follows at once
  last_ = std::chrono::steady_clock::now();
  if (jsonl_) {
    event("progress", {{"epoch", p.epoch},
                       {"step", p.step},
                       {"steps", p.steps},
                       {"windows_done", p.windows_done},
                       {"windows_total", p.windows_total},
                       {"loss", p.loss},
                       {"accuracy", p.accuracy},
                       {"windows_per_second", rate},
                       {"eta_seconds", eta}});
    return;
  }
  const double fraction = p.windows_total > 0 ? double(p.windows_done) / double(p.windows_total) : 0.0;
  char tail[160];
  std::snprintf(tail, sizeof(tail), " %3.0f%%  ETA %s  %.0f windows/s  loss %.4f  acc %.3f", 100 * fraction,
                format_duration(eta).c_str(), rate, p.loss, p.accuracy);
  const std::string head = "epoch " + std::to_string(p.epoch) + "/" + std::to_string(total_epochs);
  if (tty_) {
    constexpr int kWidth = 24;
    const int filled = int(fraction * kWidth);
    std::string bar = " [" + std::string(std::size_t(filled), '#') + std::string(std::size_t(kWidth - filled), '.') + "]";
    std::fputs(("\r\033[K" + head + bar + tail).c_str(), stderr);
    std::fflush(stderr);
    bar_shown_ = true;
  } else {
    std::fprintf(stderr, "%s step %lld/%lld%s\n", head.c_str(), static_cast<long long>(p.step),
                 static_cast<long long>(p.steps), tail);
    std::fflush(stderr);
  }
}

}  // namespace nocturne::cli
