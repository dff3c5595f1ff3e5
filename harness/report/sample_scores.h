#pragma once
// Per-sample scores of one variant of a run, read back from its prediction files and scored as the official
// scorer scores them (in points), keyed by the sample's _id: what paired comparisons and confidence intervals
// need beyond report.json's per-subset scores. No libtorch.

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "harness/report/run_layout.h"

namespace kvbench::report {

/// _id -> score in points (0-100) of `variant`'s predictions for `task`; throws naming the file when there
/// are none or a row has no _id.
std::map<std::string, double> scores_by_id(const RunLayout& layout, const std::string& variant, const std::string& task);

/// The 95% interval of `variant`'s average over `subsets` (the mean of per-subset means), a bootstrap
/// stratified by subset over the per-sample scores (10,000 resamples, seed 1: paired.h's
/// stratified_bootstrap_ci); nullopt when no subset has a scored sample. Throws as scores_by_id does.
std::optional<std::pair<double, double>> average_interval(const RunLayout& layout, const std::string& variant,
                                                          const std::vector<std::string>& subsets);

}  // namespace kvbench::report
