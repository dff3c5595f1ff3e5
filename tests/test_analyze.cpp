// kvbench analyze and its statistics (harness/report/correlation.h, coverage_analysis.h). Expected values come
// from scipy's documentation (scipy.stats.spearmanr's examples, cited beside them) or are worked out by hand
// in the comment beside them (closed forms of Student's t for 2 and 4 degrees of freedom).
#include <gtest/gtest.h>

#include <cmath>

#include <nlohmann/json.hpp>

#include "harness/common/paths.h"
#include "harness/report/correlation.h"
#include "harness/report/report_file.h"
#include "harness/report/report_plots.h"
#include "tests/test_support.h"

namespace kvbench {
namespace {

using report::spearman;

TEST(Analyze, SpearmanMatchesScipysDocumentedExamples) {
  // scipy.stats.spearmanr docs (1.14): spearmanr([1, 2, 3, 4, 5], [5, 6, 7, 8, 7]) -> statistic
  // 0.8207826816681233, pvalue 0.08858700531354381 (one tie in y, given the average rank 3.5).
  const auto a = spearman({1, 2, 3, 4, 5}, {5, 6, 7, 8, 7});
  EXPECT_EQ(a.n, 5u);
  EXPECT_NEAR(a.rho, 0.8207826816681233, 1e-15);
  EXPECT_NEAR(a.p, 0.08858700531354381, 1e-12);
  // By hand: rho = 8 / sqrt(95) (rank deviations dx = -2..2, dy = -2, -1, .5, 2, .5). Interval: Fisher z with
  // se = sqrt((1 + rho^2 / 2) / (n - 3)): tanh(atanh(rho) -/+ 1.96 se) = [-0.41629081750673824, 0.9920459711149154].
  EXPECT_NEAR(a.rho, 8 / std::sqrt(95.0), 1e-15);
  EXPECT_NEAR(a.ci_low, -0.41629081750673824, 1e-12);
  EXPECT_NEAR(a.ci_high, 0.9920459711149154, 1e-12);
  // The docs' permutation example: its asymptotic p-value is 0.07239650145772594. By hand: ranks x
  // [4, 2, 3, 6, 5, 1], y [6, 1, 3, 5, 4, 2], sum d^2 = 8, rho = 1 - 6 * 8 / (6 * 35) = 27 / 35.
  const auto b = spearman({1.76405235, 0.40015721, 0.97873798, 2.2408932, 1.86755799, -0.97727788},
                          {2.71414076, 0.2488, 0.87551913, 2.6514917, 2.01160156, 0.47699563});
  EXPECT_NEAR(b.rho, 27.0 / 35.0, 1e-12);
  EXPECT_NEAR(b.p, 0.07239650145772594, 1e-12);
}

TEST(Analyze, RanksAndDegenerateInputs) {
  EXPECT_EQ(report::average_ranks({3, 1, 3, 2}), (std::vector<double>{3.5, 1, 3.5, 2}));
  EXPECT_EQ(report::average_ranks({0, 0, 0}), (std::vector<double>{2, 2, 2}));
  // A constant side or fewer than three points has no correlation: NaN, p 1.
  EXPECT_TRUE(std::isnan(spearman({1, 2, 3}, {5, 5, 5}).rho));
  EXPECT_EQ(spearman({1, 2, 3}, {5, 5, 5}).p, 1.0);
  EXPECT_TRUE(std::isnan(spearman({1, 2}, {1, 2}).rho));
  // A perfect ranking: rho 1, p 0, interval [1, 1].
  const auto perfect = spearman({1, 2, 3, 4, 5}, {10, 20, 30, 40, 50});
  EXPECT_DOUBLE_EQ(perfect.rho, 1.0);
  EXPECT_EQ(perfect.p, 0.0);
  EXPECT_DOUBLE_EQ(perfect.ci_low, 1.0);
  EXPECT_DOUBLE_EQ(spearman({1, 2, 3, 4}, {4, 3, 2, 1}).rho, -1.0);
}

TEST(Analyze, StudentTAndIncompleteBetaByClosedForms) {
  // I_x(1, 1) = x; I_x(a, 1) = x^a; I_{1/2}(a, a) = 1/2.
  EXPECT_NEAR(report::regularized_incomplete_beta(0.3, 1, 1), 0.3, 1e-14);
  EXPECT_NEAR(report::regularized_incomplete_beta(0.7, 3, 1), 0.343, 1e-14);
  EXPECT_NEAR(report::regularized_incomplete_beta(0.5, 2.5, 2.5), 0.5, 1e-14);
  // Two-sided p of Student's t: df 1 (Cauchy) 1 - (2 / pi) atan|t|; df 2: 1 - |t| / sqrt(2 + t^2).
  EXPECT_NEAR(report::student_t_two_sided_p(1.0, 1), 0.5, 1e-14);
  EXPECT_NEAR(report::student_t_two_sided_p(3.0, 1), 1 - 2 / M_PI * std::atan(3.0), 1e-13);
  EXPECT_NEAR(report::student_t_two_sided_p(2.0, 2), 1 - 2 / std::sqrt(6.0), 1e-14);
  EXPECT_NEAR(report::student_t_two_sided_p(-2.0, 2), 1 - 2 / std::sqrt(6.0), 1e-14);
  EXPECT_EQ(report::student_t_two_sided_p(0.0, 7), 1.0);
}

// kvbench analyze on a hand-made run: passkey (1 when the answer is in the prediction), two budgets.
//   a-64  (snapkv, 64):  s1 right, coverage 10%;  s2 wrong, 5%
//   b-64  (kvec, 64):    s1 right, 20%;           s2 right, 15%
//   a-128 (snapkv, 128): s1 right, 30%;           s2 wrong, 25%
// The full cache is in the report and must be left out.
TEST(Analyze, CommandCorrelatesScoreWithCoveragePooledPerBudgetAndPerTask) {
  test::TempDir dir;
  test::write_file(dir.file("report.json"),
                   R"({"run": "hand", "subsets": ["passkey"], "variants": [
                      {"name": "full", "policy": "full", "budget": null, "scores": {"passkey": 100.0}},
                      {"name": "a-64", "policy": "snapkv", "budget": 64, "scores": {"passkey": 50.0}},
                      {"name": "b-64", "policy": "kvec", "budget": 64, "scores": {"passkey": 100.0}},
                      {"name": "a-128", "policy": "snapkv", "budget": 128, "scores": {"passkey": 50.0}}]})");
  auto row = [](const std::string& id, bool right, double coverage) {
    nlohmann::json r = {{"_id", id}, {"pred", right ? "4711" : "none"}, {"answers", {"4711"}}, {"all_classes", nullptr},
                        {"length", 10}, {"coverage", {{"model_coverage", coverage}}}};
    return r.dump() + "\n";
  };
  for (const auto& [variant, rows] : std::vector<std::pair<std::string, std::string>>{
           {"full", row("s1", true, 1) + row("s2", true, 1)},
           {"a-64", row("s1", true, .10) + row("s2", false, .05)},
           {"b-64", row("s1", true, .20) + row("s2", true, .15)},
           {"a-128", row("s1", true, .30) + row("s2", false, .25)}}) {
    paths::create_directories(dir.file("predictions/" + variant));
    test::write_file(dir.file("predictions/" + variant + "/passkey.jsonl"), rows);
  }
  const auto r = test::run_kvbench("analyze --report " + dir.file("report.json") + " --format json --plot " + dir.file("fig"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["rows"].size(), 4u);  // all, budget 64, budget 128, task passkey
  // Pooled: x = [10, 5, 20, 15, 30, 25], y = [100, 0, 100, 100, 100, 0]; ranks x [2, 1, 4, 3, 6, 5], y
  // [4.5, 1.5, 4.5, 4.5, 4.5, 1.5]: sum dx dy = 3, sum dx^2 = 17.5, sum dy^2 = 12, rho = 3 / sqrt(210).
  // p: t = rho sqrt(4 / (1 - rho^2)), df 4: 1 - (3/4) (t / sqrt(a)) (1 - t^2 / (12 a)), a = 1 + t^2 / 4 = 0.69390663403457.
  const auto& all = j["rows"][0];
  EXPECT_EQ(all["scope"], "all");
  EXPECT_EQ(all["statistics"]["model_coverage"]["n"], 6);
  EXPECT_NEAR(all["statistics"]["model_coverage"]["rho"].get<double>(), 3 / std::sqrt(210.0), 1e-12);
  EXPECT_NEAR(all["statistics"]["model_coverage"]["p"].get<double>(), 0.69390663403457, 1e-10);
  // Budget 64: x = [10, 5, 20, 15], y = [100, 0, 100, 100]: ranks [2, 1, 4, 3] and [3, 1, 3, 3]: rho =
  // 3 / sqrt(15); t^2 = 3, df 2: p = 1 - sqrt(3 / 5) = 0.2254033307585167.
  const auto& b64 = j["rows"][1];
  EXPECT_EQ(b64["scope"], "budget 64");
  EXPECT_NEAR(b64["statistics"]["model_coverage"]["rho"].get<double>(), 3 / std::sqrt(15.0), 1e-12);
  EXPECT_NEAR(b64["statistics"]["model_coverage"]["p"].get<double>(), 0.2254033307585167, 1e-10);
  // Budget 128 has two points: no correlation (null).
  EXPECT_EQ(j["rows"][2]["scope"], "budget 128");
  EXPECT_TRUE(j["rows"][2]["statistics"]["model_coverage"]["rho"].is_null());
  EXPECT_EQ(j["rows"][3]["scope"], "task passkey");
  // Statistics the rows lack are not reported; the plot is drawn for those they have, titled by the suite.
  EXPECT_FALSE(all["statistics"].contains("evidence_recall"));
  const std::string svg = test::read_file(dir.file("fig-model_coverage.svg"));
  EXPECT_NE(svg.find(">synthetic suite: score vs model_coverage</text>"), std::string::npos) << svg.substr(0, 2000);
  EXPECT_NE(svg.find(">a</text>"), std::string::npos);  // series: the variant without its budget (a-64, a-128: a)
  EXPECT_NE(svg.find(">b</text>"), std::string::npos);
  EXPECT_FALSE(paths::exists(dir.file("fig-evidence_recall.svg")));

  const auto md = test::run_kvbench("analyze --report " + dir.file("report.json"));
  ASSERT_EQ(md.exit_code, 0) << md.err;
  EXPECT_NE(md.out.find("| budget 64 | 4 | 0.77 [-0.83, 1.00], p 0.23 |"), std::string::npos) << md.out;

  // A prediction row without coverage statistics is an error naming the file and row.
  test::write_file(dir.file("predictions/b-64/passkey.jsonl"), R"({"_id": "s1", "pred": "4711", "answers": ["4711"], "all_classes": null, "length": 10})" "\n");
  const auto bad = test::run_kvbench("analyze --report " + dir.file("report.json"));
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("b-64/passkey.jsonl: row 1 has no coverage statistics"), std::string::npos) << bad.err;
  const auto task = test::run_kvbench("analyze --report " + dir.file("report.json") + " --task qasper");
  EXPECT_NE(task.err.find("--task qasper: the run has no such subset (it has passkey)"), std::string::npos) << task.err;
}

// Acceptance 4: a synthetic-suite run is not titled "LongBench average score".
TEST(Analyze, FiguresAndTablesNameTheSuiteTheyShow) {
  auto report_of = [](const std::string& subsets) {
    return report::parse_report(nlohmann::json::parse(R"({"run": "r", "subsets": )" + subsets + R"(, "variants": [
        {"name": "snapkv-64", "policy": "snapkv", "budget": 64, "scores": {"passkey": 40.0, "qasper": 20.0}}]})"), "r.json");
  };
  const std::string synth = report::score_vs_budget_svg({report_of(R"(["passkey"])")});
  EXPECT_NE(synth.find(">synthetic suite average score vs KV cache budget</text>"), std::string::npos);
  EXPECT_EQ(synth.find("LongBench"), std::string::npos);
  const std::string lb = report::score_vs_budget_svg({report_of(R"(["qasper"])")});
  EXPECT_NE(lb.find(">LongBench average score vs KV cache budget</text>"), std::string::npos);
  const std::string both = report::score_vs_budget_svg({report_of(R"(["qasper", "passkey"])")});
  EXPECT_NE(both.find(">LongBench and synthetic average score vs KV cache budget</text>"), std::string::npos);
}

}  // namespace
}  // namespace kvbench
