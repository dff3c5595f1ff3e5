#pragma once
// Logging to stderr (stdout stays clean for --json output). spdlog does the work inside log.cpp only: the
// GPU machine's libtorch ships its own fmt headers, which clash with the fmt that Debian's spdlog was built
// against, so no translation unit that sees libtorch may include spdlog. Messages are streamed, like errors:
//   log::info("prefilled ", n, " tokens in ", ms, " ms");

#include <string>

#include "harness/common/error.h"

namespace kvbench::log {

enum class Level { kTrace, kDebug, kInfo, kWarn, kError, kOff };

/// Sets up the stderr logger and its level: trace, debug, info, warn, error, critical or off.
/// Throws kvbench::Error on an unknown level name.
void init(const std::string& level);
bool enabled(Level level);
void write(Level level, const std::string& message);

template <typename... Args>
void debug(Args&&... args) {
  if (enabled(Level::kDebug)) write(Level::kDebug, detail::concat(std::forward<Args>(args)...));
}
template <typename... Args>
void info(Args&&... args) {
  if (enabled(Level::kInfo)) write(Level::kInfo, detail::concat(std::forward<Args>(args)...));
}
template <typename... Args>
void warn(Args&&... args) {
  if (enabled(Level::kWarn)) write(Level::kWarn, detail::concat(std::forward<Args>(args)...));
}

/// `value` with `digits` decimals, for log messages.
std::string fixed(double value, int digits);

}  // namespace kvbench::log
