#pragma once
// Logging goes to stderr through spdlog so that stdout stays clean for --json output.

#include <spdlog/spdlog.h>

#include <string>

namespace kvbench {

/// Sets up the stderr logger and its level: trace, debug, info, warn, error, critical or off.
/// Throws kvbench::Error on an unknown level name.
void init_logging(const std::string& level);

}  // namespace kvbench
