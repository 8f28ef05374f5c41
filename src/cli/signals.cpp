#include "cli/signals.hpp"

#include <csignal>

namespace nocturne::cli {

namespace {

volatile std::sig_atomic_t g_signal = 0;
struct sigaction g_previous_int {}, g_previous_term {};

extern "C" void on_stop_signal(int signal) { g_signal = signal; }

void install(int signal, struct sigaction* previous) {
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  // SA_RESETHAND: a second Ctrl-C gets the default action and ends the process.
  action.sa_flags = SA_RESETHAND;
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
