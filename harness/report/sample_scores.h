#pragma once
// Per-sample scores of one variant of a run, read back from its prediction files and scored as the official
// scorer scores them (in points), keyed by the sample's _id: what paired comparisons and confidence intervals
// need beyond report.json's per-subset scores. No libtorch.

#include <map>
#include <string>

#include "harness/report/run_layout.h"

namespace kvbench::report {

/// _id -> score in points (0-100) of `variant`'s predictions for `task`; throws naming the file when there
/// are none or a row has no _id.
std::map<std::string, double> scores_by_id(const RunLayout& layout, const std::string& variant, const std::string& task);

}  // namespace kvbench::report
