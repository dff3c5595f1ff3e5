#include "harness/report/run_layout.h"

#include "harness/common/paths.h"

namespace kvbench {

std::string RunLayout::predictions(const std::string& v, const std::string& s) const {
  return paths::join(paths::join(paths::join(root, "predictions"), v), s + ".jsonl");
}
std::string RunLayout::timing(const std::string& v, const std::string& s) const {
  return paths::join(paths::join(paths::join(root, "timing"), v), s + ".jsonl");
}
std::string RunLayout::errors(const std::string& v, const std::string& s) const {
  return paths::join(paths::join(paths::join(root, "errors"), v), s + ".jsonl");
}
std::string RunLayout::report() const { return paths::join(root, "report.json"); }
std::string RunLayout::manifest() const { return paths::join(root, "manifest.json"); }
std::string RunLayout::resolved_config() const { return paths::join(root, "config.resolved.json"); }

}  // namespace kvbench
