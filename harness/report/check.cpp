#include "harness/report/check.h"

#include <cmath>

#include "harness/common/error.h"
#include "harness/report/table.h"

namespace kvbench::report {

namespace {

// Scores carry two decimals: a drop of exactly tol must not count because of binary rounding.
constexpr double kSlack = 1e-9;

std::optional<double> mean(const std::vector<double>& values) {
  if (values.empty()) return std::nullopt;
  double sum = 0;
  for (const double v : values) sum += v;
  return sum / static_cast<double>(values.size());
}

// The report's average, comparable with the baseline's (see check.h).
std::optional<double> comparable_average(const ReportVariant& now, const ReportVariant& base) {
  if (!base.scores.empty()) {
    std::vector<double> values;
    for (const auto& [subset, score] : base.scores) {
      const auto it = now.scores.find(subset);
      if (it == now.scores.end()) {
        values.clear();
        break;
      }
      values.push_back(it->second);
    }
    if (!values.empty()) return mean(values);
  }
  if (now.average) return now.average;
  std::vector<double> all;
  for (const auto& [subset, score] : now.scores) all.push_back(score);
  return mean(all);
}

}  // namespace

CheckResult check_report(const ReportFile& report, const ReportFile& baseline, double tol) {
  KV_CHECK(std::isfinite(tol) && tol >= 0, "--tol must be a non-negative number of points, got ", tol);
  CheckResult result;
  const auto compare = [&](const std::string& variant, const std::string& subset, double base,
                           std::optional<double> now, const std::string& why) {
    if (!now) {
      result.regressions.push_back({variant, subset, base, std::nullopt, why});
    } else if (*now - base < -tol - kSlack) {
      result.regressions.push_back({variant, subset, base, now, ""});
    }
  };
  for (const auto& base : baseline.variants) {
    const ReportVariant* now = report.find(base.name);
    std::vector<std::string> subsets;
    for (const auto& entry : base.scores) subsets.push_back(entry.first);
    for (const auto& subset : order_subsets(subsets)) {  // the papers' column order
      const double score = base.scores.at(subset);
      ++result.scores_compared;
      std::optional<double> value;
      if (now) {
        const auto it = now->scores.find(subset);
        if (it != now->scores.end()) value = it->second;
      }
      compare(base.name, subset, score, value, now ? "no score in the report" : "variant not in the report");
    }
    if (base.average) {
      ++result.averages_compared;
      compare(base.name, "average", *base.average, now ? comparable_average(*now, base) : std::nullopt,
              now ? "no scores in the report" : "variant not in the report");
    }
  }
  return result;
}

std::string format_regression(const Regression& r) {
  std::string line = "regression: " + r.variant + "  " + r.subset + "  baseline " + format_fixed(r.baseline, 2);
  if (!r.now) return line + "  now missing (" + r.why + ")";
  return line + "  now " + format_fixed(*r.now, 2) + "  delta " + format_fixed(r.delta(), 2);
}

}  // namespace kvbench::report
