#include "harness/common/interrupt.h"

#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <cstring>

namespace kvbench {
namespace {

volatile sig_atomic_t g_signal = 0;
volatile sig_atomic_t g_first_seconds = 0;
struct sigaction g_previous_int, g_previous_term;

long monotonic_seconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);  // async-signal-safe
  return static_cast<long>(ts.tv_sec);
}

void on_signal(int sig) {
  if (g_signal == 0) {
    g_signal = sig;
    g_first_seconds = static_cast<sig_atomic_t>(monotonic_seconds());
    static const char msg[] = "\nkvbench: stopping after the sample in flight (signal again to stop at once)\n";
    [[maybe_unused]] const ssize_t n = ::write(STDERR_FILENO, msg, sizeof msg - 1);
    return;
  }
  if (monotonic_seconds() - g_first_seconds < 2) return;
  static const char msg[] = "\nkvbench: stopped at once; finished samples are on disk (--resume continues)\n";
  [[maybe_unused]] const ssize_t n = ::write(STDERR_FILENO, msg, sizeof msg - 1);
  ::_exit(128 + sig);
}

}  // namespace

InterruptScope::InterruptScope() {
  g_signal = 0;
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  ::sigaction(SIGINT, &sa, &g_previous_int);
  ::sigaction(SIGTERM, &sa, &g_previous_term);
}

InterruptScope::~InterruptScope() {
  ::sigaction(SIGINT, &g_previous_int, nullptr);
  ::sigaction(SIGTERM, &g_previous_term, nullptr);
}

int interrupt_signal() { return g_signal; }

const char* signal_name(int signal) {
  switch (signal) {
    case SIGINT: return "SIGINT";
    case SIGTERM: return "SIGTERM";
    default: return "a signal";
  }
}

}  // namespace kvbench
