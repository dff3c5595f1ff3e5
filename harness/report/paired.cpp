#include "harness/report/paired.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "harness/common/error.h"

namespace kvbench::report {
namespace {
// [sorted[floor(q R)], sorted[ceil((1 - q) R) - 1]], q = (1 - level) / 2.
std::pair<double, double> percentile_interval(std::vector<double> values, double level) {
  std::sort(values.begin(), values.end());
  const double q = (1 - level) / 2, r = static_cast<double>(values.size());
  const auto lo = static_cast<std::size_t>(std::floor(q * r));
  const auto hi = static_cast<std::size_t>(std::max(1.0, std::ceil((1 - q) * r))) - 1;
  return {values[lo], values[hi]};
}
}  // namespace

double sign_test_p(std::size_t wins, std::size_t losses) {
  const std::size_t n = wins + losses, k = std::min(wins, losses);
  if (n == 0) return 1.0;
  double tail = 0;
  if (n <= 1000) {
    // P(X = i) from P(X = 0) = 2^-n by the ratio (n - i) / (i + 1): exact for small n, no overflow up to 1000.
    double term = std::ldexp(1.0, -static_cast<int>(n));
    for (std::size_t i = 0; i <= k; ++i) {
      tail += term;
      term = term * static_cast<double>(n - i) / static_cast<double>(i + 1);
    }
  } else {  // 2^-n underflows: sum in log space
    for (std::size_t i = 0; i <= k; ++i)
      tail += std::exp(std::lgamma(static_cast<double>(n) + 1) - std::lgamma(static_cast<double>(i) + 1) -
                       std::lgamma(static_cast<double>(n - i) + 1) - static_cast<double>(n) * std::log(2.0));
  }
  return std::min(1.0, 2 * tail);
}

std::pair<double, double> bootstrap_ci(const std::vector<double>& diffs, int resamples, std::uint64_t seed,
                                       double level) {
  KV_CHECK(!diffs.empty(), "bootstrap of no samples");
  KV_CHECK(resamples >= 1, "--resamples must be at least 1, got ", resamples);
  KV_CHECK(level > 0 && level < 1, "confidence level must be in (0, 1), got ", level);
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<std::size_t> pick(0, diffs.size() - 1);
  std::vector<double> means(static_cast<std::size_t>(resamples));
  for (double& m : means) {
    double sum = 0;
    for (std::size_t i = 0; i < diffs.size(); ++i) sum += diffs[pick(rng)];
    m = sum / static_cast<double>(diffs.size());
  }
  return percentile_interval(std::move(means), level);
}

std::pair<double, double> stratified_bootstrap_ci(const std::vector<std::vector<double>>& groups, int resamples,
                                                  std::uint64_t seed, double level) {
  KV_CHECK(!groups.empty(), "bootstrap of no groups");
  for (const auto& g : groups) KV_CHECK(!g.empty(), "bootstrap of an empty group");
  KV_CHECK(resamples >= 1, "--resamples must be at least 1, got ", resamples);
  KV_CHECK(level > 0 && level < 1, "confidence level must be in (0, 1), got ", level);
  std::mt19937_64 rng(seed);
  std::vector<double> stats(static_cast<std::size_t>(resamples));
  for (double& stat : stats) {
    double sum_of_means = 0;
    for (const auto& g : groups) {
      std::uniform_int_distribution<std::size_t> pick(0, g.size() - 1);
      double sum = 0;
      for (std::size_t i = 0; i < g.size(); ++i) sum += g[pick(rng)];
      sum_of_means += sum / static_cast<double>(g.size());
    }
    stat = sum_of_means / static_cast<double>(groups.size());
  }
  return percentile_interval(std::move(stats), level);
}

PairedStats compare_paired(const std::vector<double>& a, const std::vector<double>& b, int resamples,
                           std::uint64_t seed) {
  KV_CHECK(a.size() == b.size() && !a.empty(), "a paired comparison needs the same samples on both sides (", a.size(),
           " vs ", b.size(), ")");
  PairedStats s;
  s.n = a.size();
  std::vector<double> diffs;
  for (std::size_t i = 0; i < a.size(); ++i) {
    s.mean_a += a[i];
    s.mean_b += b[i];
    diffs.push_back(a[i] - b[i]);
    s.mean_diff += diffs.back();
    if (a[i] > b[i]) ++s.wins;
    else if (a[i] < b[i]) ++s.losses;
    else ++s.ties;
  }
  const double n = static_cast<double>(s.n);
  s.mean_a /= n;
  s.mean_b /= n;
  s.mean_diff /= n;
  std::tie(s.ci_low, s.ci_high) = bootstrap_ci(diffs, resamples, seed);
  s.sign_p = sign_test_p(s.wins, s.losses);
  return s;
}

nlohmann::json PairedStats::to_json() const {
  return {{"n", n}, {"mean_a", mean_a}, {"mean_b", mean_b}, {"mean_diff", mean_diff}, {"wins", wins},
          {"ties", ties}, {"losses", losses}, {"ci95", {ci_low, ci_high}}, {"sign_test_p", sign_p}};
}

}  // namespace kvbench::report
