#include "cli/signals.hpp"

#include <csignal>
#include <ctime>

namespace nocturne::inline v0::cli {

namespace {

volatile std::sig_atomic_t g_signal = 0;
timespec g_first {};  // when the first signal came
struct sigaction g_previous_int {}, g_previous_term {};

// The first signal only sets the flag. A second one ends the process with
// the default action, unless it follows the first within 200 ms: `timeout`
// and `kill -- -PGID` send one signal to the process and another to its
// group, which must not count as a second Ctrl-C. (Only async-signal-safe
// calls here.)
extern "C" void on_stop_signal(int signal) {
  timespec now {};
  clock_gettime(CLOCK_MONOTONIC, &now);
  if (g_signal == 0) {
    g_first = now;
    g_signal = signal;
    return;
  }
  const long long ms = (now.tv_sec - g_first.tv_sec) * 1000LL + (now.tv_nsec - g_first.tv_nsec) / 1000000;
  if (ms < 200) return;
  ::signal(signal, SIG_DFL);
  ::raise(signal);
}

void install(int signal, struct sigaction* previous) {
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  sigaction(signal, &action, previous);
}

}  // namespace

StopSignals::StopSignals() {
  g_signal = 0;
  install(SIGINT, &g_previous_int);
  install(SIGTERM, &g_previous_term);
}

StopSignals::~StopSignals() {
  sigaction(SIGINT, &g_previous_int, nullptr);
  sigaction(SIGTERM, &g_previous_term, nullptr);
}

bool stop_requested() { return g_signal != 0; }
int stop_signal() { return g_signal; }
const char* stop_signal_name() {
  switch (g_signal) {
    case SIGINT: return "SIGINT";
    case SIGTERM: return "SIGTERM";
    default: return "none";
  }
}

}  // namespace nocturne::cli
