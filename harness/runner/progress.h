#pragma once
// Progress of a long run on stderr: a bar redrawn in place on a terminal, a plain line every few seconds
// otherwise (logs, CI), so that a run is never silent for long.

#include <chrono>
#include <cstdint>
#include <string>

namespace kvbench {

class Progress {
 public:
  /// `total` units of work (samples), `variants` per sample (for the label).
  Progress(std::int64_t total, std::int64_t variants);
  /// One more sample done, with `tokens` prompt tokens processed and what it was.
  void advance(std::int64_t tokens, const std::string& what);
  /// Ends the bar's line.
  void finish();

 private:
  void draw(bool force);
  std::int64_t total_, variants_, done_ = 0, tokens_ = 0, drawn_done_ = -1;
  std::string what_;
  bool tty_;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace kvbench
