#pragma once
// Ctrl-C for long commands: the first SIGINT or SIGTERM only sets a flag (the
// command finishes its current step, keeps what it saved, and exits with 130);
// a second one ends the process at once (the default action), unless it comes
// within 200 ms of the first (`timeout` signals the process and its group).

namespace nocturne::inline v0::cli {

// Installs the handlers for the lifetime of the guard; restores the previous ones after.
class StopSignals {
 public:
  StopSignals();
  ~StopSignals();
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;
};

bool stop_requested();
// The signal that asked to stop (SIGINT, SIGTERM), or 0.
int stop_signal();
const char* stop_signal_name();

// The exit code of a command stopped by a signal: 128 + SIGINT, as shells report it.
inline constexpr int kInterruptedExitCode = 130;

}  // namespace nocturne::cli
