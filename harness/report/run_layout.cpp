#include "harness/report/run_layout.h"

#include "harness/common/paths.h"

namespace kvbench {
namespace {
// <root>/<kind>/<variant>/<subset>.jsonl. Variant and subset names come from configs and from other runs' files
// (merge): each must be one plain path component, so that nothing lands outside the run's folder.
std::string row_file(const std::string& root, const char* kind, const std::string& v, const std::string& s) {
  paths::check_component(v, "a variant name");
  paths::check_component(s, "a subset name");
  return paths::join(paths::join(paths::join(root, kind), v), s + ".jsonl");
}
}  // namespace

std::string RunLayout::predictions(const std::string& v, const std::string& s) const {
  return row_file(root, "predictions", v, s);
}
std::string RunLayout::timing(const std::string& v, const std::string& s) const { return row_file(root, "timing", v, s); }
std::string RunLayout::errors(const std::string& v, const std::string& s) const { return row_file(root, "errors", v, s); }
std::string RunLayout::report() const { return paths::join(root, "report.json"); }
std::string RunLayout::manifest() const { return paths::join(root, "manifest.json"); }
std::string RunLayout::resolved_config() const { return paths::join(root, "config.resolved.json"); }

}  // namespace kvbench
