#pragma once
// Where a run keeps its files (docs/report-format.md): predictions, timing and error rows per variant and
// subset, the manifest, the resolved config and report.json. No libtorch.

#include <string>

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

}  // namespace kvbench
