#include "harness/report/correlation.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "harness/common/error.h"

namespace kvbench::report {
namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// The continued fraction of I_x(a, b) (Lentz's method); converges fast for x < (a + 1) / (a + b + 2).
double beta_fraction(double x, double a, double b) {
  constexpr double kTiny = 1e-300, kEps = 1e-15;
  double c = 1, d = 1 - (a + b) * x / (a + 1);
  d = 1 / (std::abs(d) < kTiny ? kTiny : d);
  double h = d;
  auto step = [&](double coef) {
    d = 1 + coef * d;
    d = 1 / (std::abs(d) < kTiny ? kTiny : d);
    c = 1 + coef / c;
    if (std::abs(c) < kTiny) c = kTiny;
    h *= d * c;
    return d * c;
  };
  for (int m = 1; m <= 500; ++m) {
    const double md = m;
    step(md * (b - md) * x / ((a + 2 * md - 1) * (a + 2 * md)));                           // d_{2m}
    const double last = step(-(a + md) * (a + b + md) * x / ((a + 2 * md) * (a + 2 * md + 1)));  // d_{2m+1}
    if (std::abs(last - 1) < kEps) break;
  }
  return h;
}
}  // namespace

std::vector<double> average_ranks(const std::vector<double>& values) {
  std::vector<std::size_t> order(values.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return values[a] < values[b]; });
  std::vector<double> ranks(values.size());
  for (std::size_t i = 0; i < order.size();) {
    std::size_t j = i;
    while (j + 1 < order.size() && values[order[j + 1]] == values[order[i]]) ++j;
    const double rank = (static_cast<double>(i) + static_cast<double>(j)) / 2 + 1;  // mean of ranks i+1 .. j+1
    for (std::size_t k = i; k <= j; ++k) ranks[order[k]] = rank;
    i = j + 1;
  }
  return ranks;
}

double pearson(const std::vector<double>& x, const std::vector<double>& y) {
  KV_CHECK(x.size() == y.size(), "internal error: pearson of ", x.size(), " and ", y.size(), " values");
  const std::size_t n = x.size();
  if (n < 2) return kNaN;
  const double mx = std::accumulate(x.begin(), x.end(), 0.0) / static_cast<double>(n);
  const double my = std::accumulate(y.begin(), y.end(), 0.0) / static_cast<double>(n);
  double sxy = 0, sxx = 0, syy = 0;
  for (std::size_t i = 0; i < n; ++i) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) * (x[i] - mx);
    syy += (y[i] - my) * (y[i] - my);
  }
  if (sxx == 0 || syy == 0) return kNaN;
  return std::clamp(sxy / std::sqrt(sxx * syy), -1.0, 1.0);
}

double regularized_incomplete_beta(double x, double a, double b) {
  KV_CHECK(a > 0 && b > 0, "internal error: incomplete beta with a = ", a, ", b = ", b);
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const double log_front = std::lgamma(a + b) - std::lgamma(a) - std::lgamma(b) + a * std::log(x) + b * std::log1p(-x);
  // The fraction converges for x below the mean-ish point; above it, use I_x(a, b) = 1 - I_{1-x}(b, a).
  if (x < (a + 1) / (a + b + 2)) return std::exp(log_front) * beta_fraction(x, a, b) / a;
  return 1 - std::exp(log_front) * beta_fraction(1 - x, b, a) / b;
}

double student_t_two_sided_p(double t, double df) {
  if (std::isnan(t)) return kNaN;
  if (std::isinf(t)) return 0;
  return regularized_incomplete_beta(df / (df + t * t), df / 2, 0.5);
}

RankCorrelation spearman(const std::vector<double>& x, const std::vector<double>& y) {
  RankCorrelation r;
  r.n = x.size();
  r.rho = r.n < 3 ? kNaN : pearson(average_ranks(x), average_ranks(y));
  if (std::isnan(r.rho)) {
    r.p = 1;
    r.ci_low = r.ci_high = kNaN;
    return r;
  }
  const double n = static_cast<double>(r.n);
  r.p = std::abs(r.rho) >= 1 ? 0 : student_t_two_sided_p(r.rho * std::sqrt((n - 2) / (1 - r.rho * r.rho)), n - 2);
  if (r.n <= 3 || std::abs(r.rho) >= 1) {
    r.ci_low = r.n <= 3 ? -1 : r.rho;
    r.ci_high = r.n <= 3 ? 1 : r.rho;
    return r;
  }
  const double z = std::atanh(r.rho), se = std::sqrt((1 + r.rho * r.rho / 2) / (n - 3));
  constexpr double kZ975 = 1.959963984540054;
  r.ci_low = std::tanh(z - kZ975 * se);
  r.ci_high = std::tanh(z + kZ975 * se);
  return r;
}

}  // namespace kvbench::report
