#include "harness/report/coverage_analysis.h"

#include <cmath>
#include <iomanip>
#include <set>
#include <sstream>

#include "harness/common/error.h"
#include "harness/common/jsonl.h"
#include "harness/common/paths.h"
#include "harness/report/run_layout.h"
#include "harness/report/sample_scores.h"

namespace kvbench::report {

const std::vector<std::string>& coverage_statistic_names() {
  static const std::vector<std::string> kNames = {"model_coverage", "mean_layer_coverage", "mean_head_overlap",
                                                  "vocab_coverage", "evidence_recall"};
  return kNames;
}

namespace {

// "kvec-rho0.1-128" -> "kvec-rho0.1" when the variant's budget is 128 tokens; else the name as it is.
std::string series_of(const ReportVariant& v) {
  const auto tokens = v.token_budget();
  if (!tokens) return v.name;
  std::ostringstream b;
  b << "-" << static_cast<long long>(*tokens);
  const std::string suffix = b.str();
  const std::string& n = v.name;
  if (n.size() > suffix.size() && n.compare(n.size() - suffix.size(), suffix.size(), suffix) == 0)
    return n.substr(0, n.size() - suffix.size());
  return n;
}

std::string fixed(double x, int digits) {
  if (std::isnan(x)) return "–";
  std::ostringstream s;
  s << std::fixed << std::setprecision(digits) << x;
  std::string out = s.str();
  return out == "-0.00" ? "0.00" : out;
}

nlohmann::json number_or_null(double x) { return std::isnan(x) ? nlohmann::json(nullptr) : nlohmann::json(x); }

}  // namespace

std::vector<CoveragePoint> read_coverage_points(const ReportFile& report, const std::vector<std::string>& tasks) {
  const RunLayout layout(paths::parent(report.path));
  const std::vector<std::string>& wanted = tasks.empty() ? report.subsets : tasks;
  std::vector<CoveragePoint> points;
  for (const ReportVariant& v : report.variants) {
    if (v.is_full()) continue;
    const auto budget = v.budget_for_axis();
    KV_CHECK(budget.has_value(), report.path, ": variant ", v.name, " has no budget in tokens to group by");
    for (const std::string& task : wanted) {
      const std::map<std::string, double> scores = scores_by_id(layout, v.name, task);
      const std::string path = layout.predictions(v.name, task);
      std::size_t line = 0;
      for (const nlohmann::json& row : read_jsonl_rows(path)) {
        ++line;
        KV_CHECK(row.contains("coverage") && row["coverage"].is_object(), path, ": row ", line,
                 " has no coverage statistics (runs record them unless coverage is turned off)");
        CoveragePoint p{v.name, series_of(v), task, row.at("_id").get<std::string>(), *budget, scores.at(row.at("_id")), {}};
        for (const std::string& key : coverage_statistic_names()) {
          const auto it = row["coverage"].find(key);
          if (it != row["coverage"].end() && it->is_number()) p.stats[key] = 100.0 * it->get<double>();
        }
        points.push_back(std::move(p));
      }
    }
  }
  KV_CHECK(!points.empty(), report.path, ": no compressed variant has scored samples to analyze");
  return points;
}

std::vector<CorrelationRow> correlate_coverage(const std::vector<CoveragePoint>& points,
                                               const std::vector<std::string>& task_order) {
  auto row_for = [&](const std::string& scope, auto&& keep) {
    CorrelationRow row{scope, {}};
    for (const std::string& stat : coverage_statistic_names()) {
      std::vector<double> x, y;
      for (const CoveragePoint& p : points) {
        const auto it = p.stats.find(stat);
        if (!keep(p) || it == p.stats.end()) continue;
        x.push_back(it->second);
        y.push_back(p.score);
      }
      if (!x.empty()) row.by_statistic[stat] = spearman(x, y);
    }
    return row;
  };
  std::vector<CorrelationRow> rows = {row_for("all", [](const CoveragePoint&) { return true; })};
  std::set<double> budgets;
  for (const CoveragePoint& p : points) budgets.insert(p.budget);
  for (const double b : budgets) {
    std::ostringstream scope;
    scope << "budget " << b;
    rows.push_back(row_for(scope.str(), [b](const CoveragePoint& p) { return p.budget == b; }));
  }
  for (const std::string& task : task_order)
    rows.push_back(row_for("task " + task, [&task](const CoveragePoint& p) { return p.task == task; }));
  return rows;
}

std::string correlations_markdown(const std::vector<CorrelationRow>& rows, const std::string& run) {
  std::ostringstream out;
  out << "Spearman correlation of per-sample score with each coverage statistic, run " << run
      << " (compressed variants only; [95% interval], p two-sided; n = samples x variants)\n\n| scope | n |";
  for (const std::string& stat : coverage_statistic_names()) out << " " << stat << " |";
  out << "\n|---|---:|";
  for (std::size_t i = 0; i < coverage_statistic_names().size(); ++i) out << "---|";
  out << "\n";
  for (const CorrelationRow& row : rows) {
    std::size_t n = 0;
    for (const auto& [stat, c] : row.by_statistic) n = std::max(n, c.n);
    out << "| " << row.scope << " | " << n << " |";
    for (const std::string& stat : coverage_statistic_names()) {
      const auto it = row.by_statistic.find(stat);
      if (it == row.by_statistic.end() || std::isnan(it->second.rho)) {
        out << " – |";
        continue;
      }
      const RankCorrelation& c = it->second;
      std::ostringstream p;
      p << std::setprecision(2) << (c.p < 1e-4 ? 1e-4 : c.p);
      out << " " << fixed(c.rho, 2) << " [" << fixed(c.ci_low, 2) << ", " << fixed(c.ci_high, 2) << "], p "
          << (c.p < 1e-4 ? "< " : "") << p.str() << " |";
    }
    out << "\n";
  }
  return out.str();
}

nlohmann::json correlations_json(const std::vector<CorrelationRow>& rows, const std::string& run) {
  nlohmann::json out = {{"run", run}, {"method", "spearman, average ranks for ties; p: Student t, n - 2 df; "
                                                 "95% interval: Fisher z, Bonett-Wright standard error"},
                        {"rows", nlohmann::json::array()}};
  for (const CorrelationRow& row : rows) {
    nlohmann::json r = {{"scope", row.scope}, {"statistics", nlohmann::json::object()}};
    for (const auto& [stat, c] : row.by_statistic)
      r["statistics"][stat] = {{"n", c.n}, {"rho", number_or_null(c.rho)}, {"p", number_or_null(c.p)},
                               {"ci95", {number_or_null(c.ci_low), number_or_null(c.ci_high)}}};
    out["rows"].push_back(std::move(r));
  }
  return out;
}

}  // namespace kvbench::report
