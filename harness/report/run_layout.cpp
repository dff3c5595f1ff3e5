#include "harness/report/run_layout.h"

#include "harness/common/error.h"
#include "harness/common/json_util.h"
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

nlohmann::json read_manifest(const std::string& path) {
  nlohmann::json manifest = read_own_json_file(path);
  const JsonFields top(manifest, path);
  if (top.has("sessions")) {
    const auto& sessions = top.raw("sessions");
    KV_CHECK(sessions.is_array(), path, ": 'sessions' must be a list, got ", json_type_name(sessions));
    for (std::size_t i = 0; i < sessions.size(); ++i) {
      const JsonFields s(sessions[i], path + ": sessions[" + std::to_string(i) + "]");
      for (const char* key : {"start", "end", "command", "host", "interrupted_by"})
        if (s.has(key)) s.get_string(key);
      for (const char* key : {"wall_seconds", "samples_wall_seconds"})
        if (s.has(key)) s.get_double(key);
      for (const char* key : {"peak_host_rss_bytes", "peak_device_memory_bytes", "failed_samples"})
        if (s.has(key)) s.get_int(key);
    }
  }
  if (top.has("merged_from")) {
    const auto& from = top.raw("merged_from");
    KV_CHECK(from.is_array(), path, ": 'merged_from' must be a list of folders, got ", json_type_name(from));
    for (const auto& dir : from) KV_CHECK(dir.is_string(), path, ": 'merged_from' must be a list of folders");
  }
  return manifest;
}

}  // namespace kvbench
