#include "harness/engine/batch_cache.h"

#include <algorithm>
#include <limits>
#include <numeric>

#include "harness/common/error.h"
#include "harness/device/transfer.h"

namespace kvbench {
namespace {
// Prompt slots a layer needs per head when padded: its largest head, plus decode entries so far.
std::int64_t padded_slots(const LayerCache& layer) {
  std::int64_t most = 0;
  for (std::int64_t h = 0; h < layer.num_heads(); ++h)
    most = std::max(most, layer.prompt_offsets()[h + 1] - layer.prompt_offsets()[h]);
  return most + layer.tail_length();
}
}  // namespace

BatchLayerCache::BatchLayerCache(const std::vector<const LayerCache*>& layers, std::int64_t capacity) {
  KV_CHECK(!layers.empty(), "internal error: an empty decode batch");
  const std::int64_t B = static_cast<std::int64_t>(layers.size()), H = layers[0]->num_heads();
  const at::Tensor& like = layers[0]->prompt_keys();
  const std::int64_t d = like.size(1);
  std::int64_t slots = 0;
  for (const LayerCache* l : layers) {
    KV_CHECK(l->num_heads() == H, "internal error: batched caches with different head counts");
    slots = std::max(slots, padded_slots(*l));
  }
  const std::int64_t S = slots + capacity;
  keys_ = at::zeros({B, H, S, d}, like.options());
  values_ = at::zeros({B, H, S, d}, like.options());
  bias_ = at::full({B, H, 1, S}, -std::numeric_limits<float>::infinity(), like.options().dtype(at::kFloat));
  for (std::int64_t b = 0; b < B; ++b) {
    const LayerCache& l = *layers[b];
    // Entry i of the flat prompt part goes to slot i - offsets[head] of its head.
    const at::Tensor offsets = device_longs(l.prompt_offsets(), like.device());
    const at::Tensor heads = l.prompt_heads();
    const at::Tensor slot = at::arange(heads.numel(), heads.options()) - offsets.index_select(0, heads);
    keys_[b].index_put_({heads, slot}, l.prompt_keys());
    values_[b].index_put_({heads, slot}, l.prompt_values());
    bias_[b].select(1, 0).index_put_({heads, slot}, 0.0);
    // Decode entries so far go after the largest head's prompt entries (any slot order is fine: attention
    // does not depend on where an entry sits, only on its mask).
    const std::int64_t t = l.tail_length(), start = slots - t;
    if (t > 0) {
      keys_[b].narrow(1, start, t).copy_(l.tail_keys());
      values_[b].narrow(1, start, t).copy_(l.tail_values());
      bias_[b].narrow(2, start, t).fill_(0.0);
    }
  }
  next_ = slots;
}

void BatchLayerCache::append(const at::Tensor& k, const at::Tensor& v) {
  KV_CHECK(next_ < keys_.size(2), "internal error: the decode batch is full");
  const std::int64_t B = k.size(0), Hkv = k.size(1), group = keys_.size(1) / Hkv;  // per-query-head caches repeat
  keys_.select(2, next_).view({B, Hkv, group, -1}).copy_(k.unsqueeze(2));
  values_.select(2, next_).view({B, Hkv, group, -1}).copy_(v.unsqueeze(2));
  bias_.select(3, next_).fill_(0.0);
  ++next_;
}

at::Tensor BatchLayerCache::attend(const at::Tensor& q, double scale) const {
  const std::int64_t B = q.size(0), Hq = q.size(1), d = q.size(2), H = keys_.size(1), g = Hq / H;
  const at::Tensor qg = q.reshape({B, H, g, d});
  const at::Tensor scores = at::matmul(qg, keys_.transpose(2, 3)).to(at::kFloat).mul_(scale).add_(bias_);
  const at::Tensor probs = at::softmax(scores, -1).to(q.scalar_type());  // [B, H, g, S]
  return at::matmul(probs, values_).reshape({B, Hq * d});
}

std::int64_t cache_heads(const KvCache& cache) { return cache.layers.empty() ? 0 : cache.layers[0].num_heads(); }

std::vector<std::vector<std::size_t>> plan_decode_batches(const std::vector<const KvCache*>& caches) {
  // Size of a cache when padded: the sum over layers of its largest head, times its heads.
  std::vector<std::int64_t> size(caches.size(), 0);
  for (std::size_t i = 0; i < caches.size(); ++i)
    for (const auto& layer : caches[i]->layers) size[i] += padded_slots(layer) * layer.num_heads();
  std::vector<std::size_t> order(caches.size());
  std::iota(order.begin(), order.end(), 0);
  // Per-KV-head and per-query-head caches never share a batch (their heads differ); within each, by size.
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    const std::int64_t ha = cache_heads(*caches[a]), hb = cache_heads(*caches[b]);
    return ha != hb ? ha < hb : size[a] < size[b];
  });

  std::vector<std::vector<std::size_t>> groups;
  std::int64_t held = 0;
  for (std::size_t i : order) {
    // Sorted ascending, so the newcomer is the group's largest: padding costs members x its size.
    const bool fits = !groups.empty() && cache_heads(*caches[groups.back().front()]) == cache_heads(*caches[i]) &&
                      static_cast<std::int64_t>(groups.back().size() + 1) * size[i] <= 2 * (held + size[i]);
    if (!fits) {
      groups.emplace_back();
      held = 0;
    }
    groups.back().push_back(i);
    held += size[i];
  }
  for (auto& g : groups) std::sort(g.begin(), g.end());
  return groups;
}

}  // namespace kvbench
