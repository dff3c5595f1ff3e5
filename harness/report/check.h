#pragma once
// kvbench check: is a report.json at least as good as a baseline report.json? For CI and sweeps.
//
// First, are the two comparable at all (compare_runs)? Each of these, when both reports record it, must be the
// same: the model (its name and config.json's sha256), the evaluation settings (config_sha256), the data files
// (the sha256 of every subset file both read), the samples (sample ids per subset), the set of variants, and
// each common variant's definition (policy, budget, params, protocol, budget definition, granularity, decode).
// A report that does not record something (an older or hand-written one) leaves it unchecked, which is said.
// With `intersection`, differing samples, subsets and variants are not a difference: only what both runs
// share is compared, each subset's score recomputed from the predictions over the common samples.
//
// Then every (variant, subset) score of the baseline is compared with the report's (variants matched by
// name), and so is every baseline variant's "average". A drop of more than `tol` points is a regression; so is
// a baseline score or average the report lacks. The report's average is compared as the mean of its scores
// over the baseline's scored subsets (when it has them all); otherwise its "average" field, else the mean of
// all its scores.

#include <optional>
#include <string>
#include <vector>

#include "harness/report/report_file.h"

namespace kvbench::report {

/// One score of the baseline set against the report's.
struct Regression {
  std::string variant;
  std::string subset;              ///< a subset name, or "average"
  double baseline = 0;
  std::optional<double> now;       ///< absent: missing from the report
  std::string why;                 ///< for missing entries: "variant not in the report", ...
  double delta() const { return now ? *now - baseline : 0; }
};

struct CheckResult {
  std::vector<Regression> compared;     ///< every score and average compared, in order
  std::vector<Regression> regressions;  ///< those that dropped by more than tol, or are missing
  int scores_compared = 0, averages_compared = 0;
  bool ok() const { return regressions.empty(); }
};

/// Whether two reports can be compared score for score (see the header comment).
struct Comparability {
  std::vector<std::string> differences;  ///< each one makes them not comparable ("model: A vs B")
  std::vector<std::string> notes;        ///< what was not checked, or (intersection) what was left out
  bool ok() const { return differences.empty(); }
};

Comparability compare_runs(const ReportFile& report, const ReportFile& baseline, bool intersection);

/// `report` and `baseline` reduced to what both hold: their common variants and scored subsets, and each subset
/// rescored from the predictions beside each report.json over the samples both ran (the report's own score
/// where the samples are the same). Throws naming the file when predictions are needed and absent.
std::pair<ReportFile, ReportFile> intersect_runs(const ReportFile& report, const ReportFile& baseline);

/// Throws kvbench::Error when tol is negative or not finite.
CheckResult check_report(const ReportFile& report, const ReportFile& baseline, double tol);

/// One line: "regression: snapkv-128  qasper  baseline 21.82  now 20.10  delta -1.72" (no newline).
std::string format_regression(const Regression& r);

/// The check as a JUnit XML document (the Ant schema: one testsuite per baseline variant, one testcase per
/// subset and the average, a <failure> per regression), or, when `comparability` is not ok, one testsuite whose
/// testcase "comparable" carries an <error> listing the differences. `timestamp` as 2026-12-02T17:30:00.
std::string junit_xml(const CheckResult& result, const Comparability& comparability, double tol,
                      const std::string& timestamp, const std::string& hostname);

}  // namespace kvbench::report
