#include "harness/common/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>

#include "harness/common/error.h"

namespace kvbench {

void init_logging(const std::string& level) {
  static const char* kLevels[] = {"trace", "debug", "info", "warn", "error", "critical", "off"};
  bool known = false;
  for (const char* name : kLevels) known = known || level == name;
  KV_CHECK(known, "unknown log level '", level, "' (use trace, debug, info, warn, error, critical or off)");
  auto logger = spdlog::get("kvbench");
  if (!logger) {
    logger = spdlog::stderr_color_mt("kvbench");
    logger->set_pattern("[%H:%M:%S.%e] [%^%l%$] %v");
    spdlog::set_default_logger(logger);
  }
  spdlog::set_level(spdlog::level::from_str(level));
}

}  // namespace kvbench
