#pragma once
// kvbench check: is a report.json at least as good as a baseline report.json? For CI and sweeps.
//
// Every (variant, subset) score of the baseline is compared with the report's (variants matched by name),
// and so is every baseline variant's "average". A drop of more than `tol` points is a regression; so is a
// baseline variant, score or average the report lacks. Scores, subsets and variants only in the report are
// fine. The report's average is compared as the mean of its scores over the baseline's scored subsets
// (when it has them all), so that extra subsets in the report do not move it; otherwise its "average" field,
// else the mean of all its scores.

#include <optional>
#include <string>
#include <vector>

#include "harness/report/report_file.h"

namespace kvbench::report {

struct Regression {
  std::string variant;
  std::string subset;              ///< a subset name, or "average"
  double baseline = 0;
  std::optional<double> now;       ///< absent: missing from the report
  std::string why;                 ///< for missing entries: "variant not in the report", ...
  double delta() const { return now ? *now - baseline : 0; }
};

struct CheckResult {
  std::vector<Regression> regressions;
  int scores_compared = 0, averages_compared = 0;
  bool ok() const { return regressions.empty(); }
};

/// Throws kvbench::Error when tol is negative or not finite.
CheckResult check_report(const ReportFile& report, const ReportFile& baseline, double tol);

/// One line: "regression: snapkv-128  qasper  baseline 21.82  now 20.10  delta -1.72" (no newline).
std::string format_regression(const Regression& r);

}  // namespace kvbench::report
