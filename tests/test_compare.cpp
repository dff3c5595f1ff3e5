// kvbench compare and its statistics (harness/report/paired.h). Every expected value is worked out by hand in
// the comment beside it.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "harness/common/paths.h"
#include "harness/report/paired.h"
#include "tests/test_support.h"

namespace kvbench {
namespace {

using report::bootstrap_ci;
using report::compare_paired;
using report::sign_test_p;

TEST(Compare, SignTestByHand) {
  // n = 10, k = 2: P(X <= 2) = (C(10,0) + C(10,1) + C(10,2)) / 2^10 = (1 + 10 + 45) / 1024; two-sided: x 2.
  EXPECT_DOUBLE_EQ(sign_test_p(8, 2), 2.0 * 56 / 1024);
  EXPECT_DOUBLE_EQ(sign_test_p(2, 8), 2.0 * 56 / 1024);
  EXPECT_NEAR(sign_test_p(10, 0), 2.0 / 1024, 1e-15);
  // n = 10, k = 5: 2 P(X <= 5) = 2 * 638 / 1024 > 1, capped.
  EXPECT_DOUBLE_EQ(sign_test_p(5, 5), 1.0);
  EXPECT_DOUBLE_EQ(sign_test_p(0, 0), 1.0);  // every pair tied: no evidence either way
  // Past n = 1000 (log-space sum): n = 2000, k = 1000 is the middle, p capped at 1; k = 0 underflows to 0.
  EXPECT_DOUBLE_EQ(sign_test_p(1000, 1000), 1.0);
  EXPECT_EQ(sign_test_p(2000, 0), 0.0);
  // n = 40, k = 4: (1 + 40 + 780 + 9880 + 91390) / 2^40 = 102091 / 1099511627776, x 2.
  EXPECT_NEAR(sign_test_p(36, 4), 2.0 * 102091 / 1099511627776.0, 1e-18);
  // The K-VEC vs SnapKV counts of docs/results/synth-comparison.md (4k, budget 128): 4 better, 36 worse.
  EXPECT_NEAR(sign_test_p(4, 36), 2.0 * 102091 / 1099511627776.0, 1e-18);
}

TEST(Compare, BootstrapIntervalByHand) {
  // Constant differences: every resample has the same mean.
  const auto c = bootstrap_ci({2, 2, 2}, 1000, 7);
  EXPECT_DOUBLE_EQ(c.first, 2);
  EXPECT_DOUBLE_EQ(c.second, 2);
  // diffs {0, 0, 0, 1}: a resample's mean is K/4 with K ~ Binomial(4, 1/4): P(0) = 81/256 = .316,
  // P(1/4) = 108/256, P(1/2) = 54/256, P(3/4) = 12/256, P(1) = 1/256. Cumulative: .316, .738, .949, .996, 1.
  // 2.5% quantile: 0 (already .316); 97.5% quantile: 3/4 (.949 < .975 <= .996). With 20,000 resamples the
  // counts sit many standard deviations from the cut points (e.g. ~18,980 means <= 1/2 vs the cut at 19,500).
  const auto q = bootstrap_ci({0, 0, 0, 1}, 20000, 1);
  EXPECT_DOUBLE_EQ(q.first, 0);
  EXPECT_DOUBLE_EQ(q.second, 0.75);
  // The same seed gives the same interval.
  EXPECT_EQ(bootstrap_ci({0, 0, 0, 1, 3}, 5000, 9), bootstrap_ci({0, 0, 0, 1, 3}, 5000, 9));
  EXPECT_NE(test::error_of([] { bootstrap_ci({}, 10, 1); }).find("no samples"), std::string::npos);
}

TEST(Compare, PairedStatsByHand) {
  // diffs a - b = {100, 0, -100, 100}: mean 25; wins 2, ties 1, losses 1; sign test n = 3, k = 1:
  // 2 (1 + 3) / 8 = 1.
  const auto s = compare_paired({100, 50, 0, 100}, {0, 50, 100, 0}, 2000, 3);
  EXPECT_EQ(s.n, 4u);
  EXPECT_DOUBLE_EQ(s.mean_a, 62.5);
  EXPECT_DOUBLE_EQ(s.mean_b, 37.5);
  EXPECT_DOUBLE_EQ(s.mean_diff, 25);
  EXPECT_EQ(s.wins, 2u);
  EXPECT_EQ(s.ties, 1u);
  EXPECT_EQ(s.losses, 1u);
  EXPECT_DOUBLE_EQ(s.sign_p, 1.0);
  EXPECT_LE(s.ci_low, s.mean_diff);
  EXPECT_GE(s.ci_high, s.mean_diff);
  EXPECT_NE(test::error_of([] { compare_paired({1}, {1, 2}); }).find("same samples"), std::string::npos);
}

// The command on a hand-made run: passkey (ruler_all: 1 when the answer is in the prediction) for variants x
// and y, paired by _id, one sample only in x.
TEST(Compare, CommandPairsByIdAndScoresLikeTheScorer) {
  test::TempDir dir;
  test::write_file(dir.file("report.json"),
                   R"({"run": "hand", "subsets": ["passkey"], "variants": [
                      {"name": "x", "policy": "snapkv", "budget": 64, "scores": {"passkey": 75.0}},
                      {"name": "y", "policy": "kvec", "budget": 64, "scores": {"passkey": 25.0}}]})");
  auto row = [](const std::string& id, const std::string& pred) {
    return nlohmann::json{{"_id", id}, {"pred", pred}, {"answers", {"4711"}}, {"all_classes", nullptr}, {"length", 10}}.dump() + "\n";
  };
  paths::create_directories(dir.file("predictions/x"));
  paths::create_directories(dir.file("predictions/y"));
  // x: s1 right, s2 right, s3 wrong, s4 right (s4 has no y row); y (other order): s3 right, s1 wrong, s2 right.
  test::write_file(dir.file("predictions/x/passkey.jsonl"),
                   row("s1", "4711") + row("s2", "it is 4711") + row("s3", "none") + row("s4", "4711"));
  test::write_file(dir.file("predictions/y/passkey.jsonl"), row("s3", "4711") + row("s1", "0") + row("s2", "4711"));
  const auto r = test::run_kvbench("compare --report " + dir.file("report.json") + " --a x --b y --format json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  const auto& t = j["tasks"]["passkey"];
  // Pairs (x, y): s1 (100, 0), s2 (100, 100), s3 (0, 100): diff mean 0, 1 win, 1 tie, 1 loss, sign p = 1.
  EXPECT_EQ(t["n"], 3);
  EXPECT_DOUBLE_EQ(t["mean_a"].get<double>(), 200.0 / 3);
  EXPECT_DOUBLE_EQ(t["mean_b"].get<double>(), 200.0 / 3);
  EXPECT_DOUBLE_EQ(t["mean_diff"].get<double>(), 0.0);
  EXPECT_EQ(t["wins"], 1);
  EXPECT_EQ(t["ties"], 1);
  EXPECT_EQ(t["losses"], 1);
  EXPECT_DOUBLE_EQ(t["sign_test_p"].get<double>(), 1.0);
  EXPECT_EQ(t["unpaired"], 1);
  EXPECT_EQ(j["tasks"]["all"]["n"], 3);
  const auto md = test::run_kvbench("compare --report " + dir.file("report.json") + " --a x --b y");
  EXPECT_NE(md.out.find("| passkey | 3 | 66.67 | 66.67 | 0.00 |"), std::string::npos) << md.out;
  const auto bad = test::run_kvbench("compare --report " + dir.file("report.json") + " --a x --b z");
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("no predictions of variant 'z'"), std::string::npos) << bad.err;
}

