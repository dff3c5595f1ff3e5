// Selectors: which positions fill each head's budget.
#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

#include "harness/common/error.h"
#include "policies/components.h"
#include "harness/device/transfer.h"
#include "harness/device/stage_profile.h"

namespace kvbench {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

}  // namespace

namespace {
thread_local LayerMemo* rank_memo = nullptr;  // set by RankMemoScope

// The key of `t`'s ranking when `t` is (a view of) a tensor of the memo, else "". Memo tensors are read-only
// once stored and the memo keeps their storage alive, so the storage's address and the view's geometry name
// the values for as long as the memo lives.
std::string ranking_key(const LayerMemo& memo, const at::Tensor& t) {
  if (!t.has_storage()) return "";
  const bool memoized = std::any_of(memo.tensors.begin(), memo.tensors.end(), [&](const auto& entry) {
    return entry.second.has_storage() && entry.second.storage().is_alias_of(t.storage());
  });
  if (!memoized) return "";
  std::ostringstream key;
  key << "rank@" << t.storage().data() << '+' << t.storage_offset() << ':' << t.sizes() << ':' << t.strides() << ':'
      << t.scalar_type();
  return key.str();
}
}  // namespace

RankMemoScope::RankMemoScope(LayerMemo* memo) : previous_(rank_memo) { rank_memo = memo; }
RankMemoScope::~RankMemoScope() { rank_memo = previous_; }

at::Tensor rank_descending(const at::Tensor& scores) {
  const auto sort = [&] { return std::get<1>(scores.sort(/*stable=*/true, /*dim=*/-1, /*descending=*/true)); };
  const std::string key = rank_memo != nullptr ? ranking_key(*rank_memo, scores) : "";
  if (key.empty()) return sort();
  auto it = rank_memo->tensors.find(key);
  if (it == rank_memo->tensors.end()) it = rank_memo->tensors.emplace(key, sort()).first;
  return it->second;
}

at::Tensor top_k_indices(const at::Tensor& scores, std::int64_t k) { return rank_descending(scores).narrow(-1, 0, k); }

std::vector<at::Tensor> select_top(const at::Tensor& scores, const std::vector<std::int64_t>& budgets) {
  const std::int64_t H = scores.size(0);
  const std::int64_t most = *std::max_element(budgets.begin(), budgets.end());
  if (most == 0) return std::vector<at::Tensor>(H, at::empty({0}, scores.options().dtype(at::kLong)));
  // One top-k over every head, then one sort of the kept positions (per head, ascending).
  const at::Tensor order = top_k_indices(scores, most);  // [H, most], best first
  if (std::all_of(budgets.begin(), budgets.end(), [&](std::int64_t b) { return b == most; }))
    return std::get<0>(order.sort(1)).unbind(0);
  // Ragged: drop each head's entries past its budget, sort the rest by (head, position).
  const at::Tensor rank = at::arange(most, order.options()).unsqueeze(0);
  const at::Tensor limit = device_longs(budgets, order.device()).unsqueeze(1);
  const std::int64_t E = scores.size(1);
  const at::Tensor head = at::arange(H, order.options()).unsqueeze(1).expand({H, most});
  const at::Tensor keys = std::get<0>((head * E + order).masked_select(rank < limit).sort());
  return (keys.remainder(E)).split_with_sizes(budgets);
}

void validate(const KvecConfig& c) {
  KV_CHECK(c.rho >= 0 && c.rho <= 1, "rho must be in [0, 1]");
  KV_CHECK(c.lambda >= 0 && c.gamma >= 0, "lambda and gamma must be >= 0");
  parse_kind<KvecNormalization>(c.normalization);
  parse_kind<KvecUnit>(c.unit);
  parse_kind<KvecRhoMode>(c.rho_mode);
  KV_CHECK(c.band == 0 || c.band >= 1, "band must be 0 (no limit) or >= 1, got ", c.band);
}

