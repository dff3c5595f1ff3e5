#pragma once
// Figures of report.json files (kvbench plot --report), drawn with svg.h:
//  - score vs budget: x = KV budget in tokens per KV head per layer (log2 axis; a variant configured by
//    eviction rate or KV bytes sits at its resolved mean budget, budget_tokens.mean), y = the LongBench
//    average (or one subset's score), one line per policy (per policy and run with several reports; per
//    policy and params when one policy appears with different params), the full cache as a horizontal
//    dashed line per run;
//  - coverage vs layer: each variant's layer_coverage_curve (share of prompt positions kept by at least one
//    KV head, per layer), one line per variant; full-cache variants (coverage 1 everywhere) are left out.
// Colors: a colorblind-safe categorical palette (Okabe-Ito); every line also gets its own marker shape.

#include <string>
#include <vector>

#include "harness/report/coverage_analysis.h"
#include "harness/report/report_file.h"

namespace kvbench::report {

struct ReportPlotOptions {
  std::string subset;                 ///< score vs budget: plot this subset's score instead of the average
  std::vector<std::string> variants;  ///< only these variants (by name; empty = all)
  std::string title;                  ///< overrides the default title
};

/// Throws kvbench::Error when nothing can be drawn (no variant with a score and a budget, no curves).
std::string score_vs_budget_svg(const std::vector<ReportFile>& reports, const ReportPlotOptions& options = {});
std::string coverage_vs_layer_svg(const std::vector<ReportFile>& reports, const ReportPlotOptions& options = {});
/// kvbench analyze's scatter: task score vs one coverage statistic (coverage_analysis.h), one point per
/// variant and task (the means over its samples), colored and marked by series (the variant without its
/// budget); the subtitle gives the per-sample Spearman rho. `suite` names the data ("synthetic suite").
std::string score_vs_statistic_svg(const std::vector<CoveragePoint>& points, const std::string& statistic,
                                   const std::string& run, const std::string& suite);

}  // namespace kvbench::report
