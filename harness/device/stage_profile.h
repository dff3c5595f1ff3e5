#pragma once
// A debugging aid for the cost of compression: with KVBENCH_PROFILE_POLICIES=1 in the environment,
// StageClock laps synchronize the device and add the time since the previous lap to a named stage; the
// totals go to stderr at exit. Off (one branch per lap) otherwise.

#include <ATen/ATen.h>

#include <chrono>
#include <string>

namespace kvbench {

class StageClock {
 public:
  explicit StageClock(at::Device device);
  /// Time since construction or the previous lap, added to `stage` (device synchronized first).
  void lap(const char* stage);
  static bool enabled();

 private:
  at::Device device_;
  std::chrono::steady_clock::time_point last_;
};

}  // namespace kvbench
