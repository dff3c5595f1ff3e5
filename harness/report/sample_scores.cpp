#include "harness/report/sample_scores.h"

#include <vector>

#include "datasets/subset.h"
#include "harness/common/error.h"
#include "harness/common/jsonl.h"
#include "harness/common/paths.h"
#include "harness/report/paired.h"
#include "metrics/scorer.h"

namespace kvbench::report {

std::map<std::string, double> scores_by_id(const RunLayout& layout, const std::string& variant, const std::string& task) {
  const std::string path = layout.predictions(variant, task);
  KV_CHECK(paths::exists(path), "no predictions of variant '", variant, "' for ", task, " (", path, ")");
  const metrics::PredictionFile file = metrics::read_prediction_file(path);
  const std::vector<double> scores = metrics::sample_scores(base_subset(task), file);
  std::map<std::string, double> out;
  std::size_t i = 0;
  for (const nlohmann::json& row : read_jsonl_rows(path)) {
    KV_CHECK(row.contains("_id") && row["_id"].is_string(), path, ": row ", i + 1, " has no string _id to pair by");
    out[row["_id"].get<std::string>()] = 100.0 * scores.at(i++);
  }
  return out;
}

std::optional<std::pair<double, double>> average_interval(const RunLayout& layout, const std::string& variant,
                                                          const std::vector<std::string>& subsets) {
  std::vector<std::vector<double>> groups;
  for (const std::string& subset : subsets) {
    std::vector<double> samples;
    for (const auto& [id, score] : scores_by_id(layout, variant, subset)) samples.push_back(score);
    if (!samples.empty()) groups.push_back(std::move(samples));
  }
  if (groups.empty()) return std::nullopt;
  return stratified_bootstrap_ci(groups, 10000, 1);
}

}  // namespace kvbench::report
