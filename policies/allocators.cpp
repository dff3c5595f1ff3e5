// Layer and head allocators: how many evictable positions each layer and each KV head keeps.
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "harness/common/error.h"
#include "policies/components.h"

namespace kvbench {

std::vector<std::int64_t> pyramid_budgets(std::int64_t b, std::int64_t evictable, std::int64_t L, double beta) {
  KV_CHECK(beta > 0, "PyramidKV beta must be positive, got ", beta);
  std::int64_t min_num = static_cast<std::int64_t>(std::floor(static_cast<double>(b) / beta));
  std::int64_t max_num = 2 * b - min_num;
  if (max_num >= evictable) {
    max_num = evictable;
    min_num = 2 * b - max_num;
  }
  const std::int64_t step = L > 1 ? (max_num - min_num) / (L - 1) : 0;
  std::vector<std::int64_t> out;
  for (std::int64_t l = 0; l < L; ++l) out.push_back(std::clamp<std::int64_t>(max_num - l * step, 0, evictable));
  return out;
}

std::vector<std::int64_t> proportional_allocation(const std::vector<double>& weights,
                                                  const std::vector<std::int64_t>& caps, std::int64_t total) {
  const std::size_t n = weights.size();
  std::vector<std::int64_t> out(n, 0);
  std::vector<bool> capped(n, false);
  std::int64_t remaining = std::min<std::int64_t>(total, std::accumulate(caps.begin(), caps.end(), std::int64_t{0}));
  // Water-filling: share what is left among the uncapped items; items that would exceed their cap take the
  // cap and leave the rest to the others.
  while (remaining > 0) {
    double weight_sum = 0;
    for (std::size_t i = 0; i < n; ++i)
      if (!capped[i]) weight_sum += std::max(weights[i], 0.0);
    std::vector<std::size_t> open;
    for (std::size_t i = 0; i < n; ++i)
      if (!capped[i]) open.push_back(i);
    if (open.empty()) break;
    std::vector<double> share(n, 0);
    bool newly_capped = false;
    for (std::size_t i : open) {
      share[i] = weight_sum > 0 ? remaining * std::max(weights[i], 0.0) / weight_sum : static_cast<double>(remaining) / open.size();
      if (out[i] + share[i] >= caps[i]) {
        remaining -= caps[i] - out[i];
        out[i] = caps[i];
        capped[i] = true;
        newly_capped = true;
      }
    }
    if (newly_capped) continue;
    // No cap binds: floor the shares and hand the remainder out by largest fractional part.
    std::int64_t given = 0;
    std::vector<std::pair<double, std::size_t>> frac;
    for (std::size_t i : open) {
      const auto whole = static_cast<std::int64_t>(std::floor(share[i]));
      out[i] += whole;
      given += whole;
      frac.emplace_back(share[i] - static_cast<double>(whole), i);
    }
    std::stable_sort(frac.begin(), frac.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
    for (std::int64_t k = 0; k < remaining - given; ++k) ++out[frac[static_cast<std::size_t>(k) % frac.size()].second];
    remaining = 0;
  }
  return out;
}

namespace {
// How many of the global top `total` of the flattened scores [H, E] each head holds.
std::vector<std::int64_t> global_winners(const at::Tensor& scores, std::int64_t total) {
  const std::int64_t H = scores.size(0), E = scores.size(1);
  const at::Tensor winners = top_k_indices(scores.reshape({-1}), total).div(E, "floor");
  const at::Tensor counts = at::bincount(winners, /*weights=*/{}, H).to(at::kCPU, at::kLong).contiguous();
  return std::vector<std::int64_t>(counts.data_ptr<std::int64_t>(), counts.data_ptr<std::int64_t>() + H);
}
}  // namespace

std::vector<std::int64_t> ada_head_budgets(const at::Tensor& scores, std::int64_t b, double alpha, const AdaOptions& o) {
  KV_CHECK(alpha >= 0 && alpha <= 1, "Ada-KV alpha must be in [0, 1], got ", alpha);
  const std::int64_t H = scores.size(0), E = scores.size(1);
  const std::int64_t total = std::min(H * b, H * E);
  at::Tensor ranked = scores;
  if (o.normalize && total > 0) {
    const at::Tensor top_mass = std::get<0>(scores.topk(std::min(b, E), 1)).sum(1, true);
    ranked = scores * (top_mass / scores.sum(1, true));
  }
  const std::vector<std::int64_t> counts = global_winners(ranked, total);
  std::vector<std::int64_t> out;
  if (o.rounding == AdaRoundingKind::kNearest) {
    // Ada-KV: torch.round(c * (1 - alpha) + int(b * alpha)) on float32 tensors.
    const auto floor_capacity = static_cast<float>(static_cast<std::int64_t>(static_cast<double>(b) * alpha));
    for (std::int64_t c : counts) {
      const float v = static_cast<float>(c) * static_cast<float>(1.0 - alpha) + floor_capacity;
      out.push_back(std::clamp<std::int64_t>(static_cast<std::int64_t>(std::nearbyint(v)), 0, E));
    }
    return out;
  }
  std::vector<double> weights;
  for (std::int64_t c : counts) weights.push_back((1 - alpha) * static_cast<double>(c) + alpha * static_cast<double>(b));
  return proportional_allocation(weights, std::vector<std::int64_t>(H, E), total);
}

std::vector<std::int64_t> kvpress_ada_budgets(const at::Tensor& scores, std::int64_t b, std::int64_t safe) {
  const std::int64_t H = scores.size(0), E = scores.size(1);
  b = std::min(b, E);
  safe = std::clamp<std::int64_t>(safe, 0, b);
  at::Tensor pinned = scores;
  if (safe > 0)  // each head's own top first, as kvpress scatters finfo.max over them
    pinned = scores.scatter(1, top_k_indices(scores, safe), std::numeric_limits<float>::max());
  return global_winners(pinned, H * b);
}

std::int64_t kvpress_pyramid_budget(double x, std::int64_t prompt_len, std::int64_t window, std::int64_t L,
                                    std::int64_t layer, double beta) {
  // kvpress's own arithmetic, in double, step by step (max_capacity_prompt = w + x, then minus w again).
  const double w = static_cast<double>(window), T = static_cast<double>(prompt_len);
  const double capacity = w + x;
  double min_num = (capacity - w) / beta;
  double max_num = (capacity - w) * 2 - min_num;
  if (max_num >= T - w) {
    max_num = T - w;
    min_num = (capacity - w) * 2 - max_num;
  }
  if (!(T >= max_num && max_num >= min_num && min_num >= w)) return static_cast<std::int64_t>(std::nearbyint(x));
  const double steps = L > 1 ? (max_num - min_num) / static_cast<double>(L - 1) : 0.0;
  return static_cast<std::int64_t>(std::nearbyint(max_num - static_cast<double>(layer) * steps));
}

}  // namespace kvbench
