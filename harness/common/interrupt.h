#pragma once
// SIGINT and SIGTERM during a run: the first asks the run to stop after the sample in flight (its files synced,
// its report written, how to resume printed); a sample still running two seconds later is abandoned at the next
// check_interrupt() (--resume redoes it). A second signal, more than two seconds after the first, ends the process
// at once. Two seconds, because a terminal's Ctrl-C reaches a worker both directly and forwarded by its parent.

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

/// Throws kvbench::Interrupted when a signal asked the run to stop more than two seconds ago. Long steps (a
/// prefill, a decode step, tokenizing a long text, scoring) poll it, so that a signal is honoured within seconds
/// however long the sample in flight. Costs one load of a flag when no signal came.
void check_interrupt();

/// "SIGINT", "SIGTERM", ...
const char* signal_name(int signal);

}  // namespace kvbench
