// Selectors: which positions fill each head's budget.
#include <algorithm>
#include <cmath>
#include <limits>

#include "harness/common/error.h"
#include "policies/components.h"

namespace kvbench {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// The positions of the `k` largest entries of `values` [E] that are > -inf (fewer if not enough).
at::Tensor top_finite(const at::Tensor& values, std::int64_t k) {
  if (k <= 0) return at::empty({0}, values.options().dtype(at::kLong));
  const auto [v, i] = values.topk(std::min<std::int64_t>(k, values.numel()));
  return i.masked_select(v > kNegInf);
}

}  // namespace

std::vector<at::Tensor> select_top(const at::Tensor& scores, const std::vector<std::int64_t>& budgets) {
  const std::int64_t H = scores.size(0);
  const std::int64_t most = *std::max_element(budgets.begin(), budgets.end());
  if (most == 0) return std::vector<at::Tensor>(H, at::empty({0}, scores.options().dtype(at::kLong)));
  // One top-k over every head, then one sort of the kept positions (per head, ascending).
  const at::Tensor order = std::get<1>(scores.topk(most, 1));  // [H, most], best first
  if (std::all_of(budgets.begin(), budgets.end(), [&](std::int64_t b) { return b == most; }))
    return std::get<0>(order.sort(1)).unbind(0);
  // Ragged: drop each head's entries past its budget, sort the rest by (head, position).
  const at::Tensor rank = at::arange(most, order.options()).unsqueeze(0);
  const at::Tensor limit = at::tensor(budgets, at::kLong).to(order.device()).unsqueeze(1);
  const std::int64_t E = scores.size(1);
  const at::Tensor head = at::arange(H, order.options()).unsqueeze(1).expand({H, most});
  const at::Tensor keys = std::get<0>((head * E + order).masked_select(rank < limit).sort());
  return (keys.remainder(E)).split_with_sizes(budgets);
}

