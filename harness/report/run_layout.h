#pragma once
// Where a run keeps its files (docs/report-format.md): predictions, timing and error rows per variant and
// subset, the manifest, the resolved config and report.json. No libtorch.

#include <string>

#include <nlohmann/json.hpp>

namespace kvbench {

struct RunLayout {
  explicit RunLayout(std::string root_dir) : root(std::move(root_dir)) {}
  std::string root;
  std::string predictions(const std::string& variant, const std::string& subset) const;
  std::string timing(const std::string& variant, const std::string& subset) const;
  std::string errors(const std::string& variant, const std::string& subset) const;
  std::string report() const;
  std::string manifest() const;
  std::string resolved_config() const;
};

/// A run's manifest.json (kvbench's own state: it is rewritten by the command reading it), checked to be of the
/// shape kvbench writes: an object whose "sessions" is a list of objects and "merged_from" a list of folders.
/// Anything else is an error naming the file and the key, never a crash or a silently wrong report.
nlohmann::json read_manifest(const std::string& path);

}  // namespace kvbench
