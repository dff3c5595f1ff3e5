#pragma once
// SIGINT and SIGTERM during a run: the first asks the run to stop after the sample in flight (its files synced,
// its report written, how to resume printed); a second one, more than two seconds later, ends the process at
// once. Two seconds, because a terminal's Ctrl-C reaches a worker both directly and forwarded by its parent.

namespace kvbench {

/// Installs the handlers for its lifetime (and restores the previous ones after).
class InterruptScope {
 public:
  InterruptScope();
  ~InterruptScope();
  InterruptScope(const InterruptScope&) = delete;
  InterruptScope& operator=(const InterruptScope&) = delete;
};

/// The signal that asked the run to stop, or 0.
int interrupt_signal();

/// "SIGINT", "SIGTERM", ...
const char* signal_name(int signal);

}  // namespace kvbench
