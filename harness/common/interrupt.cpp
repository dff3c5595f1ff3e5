#include "harness/common/interrupt.h"

#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstring>

#include "harness/common/error.h"

namespace kvbench {
namespace {

// A sample in flight gets this long to finish after the first signal; past it, check_interrupt() abandons it.
constexpr std::int64_t kGraceMilliseconds = 2000;  // (the same span makes a second signal end the process)

volatile sig_atomic_t g_signal = 0;
std::atomic<std::int64_t> g_first_ms{0};  // lock-free, so the handler may write it
struct sigaction g_previous_int, g_previous_term;

std::int64_t monotonic_ms() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);  // async-signal-safe
  return static_cast<std::int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

void on_signal(int sig) {
  if (g_signal == 0) {
    g_signal = sig;
    g_first_ms = monotonic_ms();
    static const char msg[] = "\nkvbench: stopping after the sample in flight, or within seconds if it is long "
                              "(signal again to stop at once)\n";
    [[maybe_unused]] const ssize_t n = ::write(STDERR_FILENO, msg, sizeof msg - 1);
    return;
  }
  if (monotonic_ms() - g_first_ms < kGraceMilliseconds) return;
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

void check_interrupt() {
  const int sig = g_signal;
  if (sig != 0 && monotonic_ms() - g_first_ms >= kGraceMilliseconds)
    throw Interrupted(detail::concat("interrupted by ", signal_name(sig), " in the middle of a sample"), sig);
}

const char* signal_name(int signal) {
  switch (signal) {
    case SIGINT: return "SIGINT";
    case SIGTERM: return "SIGTERM";
    default: return "a signal";
  }
}

}  // namespace kvbench
