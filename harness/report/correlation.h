#pragma once
// Rank correlation for `kvbench analyze` (does coverage predict score?): Spearman's rho with tied values
// given their average rank (as scipy.stats.spearmanr), its two-sided p-value from Student's t with n - 2
// degrees of freedom (scipy's default), and a 95% interval by Fisher's z with the Bonett-Wright (2000)
// standard error. No libtorch.

#include <cstddef>
#include <vector>

namespace kvbench::report {

/// Spearman's rho of paired values and what goes with it. rho is NaN (p 1, interval NaN) when n < 3 or
/// either side is constant (no ranking to correlate).
struct RankCorrelation {
  std::size_t n = 0;
  double rho = 0;
  double p = 1;                ///< two-sided, H0: rho = 0; t = rho sqrt((n - 2) / (1 - rho^2)), df n - 2
  double ci_low = 0, ci_high = 0;  ///< tanh(atanh(rho) -/+ 1.96 sqrt((1 + rho^2 / 2) / (n - 3))); n > 3
};

/// Ranks 1..n, ties given the mean of the ranks they span.
std::vector<double> average_ranks(const std::vector<double>& values);

/// Pearson's correlation of x and y (equal lengths); NaN when either is constant or n < 2.
double pearson(const std::vector<double>& x, const std::vector<double>& y);

RankCorrelation spearman(const std::vector<double>& x, const std::vector<double>& y);

/// Two-sided p-value of Student's t statistic with `df` degrees of freedom: I_{df / (df + t^2)}(df / 2, 1 / 2).
double student_t_two_sided_p(double t, double df);

/// The regularized incomplete beta function I_x(a, b), by its continued fraction (modified Lentz).
double regularized_incomplete_beta(double x, double a, double b);

}  // namespace kvbench::report