TEST(Compare, StratifiedIntervalByHand) {
  // Group 1 constant 100; group 2 {0, 0, 0, 100}, whose resampled mean has the exact quantiles [0, 75] (see
  // BootstrapIntervalByHand, x 100): the average (100 + m2) / 2 has [50, 87.5].
  const auto ci = report::stratified_bootstrap_ci({{100, 100}, {0, 0, 0, 100}}, 20000, 1);
  EXPECT_DOUBLE_EQ(ci.first, 50);
  EXPECT_DOUBLE_EQ(ci.second, 87.5);
  EXPECT_NE(test::error_of([] { report::stratified_bootstrap_ci({{1}, {}}, 10, 1); }).find("empty group"), std::string::npos);
}

// kvbench table --ci on a hand-made run: x scores passkey {100, 100} and niah_single {0, 0, 0, 100}.
TEST(Compare, TableCiIsTheStratifiedBootstrapOfTheRunsSamples) {
  test::TempDir dir;
  test::write_file(dir.file("report.json"),
                   R"({"run": "hand", "subsets": ["passkey", "niah_single"], "variants": [
                      {"name": "x", "policy": "snapkv", "budget": 64, "scores": {"passkey": 100.0, "niah_single": 25.0}}]})");
  auto row = [](const std::string& id, const std::string& pred) {
    return nlohmann::json{{"_id", id}, {"pred", pred}, {"answers", {"4711"}}, {"all_classes", nullptr}, {"length", 10}}.dump() + "\n";
  };
  paths::create_directories(dir.file("predictions/x"));
  test::write_file(dir.file("predictions/x/passkey.jsonl"), row("p1", "4711") + row("p2", "4711"));
  test::write_file(dir.file("predictions/x/niah_single.jsonl"), row("n1", "0") + row("n2", "0") + row("n3", "0") + row("n4", "4711"));
  const auto r = test::run_kvbench("table --report " + dir.file("report.json") + " --ci --format json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_DOUBLE_EQ(j["rows"][0]["average"].get<double>(), 62.5);
  EXPECT_EQ(j["rows"][0]["average_ci95"], nlohmann::json::array({50.0, 87.5}));
  const auto md = test::run_kvbench("table --report " + dir.file("report.json") + " --ci");
  EXPECT_NE(md.out.find("[50.00, 87.50]"), std::string::npos) << md.out;
  paths::remove_file(dir.file("predictions/x/passkey.jsonl"));
  const auto bad = test::run_kvbench("table --report " + dir.file("report.json") + " --ci");
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("--ci needs the run's predictions"), std::string::npos) << bad.err;
}

}  // namespace
}  // namespace kvbench
