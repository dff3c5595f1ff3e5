#pragma once
// kvbench analyze: does coverage predict score? Per sample and variant of one run, the sample's score (as
// the official scorer scores it, in points) beside the coverage statistics its prediction row records
// (harness/stats/coverage.h: model coverage, mean layer coverage, mean head overlap, vocab coverage and,
// where the sample marks its evidence, evidence recall; in percent). Spearman correlations of score with
// each statistic, pooled, within each budget (so budget size does not drive the result) and within each
// task. Full-cache variants (coverage 100% by construction) are left out. No libtorch.

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness/report/correlation.h"
#include "harness/report/report_file.h"

namespace kvbench::report {

/// The statistics analyze reads from each prediction row's "coverage", in this order.
const std::vector<std::string>& coverage_statistic_names();

/// One (variant, sample) of a run.
struct CoveragePoint {
  std::string variant, series, task, id;  ///< series: the variant without its budget ("kvec-rho0.1")
  double budget = 0;                       ///< tokens per KV head per layer (budget_for_axis)
  double score = 0;                        ///< points, 0-100
  std::map<std::string, double> stats;     ///< percent; a statistic the row lacks is absent
};

/// Every compressed variant's samples that have a score and coverage statistics; `tasks` (empty: all of the
/// run's subsets) narrows it. Throws naming the file when predictions are missing or a row has no coverage.
std::vector<CoveragePoint> read_coverage_points(const ReportFile& report, const std::vector<std::string>& tasks = {});

/// One row of the analysis: a scope ("all", "budget 128", "task niah_single") and, per statistic, the
/// correlation of score with it over the scope's points that have the statistic.
struct CorrelationRow {
  std::string scope;
  std::map<std::string, RankCorrelation> by_statistic;
};

/// Rows: "all", then each budget ascending, then each task in the run's order.
std::vector<CorrelationRow> correlate_coverage(const std::vector<CoveragePoint>& points,
                                               const std::vector<std::string>& task_order);

std::string correlations_markdown(const std::vector<CorrelationRow>& rows, const std::string& run);
nlohmann::json correlations_json(const std::vector<CorrelationRow>& rows, const std::string& run);

}  // namespace kvbench::report
