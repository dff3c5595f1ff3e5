#include "harness/engine/decode_eviction.h"

#include <algorithm>

#include "harness/common/error.h"
#include "policies/components.h"

namespace kvbench {

DecodeEvictor::DecodeEvictor(const DecodeBudget& budget, std::int64_t num_layers, double scale)
    : budget_(budget), scale_(scale), recent_queries_(num_layers), accumulated_(num_layers) {
  KV_CHECK(budget.budget >= 1, "decode.budget must be at least 1, got ", budget.budget);
  KV_CHECK(budget.every >= 1, "decode.every must be at least 1, got ", budget.every);
  KV_CHECK(budget.window >= 0, "the decode window must be >= 0, got ", budget.window);
}

namespace {
// Attention of queries [m, d] over head h's entries (softmax over them), summed over the queries: [n]. The
// prompt part and the decode tail are scored where they lie (only the logits are joined, not the keys).
at::Tensor attention_received(const at::Tensor& queries, const LayerCache& cache, std::int64_t h, double scale) {
  const auto& offsets = cache.prompt_offsets();
  const at::Tensor prompt = cache.prompt_keys().narrow(0, offsets[h], offsets[h + 1] - offsets[h]);
  at::Tensor logits = at::matmul(queries, prompt.transpose(0, 1));
  if (cache.tail_length() > 0)
    logits = at::cat({logits, at::matmul(queries, cache.tail_keys().select(0, h).transpose(0, 1))}, -1);
  return at::softmax(logits.to(at::kFloat) * scale, -1).sum(0);
}

// Head h's queries of a step's q [Hq, d]: its g = Hq / heads query heads (one per cache head of a per-query-head
// cache).
at::Tensor head_queries(const at::Tensor& q, const LayerCache& cache, std::int64_t h) {
  const std::int64_t group = q.size(0) / cache.num_heads();
  return q.narrow(0, h * group, group);
}
}  // namespace

void DecodeEvictor::observe(std::int64_t layer, const LayerCache& cache, const at::Tensor& q) {
  auto& recent = recent_queries_[static_cast<std::size_t>(layer)];
  if (budget_.window > 0) {
    recent.push_back(q);  // each step's q is a tensor of its own: kept, not copied
    if (static_cast<std::int64_t>(recent.size()) > budget_.window) recent.pop_front();
  }
  if (!budget_.accumulate) return;
  auto& acc = accumulated_[static_cast<std::size_t>(layer)];
  acc.resize(static_cast<std::size_t>(cache.num_heads()));
  for (std::int64_t h = 0; h < cache.num_heads(); ++h) {
    const at::Tensor received = attention_received(head_queries(q, cache, h), cache, h, scale_);
    at::Tensor& a = acc[static_cast<std::size_t>(h)];
    if (!a.defined()) a = at::zeros({0}, received.options());
    if (a.numel() < received.numel()) a = at::cat({a, at::zeros({received.numel() - a.numel()}, a.options())});
    a += received;
  }
}

at::Tensor DecodeEvictor::scores(std::int64_t layer, std::int64_t head, const LayerCache& cache,
                                 std::int64_t older) const {
  if (budget_.accumulate) return accumulated_[static_cast<std::size_t>(layer)][static_cast<std::size_t>(head)].narrow(0, 0, older);
  const auto& recent = recent_queries_[static_cast<std::size_t>(layer)];
  if (recent.empty()) return at::zeros({older}, at::kFloat);  // window 0: keep the oldest (a stable choice)
  std::vector<at::Tensor> group;
  for (const at::Tensor& q : recent) group.push_back(head_queries(q, cache, head));
  return attention_received(at::cat(group), cache, head, scale_).narrow(0, 0, older);
}

void DecodeEvictor::evict(std::int64_t layer, LayerCache& cache) {
  std::vector<at::Tensor> rows;
  const auto long_opts = at::TensorOptions().dtype(at::kLong);
  for (std::int64_t h = 0; h < cache.num_heads(); ++h) {
    const std::int64_t n = cache.entries(h);
    if (n <= budget_.budget) {
      rows.push_back(at::arange(n, long_opts));
      continue;
    }
    const std::int64_t recent = std::min(budget_.window, budget_.budget), older = n - recent;
    const at::Tensor s = scores(layer, h, cache, older).to(at::kCPU);
    const at::Tensor best = std::get<0>(top_k_indices(s, budget_.budget - recent).sort());
    rows.push_back(at::cat({best, at::arange(older, n, long_opts)}));
  }
  if (budget_.accumulate) {
    auto& acc = accumulated_[static_cast<std::size_t>(layer)];
    for (std::size_t h = 0; h < acc.size(); ++h) acc[h] = acc[h].index_select(0, rows[h].to(acc[h].device()));
  }
  cache.keep_entries(rows);
}

void DecodeEvictor::after_step(KvCache& cache) {
  ++steps_;
  peak_bytes_ = std::max(peak_bytes_, cache.bytes_used());
  for (std::size_t l = 0; l < cache.layers.size(); ++l) {
    LayerCache& layer = cache.layers[l];
    std::int64_t most = 0;
    for (std::int64_t h = 0; h < layer.num_heads(); ++h) most = std::max(most, layer.entries(h));
    max_entries_ = std::max(max_entries_, most);
    // A pass every `every` steps, and at once when a head is past budget + every (a prefill cache larger than
    // the decode budget), so no head ever holds more than budget + every entries after a step.
    const bool due = steps_ % budget_.every == 0 || most > budget_.budget + budget_.every;
    if (due && most > budget_.budget) {
      evict(static_cast<std::int64_t>(l), layer);
      ++passes_;
    }
  }
}

}  // namespace kvbench
