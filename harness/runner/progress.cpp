#include "harness/runner/progress.h"

#include <unistd.h>

#include <cstdio>

namespace kvbench {

Progress::Progress(std::int64_t total, std::int64_t variants)
    : total_(total), variants_(variants), tty_(::isatty(STDERR_FILENO) != 0),
      start_(std::chrono::steady_clock::now()), last_draw_(start_) {}

void Progress::advance(std::int64_t tokens, const std::string& what) {
  ++done_;
  tokens_ += tokens;
  what_ = what;
  draw(done_ == total_);
}

void Progress::finish() {
  if (drawn_done_ != done_) draw(true);
  if (tty_) std::fputc('\n', stderr);
}

void Progress::draw(bool force) {
  const auto now = std::chrono::steady_clock::now();
  const double since_draw = std::chrono::duration<double>(now - last_draw_).count();
  if (!force && since_draw < (tty_ ? 0.2 : 10.0)) return;
  last_draw_ = now;
  drawn_done_ = done_;
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const double rate = elapsed > 0 ? static_cast<double>(tokens_) / elapsed : 0.0;
  const double eta = done_ > 0 ? elapsed / static_cast<double>(done_) * static_cast<double>(total_ - done_) : 0.0;
  char line[256];
  if (tty_) {
    const int width = 24, filled = total_ > 0 ? static_cast<int>(width * done_ / total_) : width;
    std::string bar(static_cast<std::size_t>(filled), '#');
    bar.resize(static_cast<std::size_t>(width), '.');
    std::snprintf(line, sizeof line, "\r[%s] %lld/%lld samples x %lld variants | %.0f prompt tok/s | ETA %.0fs | %-24.24s",
                  bar.c_str(), static_cast<long long>(done_), static_cast<long long>(total_),
                  static_cast<long long>(variants_), rate, eta, what_.c_str());
  } else {
    std::snprintf(line, sizeof line, "progress: %lld/%lld samples x %lld variants, %.0f prompt tok/s, ETA %.0fs (%s)\n",
                  static_cast<long long>(done_), static_cast<long long>(total_), static_cast<long long>(variants_),
                  rate, eta, what_.c_str());
  }
  std::fputs(line, stderr);
  std::fflush(stderr);
}

}  // namespace kvbench