std::vector<at::Tensor> select_kvec(const at::Tensor& scores, const std::vector<std::int64_t>& budgets,
                                    const at::Tensor& token_ids, const KvecConfig& c, KvecState& state) {
  const std::int64_t H = scores.size(0), E = scores.size(1);
  const auto dev = scores.device();
  const auto long_opts = at::TensorOptions().dtype(at::kLong).device(dev);

  // One descending sort serves both the core (top ranks) and the rank normalization.
  const at::Tensor order = scores.argsort(/*dim=*/1, /*descending=*/true);
  const at::Tensor rank_desc = at::empty({H, E}, long_opts).scatter_(1, order, at::arange(E, long_opts).expand({H, E}));

  // 1. Normalized scores: percentile rank within the head (E - 1 for the best), or share of the head's total.
  at::Tensor normalized;
  if (c.normalization == "rank") {
    normalized = (E - 1 - rank_desc).to(at::kFloat) / static_cast<double>(std::max<std::int64_t>(E - 1, 1));
  } else if (c.normalization == "sum") {
    const at::Tensor shifted = scores - std::get<0>(scores.min(1, true));  // non-negative
    normalized = shifted / shifted.sum(1, true).clamp_min(1e-30);
  } else {
    fail("K-VEC normalization must be rank or sum, got '", c.normalization, "'");
  }

  // 2. Core: each head's top b - floor(rho b) by its own score (heads may share core tokens).
  std::vector<std::int64_t> core_size, coverage_slots;
  for (std::int64_t b : budgets) {
    const auto slots = static_cast<std::int64_t>(std::floor(c.rho * static_cast<double>(b)));
    coverage_slots.push_back(slots);
    core_size.push_back(b - slots);
  }
  at::Tensor kept = rank_desc < at::tensor(core_size, at::kLong).to(dev).unsqueeze(1);

  // 3. Covered set: positions some core keeps (token_id unit: any position whose token id a core keeps).
  at::Tensor covered = kept.any(0);
  if (c.unit == "token_id") {
    const at::Tensor ids = token_ids.narrow(0, 0, E).to(dev);
    covered = at::isin(ids, ids.masked_select(covered));
  } else {
    KV_CHECK(c.unit == "position", "K-VEC unit must be position or token_id, got '", c.unit, "'");
  }

  // 4. Priority: normalized score damped by how often earlier layers kept the position.
  at::Tensor priority = normalized;
  if (c.cross_layer && state.counts.defined()) priority = normalized / (1.0 + c.lambda * state.counts.unsqueeze(0));

  // 5. Coverage slots.
  if (c.cross_head) {
    at::Tensor candidates = covered.logical_not();
    // Each candidate goes to the head that values it most; each head takes its best assigned candidates.
    // All heads at once: a head's top slots among the candidates it owns.
    const at::Tensor owner = std::get<1>(priority.masked_fill(candidates.logical_not().unsqueeze(0), kNegInf).max(0));
    const at::Tensor mine = candidates.unsqueeze(0).logical_and(
        owner.unsqueeze(0) == at::arange(H, long_opts).unsqueeze(1));  // [H, E]
    const std::int64_t most = *std::max_element(coverage_slots.begin(), coverage_slots.end());
    if (most > 0) {
      const auto [values, where] = priority.masked_fill(mine.logical_not(), kNegInf).topk(most, 1);
      const at::Tensor slots = at::tensor(coverage_slots, at::kLong).to(dev).unsqueeze(1);
      const at::Tensor valid = (values > kNegInf).logical_and(at::arange(most, long_opts).unsqueeze(0) < slots);
      kept.logical_or_(at::zeros_like(kept).scatter_(1, where, valid));
      // One host read per layer: how many slots each head still has to fill.
      const std::vector<std::int64_t> filled = [&] {
        const at::Tensor c = valid.sum(1).to(at::kCPU);
        return std::vector<std::int64_t>(c.data_ptr<std::int64_t>(), c.data_ptr<std::int64_t>() + H);
      }();
      for (std::int64_t h = 0; h < H; ++h) coverage_slots[h] -= filled[h];
    }
    candidates = candidates.logical_and(kept.any(0).logical_not());
    // Slots left empty: still-unkept candidates by the head's own priority, one head after another so that
    // no candidate goes to two heads; when candidates run out, the head's next best positions.
    for (std::int64_t h = 0; h < H; ++h) {
      if (coverage_slots[h] <= 0) continue;
      const at::Tensor take = top_finite(priority[h].masked_fill(candidates.logical_not(), kNegInf), coverage_slots[h]);
      kept[h].index_fill_(0, take, true);
      candidates.index_fill_(0, take, false);
      coverage_slots[h] -= take.numel();
      if (coverage_slots[h] > 0) {
        const at::Tensor more = top_finite(priority[h].masked_fill(kept[h], kNegInf), coverage_slots[h]);
        kept[h].index_fill_(0, more, true);
      }
    }
  } else {
    for (std::int64_t h = 0; h < H; ++h) {
      const at::Tensor take = top_finite(priority[h].masked_fill(kept[h], kNegInf), coverage_slots[h]);
      kept[h].index_fill_(0, take, true);
    }
  }

  // 6. Cross-layer counts for the next layer.
  const at::Tensor kept_any = kept.any(0).to(at::kFloat);
  state.counts = state.counts.defined() ? c.gamma * state.counts + kept_any : kept_any;

  // Each head's kept positions, ascending: nonzero() lists them head by head.
  const at::Tensor counts = kept.sum(1).to(at::kCPU);
  const at::Tensor positions = kept.nonzero().select(1, 1);
  return positions.split_with_sizes(std::vector<std::int64_t>(counts.data_ptr<std::int64_t>(), counts.data_ptr<std::int64_t>() + H));
}

KeptPositions with_window(const std::vector<at::Tensor>& per_head, std::int64_t evictable, std::int64_t prompt_len) {
  KV_CHECK(!per_head.empty(), "internal error: no heads");
  const std::int64_t H = static_cast<std::int64_t>(per_head.size());
  const at::Tensor window = at::arange(evictable, prompt_len, per_head[0].options().dtype(at::kLong));
  bool uniform = true;
  for (const auto& p : per_head) uniform = uniform && p.numel() == per_head[0].numel();
  if (uniform) return KeptPositions::uniform(at::cat({at::stack(per_head), window.unsqueeze(0).expand({H, window.numel()})}, 1));
  std::vector<at::Tensor> heads;
  for (const auto& p : per_head) heads.push_back(at::cat({p, window}));
  return KeptPositions::ragged(heads);
}

}  // namespace kvbench
