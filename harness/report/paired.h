#pragma once
// Paired comparison of two variants of one run, sample by sample (kvbench compare): does A beat B by more
// than noise? The same prompts went through both, so per-sample differences carry the comparison: their
// mean, wins/ties/losses, a paired bootstrap confidence interval of the mean difference and an exact sign
// test. No libtorch.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace kvbench::report {

/// The comparison of paired scores a[i] vs b[i] (points, higher is better).
struct PairedStats {
  std::size_t n = 0;
  double mean_a = 0, mean_b = 0, mean_diff = 0;  ///< mean_diff = mean(a - b)
  std::size_t wins = 0, ties = 0, losses = 0;    ///< a > b, a == b, a < b
  double ci_low = 0, ci_high = 0;                ///< paired bootstrap percentile interval of mean_diff
  double sign_p = 1;                             ///< exact two-sided sign test over the untied pairs
  nlohmann::json to_json() const;
};

/// Exact two-sided sign test: 2 P(X <= min(wins, losses)) for X ~ Binomial(wins + losses, 1/2), capped at 1;
/// 1 when every pair ties.
double sign_test_p(std::size_t wins, std::size_t losses);

/// Percentile bootstrap of the mean of `diffs`: `resamples` resamples with replacement (std::mt19937_64
/// seeded with `seed`, indices drawn uniformly), their means sorted; the interval is [sorted[floor(q R)],
/// sorted[ceil((1 - q) R) - 1]] with q = (1 - level) / 2.
std::pair<double, double> bootstrap_ci(const std::vector<double>& diffs, int resamples, std::uint64_t seed,
                                       double level = 0.95);

/// Percentile bootstrap of a mean of group means (a table's average over subsets): each resample draws every
/// group's samples with replacement within the group, the statistic is the mean over groups of the resampled
/// group means; interval as bootstrap_ci's. Every group needs a sample.
std::pair<double, double> stratified_bootstrap_ci(const std::vector<std::vector<double>>& groups, int resamples,
                                                  std::uint64_t seed, double level = 0.95);

/// Everything above for a and b (equal lengths, at least one pair).
PairedStats compare_paired(const std::vector<double>& a, const std::vector<double>& b, int resamples = 10000,
                           std::uint64_t seed = 1);

}  // namespace kvbench::report