namespace {
// rho_mode agreement: rho times the overlap of the heads' top-b sets, 1 - |union| / sum of budgets (0 when
// every head's top is its own, (H - 1) / H when all heads keep the same positions). One host read per layer.
double agreement_rho(const at::Tensor& rank_desc, const std::vector<std::int64_t>& budgets, double rho) {
  std::int64_t total = 0;
  for (std::int64_t b : budgets) total += b;
  if (total == 0) return 0;
  const at::Tensor top = rank_desc < device_longs(budgets, rank_desc.device()).unsqueeze(1);  // [H, E]
  const auto distinct = top.any(0).sum().item<std::int64_t>();
  return rho * (1.0 - static_cast<double>(distinct) / static_cast<double>(total));
}

// K-VEC's coverage slots of one layer: each head's open slots (`open` [H], on the device) and the positions it
// has taken so far (`kept` [H, E], updated in place).
struct CoverageSlots {
  const at::Tensor& priority;  ///< [H, E]
  at::Tensor& kept;
  at::Tensor open;
  std::int64_t most_slots;
  bool slots_open = most_slots > 0;  ///< as of the last host read
  const at::Tensor slot_rank = at::arange(std::max<std::int64_t>(most_slots, 1), open.options()).unsqueeze(0);

  bool any_open() const { return slots_open; }

  // Each head takes up to its open slots from the positions `allowed` [H, E] marks, best priority first.
  void fill(const at::Tensor& allowed) {
    const at::Tensor candidates = priority.masked_fill(allowed.logical_not(), kNegInf);
    const at::Tensor where = top_k_indices(candidates, most_slots);
    const at::Tensor values = candidates.gather(1, where);
    const at::Tensor taken = (values > kNegInf).logical_and(slot_rank < open.unsqueeze(1));
    kept.logical_or_(at::zeros_like(kept).scatter_(1, where, taken));
    open = open - taken.sum(1);
  }

  // Rounds: every candidate goes to the head with open slots that values it most (among the heads whose band,
  // when given, holds it); each head takes its best assigned candidates. A round either fills some head or uses
  // up every eligible candidate, so at most H rounds (typically one) and one host read per round. No candidate
  // is given to two heads.
  void cross_head_rounds(at::Tensor candidates, const at::Tensor& in_band) {
    const std::int64_t H = kept.size(0);
    const at::Tensor heads = at::arange(H, open.options()).unsqueeze(1);
    auto eligible_now = [&] {  // uncovered, unkept, the head has open slots (and holds it in its band)
      at::Tensor e = candidates.unsqueeze(0).logical_and((open > 0).unsqueeze(1));  // [H, E]
      return in_band.defined() ? e.logical_and(in_band) : e;
    };
    at::Tensor eligible = eligible_now();
    for (std::int64_t round = 0; round < H; ++round) {
      const auto [best, owner] = priority.masked_fill(eligible.logical_not(), kNegInf).max(0);
      fill(eligible.logical_and(owner.unsqueeze(0) == heads));
      candidates = candidates.logical_and(kept.any(0).logical_not());
      eligible = eligible_now();
      const at::Tensor left = at::stack({(open > 0).any(), eligible.any()}).to(at::kCPU);  // one read
      slots_open = left[0].item<bool>();
      if (!slots_open || !left[1].item<bool>()) break;
    }
  }
};
}  // namespace

