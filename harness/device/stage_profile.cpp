#include "harness/device/stage_profile.h"

#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>

#include "harness/device/transfer.h"

namespace kvbench {
namespace {
struct Totals {
  std::mutex mutex;
  std::map<std::string, std::pair<double, long>> seconds_and_laps;
  ~Totals() {
    for (const auto& [stage, t] : seconds_and_laps)
      std::fprintf(stderr, "[stage] %-28s %10.3f ms over %6ld laps (%.3f ms each)\n", stage.c_str(), t.first * 1e3,
                   t.second, t.first * 1e3 / static_cast<double>(t.second));
  }
};
Totals& totals() {
  static Totals t;
  return t;
}
}  // namespace

bool StageClock::enabled() {
  static const bool on = [] {
    const char* v = std::getenv("KVBENCH_PROFILE_POLICIES");
    return v != nullptr && *v != '\0' && *v != '0';
  }();
  return on;
}

StageClock::StageClock(at::Device device) : device_(device) {
  if (!enabled()) return;
  synchronize(device_);
  last_ = std::chrono::steady_clock::now();
}

void StageClock::lap(const char* stage) {
  if (!enabled()) return;
  synchronize(device_);
  const auto now = std::chrono::steady_clock::now();
  Totals& t = totals();
  std::lock_guard<std::mutex> lock(t.mutex);
  auto& entry = t.seconds_and_laps[stage];
  entry.first += std::chrono::duration<double>(now - last_).count();
  entry.second += 1;
  last_ = now;
}

}  // namespace kvbench