std::vector<at::Tensor> select_kvec(const at::Tensor& scores, const std::vector<std::int64_t>& budgets,
                                    const at::Tensor& token_ids, const KvecConfig& c, KvecState& state) {
  validate(c);
  const std::int64_t H = scores.size(0), E = scores.size(1);
  const auto dev = scores.device();
  const auto long_opts = at::TensorOptions().dtype(at::kLong).device(dev);
  const at::Tensor positions = at::arange(E, long_opts);
  for (std::int64_t b : budgets)
    KV_CHECK(b >= 0 && b <= E, "internal error: K-VEC head budget ", b, " outside [0, ", E, "]");

  StageClock clock(dev);
  // One descending sort serves both the core (top ranks) and the rank normalization.
  const at::Tensor order = rank_descending(scores);
  const at::Tensor rank_desc = at::empty({H, E}, long_opts).scatter_(1, order, positions.expand({H, E}));

  // 1. Normalized scores: percentile rank within the head (E - 1 for the best), or share of the head's total.
  at::Tensor normalized;
  if (parse_kind<KvecNormalization>(c.normalization) == KvecNormalization::kRank) {
    normalized = (E - 1 - rank_desc).to(at::kFloat) / static_cast<double>(std::max<std::int64_t>(E - 1, 1));
  } else {
    const at::Tensor shifted = scores - std::get<0>(scores.min(1, true));  // non-negative
    normalized = shifted / shifted.sum(1, true).clamp_min(1e-30);
  }

  // 2. Core: each head's top b - floor(rho b) by its own score (heads may share core tokens).
  const double rho = parse_kind<KvecRhoMode>(c.rho_mode) == KvecRhoMode::kAgreement
                         ? agreement_rho(rank_desc, budgets, c.rho)
                         : c.rho;
  std::vector<std::int64_t> core_size, coverage_slots;
  for (std::int64_t b : budgets) {
    const auto slots = static_cast<std::int64_t>(std::floor(rho * static_cast<double>(b)));
    coverage_slots.push_back(slots);
    core_size.push_back(b - slots);
  }
  const std::int64_t most_slots = *std::max_element(coverage_slots.begin(), coverage_slots.end());
  at::Tensor kept = rank_desc < device_longs(core_size, dev).unsqueeze(1);  // [H, E]

  // 3. Covered set: positions some core keeps (token_id unit: any position whose token id a core keeps).
  at::Tensor covered = kept.any(0);
  if (parse_kind<KvecUnit>(c.unit) == KvecUnit::kTokenId) {
    const at::Tensor ids = token_ids.narrow(0, 0, E).to(dev);
    covered = at::isin(ids, ids.masked_select(covered));
  }

  // 4. Priority: normalized score damped by how often earlier layers kept the position.
  at::Tensor priority = normalized;
  if (c.cross_layer && state.counts.defined()) priority = normalized / (1.0 + c.lambda * state.counts.unsqueeze(0));

  clock.lap("kvec: rank, core, priority");
  // 5. Coverage slots: cross-head rounds, then (without the module, or once candidates run out) each head's
  // next best positions by priority.
  CoverageSlots slots{priority, kept, device_longs(coverage_slots, dev), most_slots};
  if (slots.any_open() && c.cross_head) {
    at::Tensor in_band;  // band: head h may take only positions it ranks within its top ceil(band b(h))
    if (c.band > 0) {
      std::vector<std::int64_t> band_size;
      for (std::int64_t b : budgets) band_size.push_back(static_cast<std::int64_t>(std::ceil(c.band * static_cast<double>(b))));
      in_band = rank_desc < device_longs(band_size, dev).unsqueeze(1);
    }
    slots.cross_head_rounds(covered.logical_not(), in_band);
  }
  clock.lap("kvec: coverage rounds");
  if (slots.any_open()) slots.fill(kept.logical_not());

  clock.lap("kvec: next-best fill");
  // 6. Cross-layer counts for the next layer.
  const at::Tensor kept_any = kept.any(0).to(at::kFloat);
  state.counts = state.counts.defined() ? c.gamma * state.counts + kept_any : kept_any;

  // Each head keeps exactly its budget: its kept positions come first when sorting kept-before-evicted,
  // ascending by position within each group, with no host read.
  const at::Tensor sorted = std::get<0>(at::where(kept, positions, positions + E).sort(1));
  std::vector<at::Tensor> heads;
  for (std::int64_t h = 0; h < H; ++h) heads.push_back(sorted[h].narrow(0, 0, budgets[h]));
  clock.lap("kvec: counts, positions");
  return heads;
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
